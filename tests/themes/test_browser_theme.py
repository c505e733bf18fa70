"""Chromium: an org admin changes the primary colour and uploads a logo, sees the preview change without a reload,
publishes, and a member's next page shows the new colour (computed style) and the logo; the other org is unchanged;
?safe_mode=1 drops the theme; the CSP never allows inline scripts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, OrgFactory, member

from .conftest import image_bytes

pytestmark = pytest.mark.browser

RED = "rgb(170, 0, 0)"


def log_in(page, live_server, email: str) -> None:
    page.goto(live_server("/login"))
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def watched(pg):
    """A page whose JS errors and CSP violations are collected on pg.errors, like the `page` fixture's."""
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.on("console", lambda msg: pg.errors.append(msg.text) if msg.type == "error" and not msg.text.startswith("Failed to load") else None)
    return pg


def link_colour(page) -> str:
    return page.locator("main a").first.evaluate("a => getComputedStyle(a).color")


def test_admin_previews_publishes_and_a_member_sees_the_new_colour_and_logo(app, page, new_context, live_server, screenshot, tmp_path):
    org = OrgFactory(name="Acme", slug="acme")
    other = OrgFactory(name="Bravo", slug="bravo")
    member(org, "org_admin", email="ada@acme.test")
    member(org, "user", email="uma@acme.test")
    member(other, "user", email="bo@bravo.test")
    logo = tmp_path / "logo.png"
    logo.write_bytes(image_bytes("PNG", (160, 48), (170, 0, 0)))

    log_in(page, live_server, "ada@acme.test")
    response = page.goto(live_server("/o/acme/settings/theme"))
    assert "'unsafe-inline'" not in response.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    button = page.locator(".theme-preview:not(.theme-preview-dark) .preview-primary")
    before = button.evaluate("b => getComputedStyle(b).backgroundColor")
    page.evaluate("window.noReload = true")
    page.locator("#primary").fill("#aa0000")
    expect(page.locator("link[data-preview-css]")).to_have_attribute("href", re.compile("primary=%23aa0000"))
    expect(button).to_have_css("background-color", RED)
    assert before != RED and page.evaluate("window.noReload") is True  # swapped by htmx, not reloaded
    screenshot(page, "themes-01-editor-preview")

    page.locator("#save-draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    page.locator("#variant").select_option("logo_light")
    page.locator("#file").set_input_files(str(logo))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Logo (light mode) uploaded (160×48)")).to_be_visible()
    page.locator("#publish").click()
    expect(page.get_by_text("Published: members see the new theme")).to_be_visible()
    screenshot(page, "themes-02-editor-published")

    reader = watched(new_context().new_page())
    log_in(reader, live_server, "uma@acme.test")
    reader.goto(live_server("/o/acme/"))
    expect(reader.locator("#theme-css")).to_have_count(1)
    assert link_colour(reader) == RED
    nav_logo = reader.locator(".brand-logo img.logo-light")
    expect(nav_logo).to_be_visible()
    assert nav_logo.evaluate("img => img.naturalWidth") == 160
    screenshot(reader, "themes-03-member-dashboard-themed")

    reader.goto(live_server("/o/acme/?safe_mode=1"))
    expect(reader.locator("#safe-mode")).to_be_visible()
    assert link_colour(reader) != RED and reader.locator("#theme-css").count() == 0
    reader.goto(live_server("/o/acme/?safe_mode=0"))
    assert link_colour(reader) == RED

    outsider = watched(new_context().new_page())
    log_in(outsider, live_server, "bo@bravo.test")
    outsider.goto(live_server("/o/bravo/"))
    assert outsider.locator("#theme-css").count() == 0 and link_colour(outsider) != RED
    assert page.errors == [] and reader.errors == [] and outsider.errors == []
