"""The inbox badge lights up without a reload when a notification arrives, and the inbox works in place."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import OrgFactory, member

pytestmark = pytest.mark.browser


def test_api_send_lights_the_badge_without_a_reload(page, new_context, live_server, log_in, screenshot):
    org = OrgFactory(name="Badge Org")
    reader = member(org, "user", email="reader@example.test", name="Rita Reader")
    member(org, "org_admin", email="sender@example.test", name="Sam Sender")

    log_in(page, reader.email)
    page.goto(live_server(f"/o/{org.slug}/"))
    badge = page.locator("#notification-badge")
    expect(badge).to_be_visible()
    expect(badge.locator(".badge")).to_have_count(0)
    page.evaluate("window.__noReload = 'still here'")

    # The admin sends a message over the API from another browser, with the CSRF token of their session.
    admin = new_context().new_page()
    log_in(admin, "sender@example.test")
    admin.goto(live_server(f"/o/{org.slug}/"))
    token = admin.locator('meta[name="csrf-token"]').get_attribute("content")
    response = admin.request.post(
        live_server(f"/api/v1/notifications?org={org.slug}"),
        data={"to": ["reader@example.test"], "title": "Deploy done", "body": "Version 2 is live", "channels": ["in_app"]},
        headers={"X-CSRFToken": token},
    )
    assert response.status == 202, response.text()

    # The badge polls: it shows 1 unread within a few seconds, and the page was never reloaded.
    expect(badge.locator(".badge")).to_have_text("1", timeout=15_000)
    # what a screen reader announces starts with the word people see (WCAG 2.5.3, axe label-content-name-mismatch)
    expect(badge).to_have_accessible_name("Inbox, 1 unread")
    assert page.evaluate("window.__noReload") == "still here"
    screenshot(page, "12-badge-lit")

    page.locator("#notification-badge").click()  # the bell opens its dropdown; the inbox is one link away
    page.locator("#notification-bell").get_by_role("link", name="Open the inbox").click()
    expect(page.locator("#inbox").get_by_text("Deploy done")).to_be_visible()
    page.evaluate("window.__noReload = 'inbox'")
    page.get_by_role("button", name="Mark read").click()
    expect(page.get_by_role("button", name="Mark unread")).to_be_visible()
    expect(page.locator("#unread-count")).to_have_text("0 unread")
    # Marking read triggers the badge to refresh at once (HX-Trigger), without waiting for the poll.
    expect(page.locator("#notification-badge .badge")).to_have_count(0, timeout=3_000)
    assert page.evaluate("window.__noReload") == "inbox"
    screenshot(page, "13-inbox")
    assert page.errors == []
