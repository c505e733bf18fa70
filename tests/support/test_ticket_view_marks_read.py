"""Opening a ticket's page reads the viewer's own inbox notifications about that ticket (as opening an issue does on
GitHub): the customer's on /o/<slug>/tickets/<id>, the agent's on /support/tickets/<id>; nobody else's, no other ticket's."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.notifications import service as notifications
from portal.notifications import templating
from portal.notifications.catalog import EVENTS
from portal.notifications.models import Notification
from portal.support import service


def _tell(org, user, ticket, event: str = "ticket.replied") -> Notification:
    data = {**templating.sample_data(EVENTS[event]), "ticket_id": ticket.public_id, "ticket_number": ticket.short_number,
            "subject": ticket.subject}
    [note] = notifications.notify(org, [user], event, data, channels=["in_app"])
    return note


def _read(note: Notification) -> bool:
    db.session.expire_all()
    return db.session.get(Notification, note.id).read_at is not None


def test_the_customer_opening_their_ticket_reads_what_their_inbox_says_about_it(client, login_as, desk):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Export fails", body="500 on export")
    other_ticket = service.create_ticket(desk.org, desk.customer, subject="Login slow", body="Takes ages")
    service.add_comment(ticket, desk.agent, "Could you try again?", as_agent=True)  # the real reply notification
    db.session.commit()
    [replied] = db.session.scalars(select(Notification).where(Notification.user_id == desk.customer.id, Notification.event == "ticket.replied"))
    assert replied.data["ticket_id"] == ticket.public_id and replied.read_at is None
    status = _tell(desk.org, desk.customer, ticket, "ticket.status_changed")
    about_other = _tell(desk.org, desk.customer, other_ticket)
    colleagues = _tell(desk.org, desk.colleague, ticket)
    crafted = notifications.notify(desk.org, [desk.customer], "message", {"title": "Hi", "body": "", "ticket_id": ticket.public_id},
                                   channels=["in_app"])[0]  # not a ticket event: not about the ticket
    db.session.commit()

    login_as(desk.customer)
    assert 'data-count="4"' in client.get("/o/acme/notifications/badge").text
    page = client.get(f"/o/acme/tickets/{ticket.public_id}")
    assert page.status_code == 200 and "Could you try again?" in page.text
    assert _read(replied) and _read(status)
    assert not _read(about_other) and not _read(colleagues) and not _read(crafted)
    assert 'data-count="2"' in client.get("/o/acme/notifications/badge").text
    assert notifications.unread_count(desk.org, desk.customer) == 2  # what the dashboard's "Unread notifications" shows


def test_the_agent_opening_a_ticket_reads_their_own_notifications_about_it(client, login_as, desk):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Export fails", body="500 on export")
    other_ticket = service.create_ticket(desk.org, desk.customer, subject="Login slow", body="Takes ages")
    db.session.commit()
    mine = _tell(desk.org, desk.agent, ticket)
    assigned = _tell(desk.org, desk.agent, ticket, "ticket.assigned")
    about_other = _tell(desk.org, desk.agent, other_ticket)
    colleagues = _tell(desk.org, desk.agent2, ticket)
    customers = _tell(desk.org, desk.customer, ticket)
    db.session.commit()

    login_as(desk.agent)
    assert client.get(f"/support/tickets/{ticket.public_id}").status_code == 200
    assert _read(mine) and _read(assigned)
    assert not _read(about_other) and not _read(colleagues) and not _read(customers)


def test_a_ticket_page_that_is_refused_reads_nothing(client, login_as, desk):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Export fails", body="500 on export")
    db.session.commit()
    colleagues = _tell(desk.org, desk.colleague, ticket)
    db.session.commit()
    login_as(desk.colleague)  # a plain member sees only their own tickets
    assert client.get(f"/o/acme/tickets/{ticket.public_id}").status_code == 404
    assert not _read(colleagues)
