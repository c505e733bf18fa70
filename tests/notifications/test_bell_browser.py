"""The nav's bell in Chromium: it opens onto the latest five notifications, each a link to what it is about;
following one lands there and the unread count drops. At 1280 px and on a 390 px phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.notifications import service
from portal.support import service as support
from tests.factories import OrgFactory, member

pytestmark = pytest.mark.browser


def _seed():
    org = OrgFactory(name="Bell Org", slug="bell")
    reader = member(org, "user", email="rita@bell.test", name="Rita Reader")
    ticket = support.create_ticket(org, reader, subject="Printer on fire", body="Smoke everywhere.")
    db.session.commit()
    for n in range(5):
        service.notify(org, [reader], "message", {"title": f"Maintenance note {n}", "body": ""}, channels=["in_app"])
    # The newest: a ticket's status change, which leads to the ticket.
    service.notify(org, [reader], "ticket.status_changed", {"ticket_id": ticket.public_id, "ticket_number": ticket.short_number,
                                                             "subject": ticket.subject, "old_status": "Open", "new_status": "Resolved",
                                                             "changed_by": "Agnes Agent"}, channels=["in_app"])
    db.session.commit()
    return org, reader, ticket


@pytest.mark.parametrize("width", [1280, 390])
def test_bell_opens_on_the_latest_five_and_one_click_lands_on_the_ticket(page, live_server, log_in, screenshot, width):
    org, reader, ticket = _seed()
    page.set_viewport_size({"width": width, "height": 800})
    log_in(page, reader.email)
    page.goto(live_server(f"/o/{org.slug}/"))

    bell, menu = page.locator("#notification-badge"), page.locator("#notification-bell")
    expect(bell).to_have_accessible_name("Inbox, 6 unread")  # the name starts with what is seen: "Inbox 6"
    bell.click()
    items = page.locator("#bell-list li")
    expect(items).to_have_count(5)  # the latest five of six
    expect(items.first).to_contain_text("Resolved: #1 Printer on fire")
    expect(items.first).to_contain_text("New")
    expect(page.locator("#bell-list")).not_to_contain_text("Maintenance note 0")  # the oldest is left for the inbox
    expect(menu.get_by_role("link", name="Open the inbox")).to_be_visible()
    expect(menu.get_by_role("button", name="Mark all read")).to_be_visible()
    # The dropdown stays inside the screen, even on a phone.
    box = page.locator(".bell-panel").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    # The count refreshes itself inside the bell (its poll, or a change elsewhere): the dropdown stays open through it.
    with page.expect_response(lambda r: r.url.endswith(f"/o/{org.slug}/notifications/badge")):
        page.evaluate("htmx.trigger(document.body, 'notifications-changed')")
    expect(menu).to_have_attribute("open", "")
    expect(items).to_have_count(5)
    screenshot(page, f"bell-open-{width}")

    items.first.get_by_role("link").click()
    expect(page).to_have_url(live_server(f"/o/{org.slug}/tickets/{ticket.public_id}"))
    expect(page.get_by_role("heading").filter(has_text="Printer on fire").first).to_be_visible()
    expect(page.locator("#notification-badge")).to_have_accessible_name("Inbox, 5 unread")

    # Mark all read from the bell: the list stays open, nothing is marked new, the count is gone.
    page.locator("#notification-badge").click()
    expect(page.locator("#bell-list li.read").first).to_contain_text("Resolved: #1 Printer on fire")
    menu.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#bell-list li.unread")).to_have_count(0)
    expect(page.locator("#notification-badge")).to_have_accessible_name("Inbox")
    expect(page.locator("#bell-list")).to_be_visible()
    screenshot(page, f"bell-all-read-{width}")
    assert page.errors == []
