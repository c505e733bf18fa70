"""In Chromium: the customer's reply, close and reopen, and the queue's bulk change, saved view and availability switch
answer in place (no reload) with a toast that says what was done."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.support import service
from tests.factories import OrgFactory, UserFactory, member
from tests.support.conftest import PNG

pytestmark = pytest.mark.browser


def test_customer_actions_answer_in_place_with_toasts(app, live_server, page, log_in, screenshot, tmp_path):
    org = OrgFactory(name="Acme", slug="acme")
    customer = member(org, "user", email="carol@acme.test", name="Carol Customer")
    ticket = service.create_ticket(org, customer, subject="Export button does nothing", body="b")
    db.session.commit()
    shot = tmp_path / "screen.png"
    shot.write_bytes(PNG)
    log_in(page, customer.email)
    page.goto(live_server(f"/o/acme/tickets/{ticket.public_id}"))
    page.evaluate("window.__noReload = 'still here'")
    toasts = page.locator("#toasts")

    page.get_by_label("Reply").fill("It happens on every report.")
    page.get_by_label("Attachment").set_input_files(str(shot))
    page.get_by_role("button", name="Send reply").click()
    expect(toasts).to_contain_text("Reply sent.")
    expect(page.locator("#thread")).to_contain_text("It happens on every report.")
    expect(page.locator("#thread .attachments")).to_contain_text("screen.png")
    expect(page.get_by_label("Reply")).to_have_value("")

    page.get_by_role("button", name="Close ticket").click()
    expect(toasts).to_contain_text("Ticket closed.")
    expect(page.locator("#ticket-status")).to_have_text("Closed")
    page.get_by_role("button", name="Reopen").click()
    expect(toasts).to_contain_text("Ticket reopened.")
    expect(page.locator("#ticket-status")).to_have_text("Open")
    assert page.evaluate("window.__noReload") == "still here"
    assert not page.errors
    screenshot(page, "support-customer-reopened-toast")  # last: the screenshot styles the inputs, which a later swap would copy


def test_queue_actions_answer_in_place_with_toasts(app, live_server, page, log_in, screenshot):
    org = OrgFactory(name="Acme", slug="acme")
    customer = member(org, "user", email="carol@acme.test", name="Carol Customer")
    agent = UserFactory(email="agent@vetrai.test", name="Agnes Agent", platform_role="support_agent")
    for subject in ("Login loop", "Export stuck", "Dark mode"):
        service.create_ticket(org, customer, subject=subject, body="b")
    db.session.commit()
    log_in(page, agent.email)
    page.goto(live_server("/support/queue"))
    page.evaluate("window.__noReload = 'still here'")
    toasts = page.locator("#toasts")

    page.get_by_role("button", name="Apply to selected").click()
    expect(toasts.locator(".notice-warning")).to_contain_text("Select tickets first.")
    page.get_by_label("Select #1 Login loop").check()
    page.get_by_label("Select #2 Export stuck").check()
    page.get_by_label("Set status").select_option("in_progress")
    page.get_by_role("button", name="Apply to selected").click()
    expect(toasts).to_contain_text("Updated 2 tickets.")
    expect(page.locator("#queue-rows tr", has_text="Login loop")).to_contain_text("In progress")
    expect(page.locator("#queue-rows tr", has_text="Dark mode")).to_contain_text("Open")

    page.get_by_label("Priority", exact=True).select_option("medium")
    expect(page.locator('input[name="query"][form="save-view"]')).to_have_value("priority=medium&sort=activity")
    page.get_by_label("View name").fill("Medium ones")
    page.get_by_role("button", name="Save view").click()
    expect(toasts).to_contain_text("View saved.")
    expect(page.get_by_role("link", name="Medium ones")).to_have_attribute("href", "/support/queue?priority=medium&sort=activity")
    expect(page.get_by_label("View name")).to_have_value("")

    page.get_by_role("button", name="Go available").click()
    expect(toasts).to_contain_text("You are available.")
    page.get_by_role("button", name="Go unavailable").click()
    expect(toasts).to_contain_text("You are away.")
    assert page.evaluate("window.__noReload") == "still here"
    assert not page.errors
    screenshot(page, "support-queue-toasts")
