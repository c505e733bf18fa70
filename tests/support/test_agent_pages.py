"""What agents see and do on their pages: the SLA report over a period, canned replies, queue filters and sorts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.notifications.models import Notification
from portal.support import service

from .conftest import PDF


def _report_rows(html: str) -> dict[str, tuple[str, str, str]]:
    """{priority: (tickets, met, share)}; the "Closed without a reply" column between met and share is left out."""
    cells = re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td><td>(\d+)</td><td>\d+</td><td>([^<]+)</td></tr>", html)
    return {p: (total, met, share) for p, total, met, share in cells}


def _filed_on(desk, when: datetime, *, breached: bool = False, resolved: bool = True, subject: str = "Filed"):
    ticket = service.create_ticket(desk.org, desk.customer, subject=subject, body="b", priority="high")
    if resolved:
        service.add_comment(ticket, desk.agent, "Fixed.", as_agent=True)  # answered: resolved without a reply is not met
        service.set_status(ticket, "resolved", desk.agent, as_agent=True)
    ticket.created_at = when  # filed then, and resolved in time unless breached
    ticket.sla_breached = "resolution" if breached else ""
    db.session.commit()
    return ticket


def test_the_sla_report_counts_the_last_day_of_the_period_it_shows(app, desk, client, login_as):
    _filed_on(desk, datetime(2026, 3, 5, 10, tzinfo=UTC), breached=True)  # the first day
    _filed_on(desk, datetime(2026, 3, 10, 15, tzinfo=UTC))  # the last day ("To")
    _filed_on(desk, datetime(2026, 3, 11, 9, tzinfo=UTC))  # the day after: not in the period
    _filed_on(desk, datetime(2026, 3, 4, 23, 59, tzinfo=UTC))  # the day before
    login_as(desk.agent)
    page = client.get("/support/report?start=2026-03-05&end=2026-03-10")
    assert page.status_code == 200
    assert 'name="start" type="date" value="2026-03-05"' in page.text and 'name="end" type="date" value="2026-03-10"' in page.text
    rows = _report_rows(page.text)
    assert rows["High"] == ("2", "1", "50%") and rows["Low"] == ("0", "0", "—")
    login_as(desk.customer)
    assert client.get("/support/report").status_code == 404


def test_a_ticket_left_open_past_its_target_counts_against_the_share(app, desk, client, login_as):
    _filed_on(desk, datetime(2026, 3, 5, 10, tzinfo=UTC))  # resolved in time
    _filed_on(desk, datetime(2026, 3, 6, 10, tzinfo=UTC), breached=True, resolved=False)  # still open, already late
    _filed_on(desk, datetime(2026, 3, 7, 10, tzinfo=UTC), resolved=False)  # open, on time: no outcome yet
    login_as(desk.agent)
    rows = _report_rows(client.get("/support/report?start=2026-03-01&end=2026-03-31").text)
    assert rows["High"] == ("2", "1", "50%")


def test_a_canned_reply_from_the_agent_page_reaches_the_customer_filled_in(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Password reset", body="b")
    canned = service.create_canned("Greeting", "Hello {{ customer_name }}, {{ agent_name }} here about {{ ticket_id }}.")
    login_as(desk.agent)
    assert "Greeting" in client.get(f"/support/tickets/{ticket.public_id}").text
    sent = client.post(f"/support/tickets/{ticket.public_id}/comments", data={"canned_id": canned.public_id, "body": "Try again now."})
    assert sent.status_code == 303
    login_as(desk.customer)
    thread = client.get(f"/o/acme/tickets/{ticket.public_id}/thread").text
    assert "Hello Carol Customer, Agnes Agent here about #1." in thread and ticket.public_id not in thread.split("<article")[-1] and "Try again now." in thread
    assert "{{" not in thread


def test_the_queue_filters_by_a_named_assignee_and_sorts_by_the_nearest_due_date(app, desk, client, login_as):
    low = service.create_ticket(desk.org, desk.customer, subject="Low one", body="b", priority="low")
    critical = service.create_ticket(desk.other_org, desk.outsider, subject="Critical one", body="b", priority="critical")
    medium = service.create_ticket(desk.org, desk.customer, subject="Medium one", body="b", priority="medium")
    service.assign(low, desk.agent2.public_id, desk.agent)
    service.assign(medium, desk.agent.public_id, desk.agent)
    login_as(desk.agent)
    page = client.get(f"/support/queue?assignee={desk.agent2.public_id}").text
    assert low.public_id in page and critical.public_id not in page and medium.public_id not in page
    order = re.findall(r'data-ticket="(tkt_[^"]+)"', client.get("/support/queue?sort=due").text)
    assert order == [critical.public_id, medium.public_id, low.public_id]


def test_saving_a_view_from_the_queue_page_keeps_the_filters_on_screen(app, desk, client, login_as):
    login_as(desk.agent)
    page = client.get("/support/queue?priority=critical&status=active").text
    hidden = re.search(r'<input type="hidden" name="query" value="([^"]*)" form="save-view">', page)
    assert hidden and unescape(hidden.group(1)) == "status=active&priority=critical&sort=activity"
    client.post("/support/views", data={"name": "Hot", "query": unescape(hidden.group(1))})
    link = re.search(r'<a href="([^"]+)">Hot</a>', client.get("/support/queue").text)
    assert link and unescape(link.group(1)) == "/support/queue?status=active&priority=critical&sort=activity"


def test_round_robin_tells_the_agent_it_picked(app, desk):
    service.set_available(desk.agent2, True)
    ticket = service.create_ticket(desk.org, desk.customer, subject="Auto", body="b")
    assert ticket.assignee_id == desk.agent2.id
    told = db.session.scalars(select(Notification).where(Notification.event == "ticket.assigned")).all()
    assert [(n.user_id, n.data["ticket_id"]) for n in told] == [(desk.agent2.id, ticket.public_id)]


def test_only_images_are_previewed(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Files", body="b", files=[("spec.pdf", PDF)])
    att = service.attachments(ticket, for_agent=False)[0]
    login_as(desk.customer)
    assert "<img" not in client.get(f"/o/acme/tickets/{ticket.public_id}/thread").text
    assert client.get(f"/o/acme/tickets/{ticket.public_id}/attachments/{att.public_id}/preview").status_code == 404
    login_as(desk.agent)
    assert client.get(f"/support/tickets/{ticket.public_id}/attachments/{att.public_id}/preview").status_code == 404


@pytest.mark.parametrize(("query", "wrong", "message"), [
    ("start=2026-13-45&end=2026-03-10", "start", "Not a valid date value."),
    ("start=2026-03-10&end=yesterday", "end", "Not a valid date value."),
    ("start=2026-03-10&end=2026-03-01", "end", "The last day is before the first."),
])
def test_a_period_that_is_not_one_is_refused_with_the_field_named_and_the_typed_value_kept(app, desk, client, login_as, query, wrong, message):
    login_as(desk.agent)
    page = client.get(f"/support/report?{query}")
    assert page.status_code == 400
    html = unescape(page.text)
    assert f'id="{wrong}-error" class="field-error">{message}</small>' in html
    assert re.search(rf'aria-describedby="{wrong}-error"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*aria-describedby="{wrong}-error"', html)
    typed = dict(part.split("=") for part in query.split("&"))[wrong]
    assert f'value="{typed}"' in html  # what was typed stays, to be corrected
    assert "Fix the period above to see the report." in html and "<table>" not in html


def test_an_empty_period_shows_the_last_30_days(app, desk, client, login_as):
    login_as(desk.agent)
    page = client.get("/support/report?start=&end=")
    assert page.status_code == 200
    today = datetime.now(UTC).date()
    assert f'value="{today.isoformat()}"' in page.text and "<table>" in page.text
