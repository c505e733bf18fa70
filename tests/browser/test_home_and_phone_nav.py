"""The org home page in Chromium: what waits for a member links to it, at 1280 and at 390 px, where the org's
sections fold behind a Menu button that opens, announces its state and closes with Esc."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.support import service as support
from tests.factories import OrgFactory, member

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(app):
    org = OrgFactory(name="Demo Inc.", slug="demo")
    admin = member(org, "org_admin", email="dana@demo.test", name="Dana Admin")
    support.create_ticket(org, admin, subject="Printer on fire", body="It is on fire.")
    db.session.commit()
    return admin


def test_the_home_page_links_an_open_ticket_and_fits_a_phone(page, live_server, log_in, demo, screenshot):
    log_in(page, "dana@demo.test")
    page.goto(live_server("/o/demo/"))
    tickets = page.locator("#home-tickets")
    expect(tickets.get_by_role("heading")).to_have_text("Open tickets")
    screenshot(page, "home-1280")
    tickets.get_by_role("link", name="Printer on fire").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Printer on fire")

    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(live_server("/o/demo/"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "home-390")


def test_on_a_phone_the_sections_fold_behind_menu(page, live_server, log_in, demo, screenshot):
    page.set_viewport_size({"width": 390, "height": 800})
    log_in(page, "dana@demo.test")
    page.goto(live_server("/o/demo/"))
    menu = page.get_by_role("button", name="Menu")
    sections = page.locator("#nav-sections")
    expect(sections).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(sections).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    screenshot(page, "nav-menu-open-390")
    page.keyboard.press("Escape")
    expect(sections).to_be_hidden()
    expect(menu).to_be_focused()
    menu.click()
    sections.get_by_role("link", name="Members").click()
    expect(page).to_have_url(live_server("/o/demo/members"))


def test_on_a_wide_screen_the_sections_are_listed_and_menu_is_gone(page, live_server, log_in, demo):
    log_in(page, "dana@demo.test")
    page.goto(live_server("/o/demo/"))
    expect(page.locator("#nav-sections").get_by_role("link", name="Members")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()


def test_slash_focuses_the_search_and_results_arrive_as_you_type(page, live_server, log_in, demo, screenshot):
    log_in(page, "dana@demo.test")
    page.goto(live_server("/o/demo/"))
    page.keyboard.press("/")
    box = page.get_by_role("searchbox", name="Search Demo Inc.")
    expect(box).to_be_focused()
    box.fill("printer")
    box.press("Enter")
    expect(page).to_have_url(live_server("/o/demo/search?q=printer"))
    results = page.locator("#search-results")
    expect(results.get_by_role("link", name="Printer on fire")).to_be_visible()
    page_box = page.locator("form.search-page-form input[type=search]")
    page_box.fill("nothing like it")  # typing on the search page swaps in the results without a reload
    expect(results.get_by_role("status")).to_have_text("Nothing in Demo Inc. matches “nothing like it”.")
    expect(page).to_have_url(live_server("/o/demo/search?q=nothing%20like%20it"))
    screenshot(page, "search-1280")


def test_esc_leaves_the_search_box_so_slash_searches_again(page, live_server, log_in, demo):
    log_in(page, "dana@demo.test")
    page.goto(live_server("/o/demo/search"))
    expect(page.locator("#search-results")).to_contain_text("API keys in Demo Inc. Press")  # one full stop after "Inc."
    page.goto(live_server("/o/demo/"))
    page.keyboard.press("Control+k")
    box = page.locator("#nav-search")
    expect(box).to_be_focused()
    box.press("Escape")
    expect(box).not_to_be_focused()
    page.keyboard.press("/")  # searches again, instead of typing "/" into the box
    expect(box).to_be_focused()
    expect(box).to_have_value("")


@pytest.mark.parametrize("width", [1101, 1200, 1440, 1920])
def test_above_the_menu_breakpoint_an_admins_header_is_two_rows_menus_then_sections(page, live_server, log_in, demo, screenshot, width):
    # An org admin sees every section (nine, with billing, audit log, notifications and theme): the longest header.
    page.set_viewport_size({"width": width, "height": 800})
    log_in(page, "dana@demo.test")
    page.goto(live_server("/o/demo/"))
    tops = page.evaluate("""() => {
      const top = sel => Math.round(document.querySelector(sel).getBoundingClientRect().top);
      const links = [...document.querySelectorAll('#nav-sections > li')].map(li => Math.round(li.getBoundingClientRect().top));
      return {brand: top('.site-header .brand'), menu: top('#user-menu'), sections: links, header: document.querySelector('.site-header').offsetHeight};
    }""")
    first, last = min(tops["sections"]), max(tops["sections"])
    assert last - first < 20, tops  # every section and the search box on one row (they took three at 1200 px)
    assert abs(tops["brand"] - tops["menu"]) < 20 and first > tops["menu"] + 20, tops  # the menus by the brand, the sections under
    assert tops["header"] < 200, tops
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if width == 1200:
        screenshot(page, "header-admin-1200")


@pytest.mark.parametrize("width", [390, 1280])
def test_tab_goes_through_the_header_as_it_is_seen_menus_then_sections(page, live_server, log_in, demo, width):
    page.set_viewport_size({"width": width, "height": 800})
    log_in(page, "dana@demo.test")
    page.goto(live_server("/o/demo/"))
    if width < 1101:
        page.get_by_role("button", name="Menu").click()  # the sections open under the menus' row; focus stays on Menu
    else:
        page.locator(".site-header .brand").focus()
    reached = []
    for _ in range(4):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("() => document.activeElement.closest('#org-switcher, #user-menu, #nav-sections, #notification-bell')?.id"))
    # the bell, the org switcher and the user menu sit on the row above the sections: Tab reaches them first
    assert reached == ["notification-bell", "org-switcher", "user-menu", "nav-sections"], reached
