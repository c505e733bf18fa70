"""The members table filters, sorts and pages in place: HTMX swaps the table and pushes the URL."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import OrgFactory, member

pytestmark = pytest.mark.browser


@pytest.fixture
def crowded_org(app):
    """An org with its admin and 30 more members: 27 users and 3 billing admins, named Member 01..30."""
    org = OrgFactory(name="Big Barn", slug="big-barn")
    admin = member(org, "org_admin", name="Ada Admin", email="ada@big-barn.test")
    for n in range(1, 31):
        role = "billing_admin" if n % 10 == 0 else "user"
        member(org, role, name=f"Member {n:02d}", email=f"member{n:02d}@big-barn.test")
    return org, admin


def rows(page):
    return page.locator("#members-table tbody tr")


def test_members_table_filters_sorts_and_pages_without_reload(page, live_server, log_in, crowded_org, screenshot):
    org, admin = crowded_org
    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/members"))
    expect(rows(page)).to_have_count(25)
    expect(page.locator("#members-table .pagination")).to_contain_text("Page 1 of 2 · 31 members")
    expect(rows(page).first).to_contain_text("Ada Admin")
    page.evaluate("window.__noReload = 'still here'")

    # Next page: the table swaps and the URL follows.
    page.locator("#members-table").get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"/members\?.*page=2"))
    expect(rows(page)).to_have_count(6)
    expect(rows(page).last).to_contain_text("Member 30")
    expect(page.locator("#members-table").get_by_role("link", name="← Previous")).to_be_visible()

    # Search narrows the list (typing triggers the request, no button needed) and starts again at page 1.
    page.get_by_role("searchbox", name="Search members").fill("member0")
    expect(page).to_have_url(re.compile(r"[?&]q=member0"))
    expect(rows(page)).to_have_count(9)
    expect(page.locator("#members-table .pagination")).to_have_count(0)

    # The role filter combines with the search.
    page.get_by_role("combobox", name="Filter by role").select_option("billing_admin")
    expect(page).to_have_url(re.compile(r"role=billing_admin"))
    expect(rows(page)).to_have_count(0)
    expect(page.locator("#members-table")).to_contain_text("No member matches these filters.")
    page.get_by_role("searchbox", name="Search members").fill("")
    expect(rows(page)).to_have_count(3)
    expect(rows(page).first).to_contain_text("Member 10")

    # Sorting by email, then reversing it, keeps the filter.
    page.locator("#members-table thead").get_by_role("link", name="Email").click()
    expect(page).to_have_url(re.compile(r"sort=email.*dir=asc|dir=asc.*sort=email"))
    expect(page.locator("#members-table th[aria-sort=ascending]")).to_contain_text("Email")
    page.locator("#members-table thead").get_by_role("link", name=re.compile("^Email")).click()
    expect(page.locator("#members-table th[aria-sort=descending]")).to_contain_text("Email")
    expect(page).to_have_url(re.compile(r"role=billing_admin"))
    expect(rows(page)).to_have_count(3)
    expect(rows(page).first).to_contain_text("member30@big-barn.test")
    expect(rows(page).last).to_contain_text("member10@big-barn.test")
    screenshot(page, "07-members-filtered-sorted")

    assert page.evaluate("window.__noReload || null") == "still here", "a filter, sort or page change reloaded the page"

    # The pushed URL is a real page: loading it directly shows the same state.
    page.reload()
    expect(page.get_by_role("combobox", name="Filter by role")).to_have_value("billing_admin")
    expect(rows(page)).to_have_count(3)
    expect(rows(page).first).to_contain_text("member30@big-barn.test")

    # On a phone the table scrolls inside its wrapper instead of widening the page.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "07b-members-phone")
    assert page.errors == []


def test_back_button_after_paging_shows_the_whole_page(page, live_server, log_in, crowded_org):
    org, admin = crowded_org
    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/members"))
    page.locator("#members-table").get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(rows(page)).to_have_count(6)
    page.get_by_role("searchbox", name="Search members").fill("ada")
    expect(rows(page)).to_have_count(1)

    # htmx keeps no history snapshots (historyCacheSize 0): going back refetches the URL, which must give a page.
    with page.expect_response(re.compile(r"/members\?.*page=2")):
        page.go_back()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(rows(page)).to_have_count(6)
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("searchbox", name="Search members")).to_be_visible()
    assert page.errors == []
