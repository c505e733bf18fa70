"""The new key's secret is shown once in a modal, like GitHub or Unkey: focus moves in, Copy puts the key on the
clipboard and says "Copied", the page behind is out of reach, and Done closes it, takes the secret off the page
and puts focus on the new key in the list. Without JS the same secret is a page section with a Done link."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.fixtures import SCREENSHOTS
from tests.factories import PASSWORD, OrgFactory, member

KEY = re.compile(r"^vtr_[0-9A-Za-z]{36}$")


@pytest.fixture
def org(app):
    return OrgFactory(slug="modal-org", name="Modal Org")


@pytest.fixture
def admin(org):
    return member(org, "org_admin", email="admin@modal.test")


def open_created_modal(pg, name: str):
    pg.get_by_role("button", name="New key").click()
    form = pg.locator("dialog#key-dialog")
    form.get_by_label("Name").fill(name)
    form.get_by_role("button", name="Create key").click()
    modal = pg.get_by_role("dialog", name="Key created")
    expect(modal).to_be_visible()
    return modal


def test_the_secret_modal_takes_focus_copies_and_done_returns_to_the_list(page, live_server, log_in, org, admin):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/keys"))
    modal = open_created_modal(page, "Deploy bot")

    expect(modal).to_contain_text("You won't see this key again.")
    assert page.evaluate("document.querySelector('dialog#key-dialog').matches(':modal')")  # the page behind is inert
    copy = modal.get_by_role("button", name="Copy")
    expect(copy).to_be_focused()
    secret = modal.get_by_label("Deploy bot").input_value()
    assert KEY.match(secret)
    page.keyboard.press("Tab")
    expect(modal.get_by_role("button", name="Done")).to_be_focused()
    for _ in range(3):  # past the last control focus cycles inside the modal (or out to the browser's own UI)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement === document.body"
                             " || document.querySelector('dialog#key-dialog').contains(document.activeElement)")

    copy.focus()
    page.keyboard.press("Enter")
    expect(modal.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    modal.get_by_role("button", name="Done").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    row = page.locator("#keys-table tr", has_text="Deploy bot")
    expect(row).to_contain_text(f"{secret[:10]}…{secret[-4:]}")
    expect(row.get_by_role("link", name="Deploy bot")).to_be_focused()
    expect(row.locator("time").first).to_have_text("just now")
    assert secret not in page.content()

    page.get_by_role("button", name="New key").click()  # the dialog slot works again after Done
    form = page.get_by_role("dialog", name="New API key")
    form.get_by_role("button", name="Create key").click()  # no name: the form comes back, still a modal
    expect(form.locator("#name-error")).to_be_visible()
    assert page.evaluate("document.querySelector('dialog#key-dialog').matches(':modal')")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("button", name="New key")).to_be_focused()
    assert page.errors == []

    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(live_server(f"/o/{org.slug}/keys"))
        open_created_modal(page, f"Screenshot key {width}")
        # The viewport, not the full page: a modal covers what a person sees, not the page's whole length.
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"keys-secret-modal-{width}.png"), animations="disabled")


def test_esc_closes_the_secret_modal_like_done(page, live_server, log_in, org, admin):
    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/keys"))
    modal = open_created_modal(page, "Esc key")
    secret = modal.get_by_label("Esc key").input_value()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("#keys-table").get_by_role("link", name="Esc key")).to_be_focused()
    assert secret not in page.content()


def test_without_javascript_the_secret_is_a_page_section_with_done(browser, live_server, org, admin):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800})
    try:
        pg = context.new_page()
        pg.goto(live_server("/login"))
        pg.get_by_label("Email", exact=True).fill(admin.email)
        pg.get_by_label("Password", exact=True).fill(PASSWORD)
        pg.get_by_role("button", name="Log in").click()
        pg.goto(live_server(f"/o/{org.slug}/keys"))
        pg.get_by_role("button", name="New key").click()  # a link styled as a button: /keys/new
        pg.get_by_label("Name").fill("No-JS key")
        pg.get_by_role("button", name="Create key").click()
        expect(pg.get_by_role("heading", name="Key created")).to_be_visible()
        expect(pg.get_by_text("You won't see this key again.")).to_be_visible()
        secret = pg.get_by_label("No-JS key").input_value()
        assert KEY.match(secret)
        pg.get_by_role("button", name="Done").click()
        expect(pg).to_have_url(live_server(f"/o/{org.slug}/keys"))
        expect(pg.locator("#keys-table")).to_contain_text("No-JS key")
        assert secret not in pg.content()
    finally:
        context.close()
