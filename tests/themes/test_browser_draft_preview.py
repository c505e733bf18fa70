"""Chromium at 390 px: an org admin turns the draft preview on from the theme editor, lands on the dashboard in the
draft's primary colour under the preview banner (its controls show a focus ring, it fits the phone), a member
still sees the published colour, and "Stop previewing" brings the published look back and says so."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.themes import service
from tests.factories import OrgFactory, member

from .test_browser_color_scheme import PHONE
from .test_draft_preview import BANNER, DRAFT, PUBLISHED

pytestmark = pytest.mark.browser


def primary(pg) -> str:
    """The page's theme primary colour, as its stylesheet sets it."""
    return pg.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--portal-primary').trim()")


def test_admin_previews_the_draft_on_the_dashboard_and_stops(app, page, new_context, live_server, log_in, screenshot):
    service.clear_cache()
    org = OrgFactory(name="Acme", slug="acme")
    admin = member(org, "org_admin", email="ada@acme.test")
    member(org, "user", email="uma@acme.test")
    service.update_draft(org, {"primary": PUBLISHED}, by=admin)
    service.publish(org, by=admin)
    service.update_draft(org, {"primary": DRAFT}, by=admin)
    db.session.commit()

    page.set_viewport_size(PHONE)
    log_in(page, "ada@acme.test")
    page.goto(live_server("/o/acme/settings/theme"))
    assert primary(page) == PUBLISHED
    page.get_by_role("button", name="Preview the draft on the real pages").click()
    expect(page).to_have_url(live_server("/o/acme/"))
    banner = page.get_by_role("status").filter(has_text=BANNER)
    expect(banner).to_be_visible()
    assert primary(page) == DRAFT
    box = banner.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    banner.get_by_role("link", name="Back to the editor").focus()
    page.keyboard.press("Tab")  # by keyboard, so :focus-visible applies
    stop = banner.get_by_role("button", name="Stop previewing")
    expect(stop).to_be_focused()
    assert stop.evaluate("b => getComputedStyle(b).outlineStyle") != "none"
    screenshot(page, "themes-draft-preview-390")

    reader = new_context().new_page()
    log_in(reader, "uma@acme.test")
    reader.goto(live_server("/o/acme/"))
    assert primary(reader) == PUBLISHED
    expect(reader.get_by_text(BANNER)).to_have_count(0)

    stop.click()
    expect(page.get_by_text("Preview stopped: you see the published theme again")).to_be_visible()
    expect(page.get_by_text(BANNER)).to_have_count(0)
    assert primary(page) == PUBLISHED and page.url == live_server("/o/acme/")
    screenshot(page, "themes-draft-preview-stopped-390")
    assert page.errors == []
