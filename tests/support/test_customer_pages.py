"""What customers do on their pages: browse every ticket they may see, close, reopen, reply to reopen, rate once resolved."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import utcnow
from portal.notifications.models import Notification
from portal.support import service
from portal.support.models import Ticket
from portal.support.services.tickets import next_number


def _bulk_tickets(desk, requester, count: int, prefix: str) -> list[str]:
    """Many tickets at once (rows only: no notifications needed to list them), each a minute apart."""
    start = utcnow() - timedelta(days=1)
    rows = [Ticket(org_id=desk.org.id, number=next_number(desk.org), requester_id=requester.id, subject=f"{prefix} {i}", body="b",
                   created_at=start + timedelta(minutes=i),
                   last_activity_at=start + timedelta(minutes=i)) for i in range(count)]
    db.session.add_all(rows)
    db.session.commit()
    return [t.public_id for t in rows]


def _walk(client, url: str) -> list[str]:
    """Every ticket id the list page shows, following its "Load more" rows the way htmx does."""
    seen, first = [], True
    while url:
        html = client.get(url, headers={} if first else {"HX-Request": "true"}).text
        if not first:
            assert "<html" not in html and "<form" not in html  # rows only, swapped in place
        seen += re.findall(r'data-ticket="(tkt_[^"]+)"', html)
        more = re.search(r'hx-get="([^"]+)" hx-target="#load-more-tickets"', html)
        url, first = (more.group(1).replace("&amp;", "&") if more else None), False
    return seen


def test_an_org_admin_reaches_every_one_of_the_orgs_tickets_from_the_list_page(app, desk, client, login_as):
    mine = _bulk_tickets(desk, desk.customer, 110, "Mine")
    theirs = _bulk_tickets(desk, desk.colleague, 3, "Colleague")
    login_as(desk.admin)
    seen = _walk(client, "/o/acme/tickets")
    assert len(seen) == len(set(seen)) and set(seen) == set(mine + theirs)
    assert seen[0] == mine[-1]  # latest activity first
    login_as(desk.customer)
    assert set(_walk(client, "/o/acme/tickets")) == set(mine)
    login_as(desk.colleague)
    assert _walk(client, "/o/acme/tickets") == theirs[::-1]


def test_the_list_keeps_its_status_filter_from_page_to_page(app, desk, client, login_as):
    ids = _bulk_tickets(desk, desk.customer, 30, "T")
    closed = set(ids[::2])
    db.session.execute(Ticket.__table__.update().where(Ticket.public_id.in_(closed)).values(status="closed"))
    db.session.commit()
    login_as(desk.customer)
    assert set(_walk(client, "/o/acme/tickets?status=closed")) == closed


def test_a_customer_closes_and_reopens_from_the_page_and_the_assignee_is_told(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Close me", body="b")
    service.assign(ticket, desk.agent.public_id, desk.agent2)
    login_as(desk.customer)
    url = f"/o/acme/tickets/{ticket.public_id}"
    assert "Close ticket" in client.get(url).text and "Reopen" not in client.get(url).text
    assert client.post(f"{url}/status", data={"status": "closed"}).status_code == 303
    page = client.get(url).text
    assert 'id="ticket-status">Closed<' in page and "Reopen" in page and "Close ticket" not in page
    told = db.session.scalars(select(Notification).where(Notification.event == "ticket.status_changed")).all()
    assert [n.user_id for n in told] == [desk.agent.id]
    assert client.post(f"{url}/status", data={"status": "open"}).status_code == 303
    assert 'id="ticket-status">Open<' in client.get(url).text
    # a customer cannot resolve their own ticket
    assert client.post(f"{url}/status", data={"status": "resolved"}).status_code == 409


def test_a_customer_reply_to_a_closed_ticket_reopens_it_and_reaches_every_agent_when_unassigned(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Came back", body="b")
    service.set_status(ticket, "closed", desk.agent, as_agent=True)
    login_as(desk.customer)
    assert client.post(f"/o/acme/tickets/{ticket.public_id}/comments", data={"body": "It broke again"}).status_code == 303
    db.session.refresh(ticket)
    assert (ticket.status, ticket.closed_at, ticket.resolved_at) == ("open", None, None)
    replied = db.session.scalars(select(Notification).where(Notification.event == "ticket.replied")).all()
    assert {n.user_id for n in replied} == {desk.agent.id, desk.agent2.id}


def test_the_rating_form_appears_only_once_resolved_and_the_agent_sees_the_rating(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Rate me", body="b")
    login_as(desk.customer)
    url = f"/o/acme/tickets/{ticket.public_id}"
    assert 'id="rating"' not in client.get(url).text
    early = client.post(f"{url}/rating", data={"rating": "5"})
    assert early.status_code == 409 and "once it is resolved" in early.text
    service.set_status(ticket, "resolved", desk.agent, as_agent=True)
    assert 'id="rating"' in client.get(url).text
    assert client.post(f"{url}/rating", data={"rating": "6"}).status_code == 422
    assert client.post(f"{url}/rating", data={"rating": "4", "comment": "Quick and kind"}).status_code == 303
    assert "You rated this ticket 4/5." in client.get(url).text
    login_as(desk.agent)
    assert "Customer rating: 4/5" in client.get(f"/support/tickets/{ticket.public_id}").text
