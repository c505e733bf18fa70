"""Error pages keep the portal's layout: header, navigation, a way back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import OrgFactory, member

pytestmark = pytest.mark.browser


def test_unknown_page_is_a_404_with_the_layout(page, live_server, screenshot):
    response = page.goto(live_server("/no/such/page"))
    assert response.status == 404
    expect(page).to_have_title("Not Found · VetrAI Portal")
    expect(page.get_by_role("heading", level=1)).to_have_text("404 · Not Found")
    expect(page.get_by_text("There is nothing here, or you don't have access to it.")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="VetrAI")).to_be_visible()
    expect(nav.get_by_role("link", name="Log in")).to_be_visible()
    expect(page.locator("footer")).to_contain_text("VetrAI Portal")
    # The stylesheets loaded: Pico's container centres the main column.
    expect(page.locator("main")).to_have_css("margin-left", "40px")
    screenshot(page, "11-404")

    page.get_by_role("link", name="Go to your portal").click()
    expect(page).to_have_url(live_server("/login"))
    assert page.errors == []


def test_another_orgs_page_is_a_404_for_a_logged_in_member(page, live_server, log_in, app):
    mine = OrgFactory(name="My Stable", slug="my-stable")
    OrgFactory(name="Their Stable", slug="their-stable")
    me = member(mine, "org_admin", name="Mo Member")
    log_in(page, me.email)

    response = page.goto(live_server("/o/their-stable/members"))
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("404 · Not Found")
    expect(page.get_by_text("Their Stable")).to_have_count(0)
    # Logged in: the header still offers their own organization and menu.
    expect(page.locator("#org-switcher summary")).to_have_text("Organizations")
    expect(page.locator("#user-menu summary")).to_have_text("Mo Member")
    page.get_by_role("link", name="Go to your portal").click()
    expect(page).to_have_url(live_server("/o/my-stable/"))
