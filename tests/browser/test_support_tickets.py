"""A customer files a ticket with an attachment, the agent finds it in the queue and replies, and the reply appears
on the customer's page without a reload (the thread polls itself)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.support import service
from tests.factories import OrgFactory, UserFactory, member
from tests.support.conftest import PNG

pytestmark = pytest.mark.browser


def test_customer_files_agent_replies_and_the_reply_appears_without_reload(app, live_server, new_context, log_in, screenshot, tmp_path):
    org = OrgFactory(name="Acme", slug="acme")
    customer = member(org, "user", email="carol@acme.test", name="Carol Customer")
    agent = UserFactory(email="agent@vetrai.test", name="Agnes Agent", platform_role="support_agent")
    shot = tmp_path / "screen.png"
    shot.write_bytes(PNG)

    customer_page = new_context().new_page()
    errors = []
    customer_page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(customer_page, customer.email)
    customer_page.goto(live_server("/o/acme/tickets"))
    customer_page.get_by_label("Subject").fill("Export button does nothing")
    customer_page.get_by_label("Priority").select_option("high")
    customer_page.get_by_label("Description").fill("Clicking **Export** does nothing.")
    customer_page.get_by_label("Attachment").set_input_files(str(shot))
    customer_page.get_by_role("button", name="File ticket").click()
    expect(customer_page).to_have_url(re.compile(r"/o/acme/tickets/tkt_"))
    expect(customer_page.locator("#thread")).to_contain_text("Clicking Export does nothing.")
    expect(customer_page.locator("#thread .attachments")).to_contain_text("screen.png")
    expect(customer_page.locator("#thread img")).to_have_count(1)
    customer_page.evaluate("window.__noReload = 'still here'")
    screenshot(customer_page, "support-customer-ticket")

    agent_page = new_context().new_page()
    log_in(agent_page, agent.email)
    agent_page.goto(live_server("/support/queue"))
    row = agent_page.locator("#queue-rows tr", has_text="Export button does nothing")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Acme")
    screenshot(agent_page, "support-agent-queue")
    row.get_by_role("link", name="Export button does nothing").click()
    expect(agent_page.locator("#thread .attachments")).to_contain_text("screen.png")
    agent_page.get_by_label("Reply").fill("Note for the team: legacy plan")
    agent_page.get_by_label("Internal note").check()
    agent_page.get_by_role("button", name="Send").click()
    expect(agent_page.locator("#thread .internal-note")).to_contain_text("legacy plan")
    agent_page.get_by_label("Reply").fill("Thanks Carol, a fix ships today.")
    agent_page.get_by_role("button", name="Send").click()
    expect(agent_page.locator("#thread")).to_contain_text("a fix ships today")
    screenshot(agent_page, "support-agent-ticket")

    expect(customer_page.locator("#thread")).to_contain_text("Thanks Carol, a fix ships today.")
    expect(customer_page.locator("#ticket-status")).to_have_text("In progress")
    assert customer_page.evaluate("window.__noReload") == "still here"
    expect(customer_page.locator("#thread")).not_to_contain_text("legacy plan")
    screenshot(customer_page, "support-customer-sees-reply")
    assert not errors


def test_an_org_admin_pages_through_the_orgs_tickets_without_a_reload(app, live_server, new_context, log_in, screenshot):
    org = OrgFactory(name="Acme", slug="acme")
    admin = member(org, "org_admin", email="ada@acme.test", name="Ada Admin")
    colleague = member(org, "user", email="colin@acme.test", name="Colin")
    for i in range(30):
        service.create_ticket(org, colleague if i % 2 else admin, subject=f"Request number {i:02d}", body="b")
    db.session.commit()  # the live server reads through its own session

    page = new_context().new_page()
    log_in(page, admin.email)
    page.goto(live_server("/o/acme/tickets"))
    rows = page.locator("tr[data-ticket]")
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text("Request number 29")  # newest first
    page.evaluate("window.__noReload = 'still here'")
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(30)
    expect(rows.last).to_contain_text("Request number 00")
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    assert page.evaluate("window.__noReload") == "still here"
    screenshot(page, "support-customer-list-paged")
