"""ticket.status_changed: the customer who filed a ticket hears of explicit status changes, never of internal ones."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.notifications import service as notifications
from portal.notifications.catalog import CHANNELS, get_event
from portal.notifications.models import Notification
from portal.support import service


def _status_notes() -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(select(Notification).where(Notification.event == "ticket.status_changed").order_by(Notification.id)))


def test_the_event_is_in_the_catalog_with_a_default_template_for_every_channel(app, desk):
    event = get_event("ticket.status_changed")
    assert {"ticket_id", "subject", "old_status", "new_status"} <= set(event.variables)
    for channel in CHANNELS:
        rendered = notifications.preview(event.name, channel, *event.default_template(channel))
        assert "errors" not in rendered and rendered["body"].strip(), channel
    # it shows up in the preference matrix, so customers can mute it like the other ticket events
    assert "ticket.status_changed" in {row["event"] for row in notifications.preference_matrix(desk.org, desk.customer)}


def test_the_customer_is_told_by_inbox_and_email_when_an_agent_resolves_the_ticket(app, desk, client, login_as, mailbox, wait_for_jobs):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Export fails", body="500 on export")
    login_as(desk.agent)
    assert client.post(f"/support/tickets/{ticket.public_id}/update", data={"status": "resolved"}).status_code == 303
    [note] = _status_notes()
    assert note.user_id == desk.customer.id and note.in_inbox
    assert note.data["old_status"] == "Open" and note.data["new_status"] == "Resolved"
    # the customer's inbox shows it
    login_as(desk.customer)
    inbox = client.get("/o/acme/notifications").text
    assert "Resolved: #1 Export fails" in inbox and "from Open to Resolved" in inbox
    # and an email arrives, rendered from the default email template
    wait_for_jobs()
    [mail] = [m for m in mailbox.wait_for(desk.customer.email) if "Resolved" in str(m["Subject"])]
    assert str(mail["Subject"]) == "Resolved: #1 Export fails"  # the short number and the subject in words, no raw id
    assert "Agnes Agent changed #1 \"Export fails\" from Open to Resolved." in mailbox.text_of(mail)


def test_api_and_bulk_status_changes_tell_the_customer_too(app, desk, client, login_as):
    a = service.create_ticket(desk.org, desk.customer, subject="A", body="a")
    b = service.create_ticket(desk.org, desk.customer, subject="B", body="b")
    login_as(desk.agent)
    assert client.put(f"/api/v1/tickets/{a.public_id}", json={"status": "in_progress"}).status_code == 200
    assert client.post("/support/queue/bulk", data={"ticket": [b.public_id], "status": "waiting_on_customer"}).status_code == 303
    assert [(n.data["ticket_id"], n.data["new_status"], n.user_id) for n in _status_notes()] == [
        (a.public_id, "In progress", desk.customer.id), (b.public_id, "Waiting on customer", desk.customer.id)]


def test_no_status_notification_for_internal_notes_priority_or_assignment(app, desk):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Quiet", body="b")
    service.add_comment(ticket, desk.agent, "Internal: check the legacy plan", as_agent=True, internal=True)
    service.update_ticket(ticket, desk.agent, as_agent=True, priority="critical", category="bug", assignee_id=desk.agent2.public_id)
    service.set_status(ticket, "open", desk.agent, as_agent=True)  # no change at all
    assert _status_notes() == []
    # an agent's public reply moves open -> in progress: the customer hears of the reply, not twice
    service.add_comment(ticket, desk.agent, "Looking into it", as_agent=True)
    assert ticket.status == "in_progress" and _status_notes() == []


def test_the_customers_own_change_goes_to_the_assignee_not_back_to_them(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Done", body="b")
    service.assign(ticket, desk.agent.public_id, desk.agent2)
    login_as(desk.customer)
    assert client.post(f"/o/acme/tickets/{ticket.public_id}/status", data={"status": "closed"}).status_code == 303
    assert [(n.user_id, n.data["new_status"], n.data["changed_by"]) for n in _status_notes()] == [(desk.agent.id, "Closed", "Carol Customer")]
    # an org admin closing a colleague's ticket is not its requester: the customer is told
    other = service.create_ticket(desk.org, desk.customer, subject="Colleague closes", body="b")
    login_as(desk.admin)
    assert client.post(f"/o/acme/tickets/{other.public_id}/status", data={"status": "closed"}).status_code == 303
    assert (desk.customer.id, "Closed", "Ada Admin") in [(n.user_id, n.data["new_status"], n.data["changed_by"]) for n in _status_notes()]
