"""A person in two organizations logs in and moves between them with the org switcher."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, MembershipFactory, OrgFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def two_org_user(app):
    """Like the demo's admin: org admin of Demo Inc., plain user of Acme Corp."""
    demo = OrgFactory(name="Demo Inc.", slug="demo")
    acme = OrgFactory(name="Acme Corp", slug="acme")
    user = UserFactory(email="dana@demo.test", name="Dana Admin")
    MembershipFactory(org=demo, user=user, role="org_admin")
    MembershipFactory(org=acme, user=user, role="user")
    return user


def test_login_lands_on_first_org_and_switcher_moves_between_orgs(page, live_server, two_org_user, screenshot):
    page.goto(live_server("/o/demo/members"))
    expect(page).to_have_url(re.compile(r"/login\?next=/o/demo/members"))
    screenshot(page, "09-login")
    page.get_by_label("Email", exact=True).fill("dana@demo.test")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # Back where they were headed.
    expect(page).to_have_url(live_server("/o/demo/members"))

    page.goto(live_server("/"))
    # Orgs are listed by name: Acme Corp comes first, so the portal opens there.
    expect(page).to_have_url(live_server("/o/acme/"))
    switcher = page.locator("#org-switcher")
    expect(switcher.locator("summary")).to_have_text("Acme Corp")
    expect(page.get_by_text("Your role: User")).to_be_visible()
    # A plain user of Acme sees no audit log link there.
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Audit log")).to_have_count(0)

    switcher.locator("summary").click()
    menu = switcher.get_by_role("list")
    expect(menu.get_by_role("link", name=re.compile("^Acme Corp"))).to_have_attribute("aria-current", "page")
    expect(menu.get_by_role("link", name=re.compile("^Demo Inc."))).to_contain_text("Org admin")
    expect(menu.get_by_role("link", name="+ New organization")).to_be_visible()
    screenshot(page, "10-org-switcher-open")

    menu.get_by_role("link", name=re.compile("^Demo Inc.")).click()
    expect(page).to_have_url(live_server("/o/demo/"))
    expect(page.get_by_role("heading", name="Demo Inc.")).to_be_visible()
    expect(page.locator("#org-switcher summary")).to_have_text("Demo Inc.")
    expect(page.get_by_text("Your role: Org admin")).to_be_visible()
    expect(nav.get_by_role("link", name="Audit log")).to_be_visible()
    expect(page.locator("#org-switcher")).not_to_have_attribute("open", "")
    assert page.errors == []


def test_redirect_to_login_says_why(page, live_server, two_org_user):
    page.goto(live_server("/o/demo/members"))
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("status").filter(has_text="Log in to see that page.")).to_be_visible(timeout=2000)
