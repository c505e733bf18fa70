"""What a person sees in Chromium: the create dialog shows the key once and its Copy button copies it;
the key page draws the usage chart; rotate asks for confirmation. No CSP violation on the way."""

from __future__ import annotations

import re

import pytest

from portal.keys import tasks
from tests.factories import OrgFactory, member

KEY = re.compile(r"^vtr_[0-9A-Za-z]{36}$")


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def org(app):
    return OrgFactory(slug="keys-org", name="Keys Org")


@pytest.fixture
def admin(org):
    return member(org, "org_admin", email="admin@keys.test")


def create_in_dialog(pg, name: str) -> str:
    from playwright.sync_api import expect

    pg.get_by_role("button", name="New key").click()
    dialog = pg.locator("dialog#key-dialog")
    expect(dialog.get_by_role("heading", name="New API key")).to_be_visible()
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("write: create and update").check()
    dialog.get_by_role("button", name="Create key").click()
    expect(pg.locator("#new-key-value")).to_have_value(KEY)
    return pg.locator("#new-key-value").input_value()


def test_create_a_key_copy_it_then_see_it_masked_and_its_usage(app, client, page, live_server, log_in, screenshot, org, admin):
    from playwright.sync_api import expect

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/keys"))
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    secret = create_in_dialog(page, "Browser-made key")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    expect(page.locator("#keys-table")).to_contain_text("Browser-made key")  # swapped in behind the dialog

    for _ in range(4):
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    tasks.flush_usage()
    page.get_by_role("button", name="Done").click()
    expect(page.locator("#keys-table")).to_contain_text(f"{secret[:10]}…{secret[-4:]}")
    # The dialog leaves the page on its close event (a task after the click): focus on the new key says it is done.
    expect(page.get_by_role("link", name="Browser-made key")).to_be_focused()
    assert secret not in page.content()
    page.get_by_role("link", name="Browser-made key").click()
    expect(page.locator("figure.usage-chart > svg rect[fill='#2e7d32']")).to_have_count(1)
    expect(page.locator("#key-details")).to_contain_text("127.0.0.1")

    page.get_by_role("button", name="Rotate key").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Rotate key").click()  # hx-confirm, asked in the modal
    expect(page.locator("dialog#key-dialog")).to_contain_text("Key rotated")
    new_secret = page.locator("#new-key-value").input_value()
    assert new_secret != secret and client.get("/api/v1/me", headers=bearer(new_secret)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200  # the default grace: one hour
    assert page.errors == []

    # Screenshots last: a full-page screenshot leaves an empty style attribute that a later htmx swap
    # copies, which the CSP reports as a violation the portal itself never causes.
    page.goto(live_server(f"/o/{org.slug}/keys"))
    page.get_by_role("button", name="New key").click()
    page.locator("dialog#key-dialog").get_by_label("Name").fill("Nightly export")
    screenshot(page, "keys-create-dialog")
    page.goto(live_server(f"/o/{org.slug}/keys"))
    create_in_dialog(page, "Screenshot key")
    screenshot(page, "keys-created-dialog")
    page.goto(live_server(f"/o/{org.slug}/keys"))
    screenshot(page, "keys-list")
    page.get_by_role("link", name="Browser-made key").click()
    screenshot(page, "keys-key-page")
