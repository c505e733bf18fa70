"""In Chromium: a refused attachment leaves no phantom ticket, a canned reply lands in the reply box filled in, the
timeline shows the status change, stars for the rating, and the pages fit a 390 px phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.support import service
from tests.factories import OrgFactory, UserFactory, member

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots/E")


WIDEST = """[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)
  .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)"""


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.evaluate(WIDEST)


def test_support_pages_at_390_px(app, live_server, new_context, log_in, tmp_path):
    org = OrgFactory(name="Acme", slug="acme")
    customer = member(org, "user", email="carol@acme.test", name="Carol Customer")
    agent = UserFactory(email="agent@vetrai.test", name="Agnes Agent", platform_role="support_agent")
    ticket = service.create_ticket(org, customer, subject="Export button does nothing", body="Clicking it does nothing.")
    service.create_canned("Greeting", "Hi {{ customer_name }}, {{ agent_name }} here about {{ ticket_number }}.")
    db.session.commit()
    SHOTS.mkdir(parents=True, exist_ok=True)
    bad = tmp_path / "page.html"
    bad.write_text("<html><script>alert(1)</script></html>")

    context = new_context()
    customer_page = context.new_page()
    customer_page.set_viewport_size({"width": 390, "height": 844})
    log_in(customer_page, customer.email)
    customer_page.goto(live_server("/o/acme/tickets"))
    customer_page.get_by_label("Subject").fill("Phantom ticket")
    customer_page.get_by_label("Description").fill("With a refused file")
    customer_page.get_by_label("Attachment").set_input_files(str(bad))
    customer_page.get_by_role("button", name="File ticket").click()
    expect(customer_page.locator("#new-ticket")).to_contain_text("This kind of file is not accepted")
    expect(customer_page.locator("#ticket-list")).not_to_contain_text("Phantom ticket")
    _fits(customer_page)
    customer_page.screenshot(path=str(SHOTS / "customer-refused-upload-390.png"), full_page=True)

    agent_page = new_context().new_page()
    agent_page.set_viewport_size({"width": 390, "height": 844})
    log_in(agent_page, agent.email)
    agent_page.goto(live_server(f"/support/tickets/{ticket.public_id}"))
    agent_page.get_by_label("Reply", exact=True).fill("See below.")
    agent_page.get_by_label("Canned reply").select_option(label="Greeting")
    expect(agent_page.get_by_label("Reply", exact=True)).to_have_value(
        "Hi Carol Customer, Agnes Agent here about #1.\n\nSee below."
    )
    agent_page.get_by_label("Status").select_option("closed")
    agent_page.get_by_role("button", name="Save").click()
    expect(agent_page.locator("body")).to_contain_text("Ticket saved.")
    expect(agent_page.locator("#thread")).to_contain_text("changed status from Open to Closed")
    expect(agent_page.get_by_role("button", name="Reopen")).to_be_visible()
    _fits(agent_page)
    agent_page.screenshot(path=str(SHOTS / "agent-closed-ticket-390.png"), full_page=True)

    customer_page.goto(live_server(f"/o/acme/tickets/{ticket.public_id}"))
    expect(customer_page.get_by_role("group", name="Your rating")).to_be_visible()
    customer_page.get_by_label("4 stars").check()
    customer_page.get_by_role("button", name="Rate").click()
    expect(customer_page.locator("#rating")).to_contain_text("You rated this ticket 4/5")
    _fits(customer_page)
    customer_page.screenshot(path=str(SHOTS / "customer-closed-rated-390.png"), full_page=True)
