"""Small page details: a saved canned reply says so, the SLA report's table scrolls in its own box, and the customer's
reply box has one visible "Reply" (the section heading stays for screen readers)."""

from __future__ import annotations

from portal.extensions import db
from portal.support import service


def test_adding_a_canned_reply_says_it_was_saved(client, login_as, desk):
    login_as(desk.agent)
    saved = client.post("/support/canned", data={"title": "Restart", "body": "Please restart, {{ customer_name }}."}, follow_redirects=True)
    assert saved.status_code == 200 and "Canned reply “Restart” saved." in saved.text


def test_the_sla_report_table_is_in_a_scrolling_wrapper(client, login_as, desk):
    login_as(desk.agent)
    page = client.get("/support/report").text
    assert '<div class="table-wrap"' in page and page.index('class="table-wrap"') < page.index("<table")


def test_the_customer_reply_box_shows_reply_once(client, login_as, desk):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Export fails", body="500 on export")
    db.session.commit()
    login_as(desk.customer)
    page = client.get(f"/o/acme/tickets/{ticket.public_id}").text
    assert '<h2 class="visually-hidden">Reply</h2>' in page and '<label for="body">Reply</label>' in page
