"""Chromium: an admin whose draft has a colour pair below WCAG AA clicks Publish and sees the failing pair with its
measured ratio and a suggested colour; nothing is published until "Publish anyway", after which members see it.
Screenshots of the warning at 1280 and 390 px, in light and in dark mode."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.themes import service
from tests.factories import OrgFactory, member

from .test_browser_color_scheme import choose_scheme, shoot_both_widths
from .test_browser_theme import log_in, watched

pytestmark = pytest.mark.browser

PALE = "#9ec5ee"  # links on white at 1.79:1


def test_publishing_a_failing_draft_asks_first_and_publishes_only_when_confirmed(app, page, live_server, screenshot):
    service.clear_cache()
    org = OrgFactory(name="Acme", slug="acme")
    admin = member(org, "org_admin", email="ada@acme.test")
    service.update_draft(org, {"primary": PALE}, by=admin)
    db.session.commit()
    pg = watched(page)
    log_in(pg, live_server, "ada@acme.test")

    pg.goto(live_server("/o/acme/settings/theme"))
    pg.locator("#publish").click()
    expect(pg.get_by_role("heading", name="1 colour pair below WCAG AA")).to_be_visible()
    pair = pg.locator('#failing-pairs [data-check="links_light"]')
    expect(pair).to_contain_text("Links (primary) on the light background")
    expect(pair).to_contain_text("measured 1.79:1, needs 4.5:1")
    expect(pair).to_contain_text("Suggested primary: #")
    expect(pg.get_by_role("button", name="Publish anyway")).to_be_visible()
    shoot_both_widths(pg, screenshot, "themes-20-publish-warning")
    assert service.history(org).total == 0

    pg.get_by_role("link", name="Back to the editor").click()  # leaving the check publishes nothing
    expect(pg.locator("#theme-status")).to_contain_text("Members see the platform's look")
    pg.locator("#publish").click()
    pg.get_by_role("button", name="Publish anyway").click()
    expect(pg.get_by_text("Published: members see the new theme")).to_be_visible()
    expect(pg.locator("#theme-status")).to_contain_text("Members see version 1")

    choose_scheme(pg, live_server, "Dark")
    service.update_draft(org, {"text_dark": "#3a3f4a"}, by=admin)
    db.session.commit()
    pg.goto(live_server("/o/acme/settings/theme"))
    shoot_both_widths(pg, screenshot, "themes-22-editor-dark")
    pg.locator("#publish").click()
    expect(pg.get_by_role("heading", name="2 colour pairs below WCAG AA")).to_be_visible()
    shoot_both_widths(pg, screenshot, "themes-21-publish-warning-dark")
    pg.get_by_role("button", name="Use the suggested colours").click()
    expect(pg.get_by_text("The suggested colours are in the draft")).to_be_visible()
    pg.locator("#publish").click()
    expect(pg.get_by_text("Published: members see the new theme")).to_be_visible()  # nothing below AA left: no question
    assert pg.errors == []
