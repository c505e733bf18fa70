"""A refused ticket change changes nothing: the API's PUT, the agent's form and the bulk action check every change
(the status transition included) before making the first, so a refused one leaves the ticket exactly as it was and
tells nobody: no notification row, no email."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.errors import Conflict, ValidationFailed
from portal.extensions import db
from portal.notifications.models import Notification
from portal.support import service
from portal.support.models import Ticket

FIELDS = ("status", "priority", "category", "assignee_id", "sla_state", "sla_warned", "sla_breached", "first_response_due_at",
          "resolution_due_at", "sla_paused_at", "sla_paused_seconds", "resolved_at", "closed_at", "last_activity_at")


def _closed_ticket(desk, subject: str = "Closed already") -> Ticket:
    ticket = service.create_ticket(desk.org, desk.customer, subject=subject, body="b", priority="low", category="question")
    service.set_status(ticket, "closed", desk.agent, as_agent=True)
    db.session.commit()
    return ticket


def _row(ticket: Ticket) -> dict:
    """The ticket as the database holds it."""
    db.session.expire_all()
    fresh = db.session.get(Ticket, ticket.id)
    return {name: getattr(fresh, name) for name in FIELDS}


def _notifications() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Notification.id)))


@pytest.fixture
def quiet(mailbox, wait_for_jobs):
    """Wait until the setup's emails are out, then start from an empty mailbox."""

    def settle():
        wait_for_jobs()
        mailbox.clear()

    return settle


def _nothing_sent(mailbox, wait_for_jobs, notifications_before: int) -> None:
    wait_for_jobs()
    assert _notifications() == notifications_before
    assert mailbox.messages == []


def test_the_service_checks_the_transition_before_it_changes_the_priority_or_the_assignee(app, desk):
    ticket = _closed_ticket(desk)
    before, notes = _row(ticket), _notifications()
    ticket = db.session.get(Ticket, ticket.id)
    with pytest.raises(Conflict) as exc:  # the review's reproduction: priority=critical, status=resolved on a closed ticket
        service.update_ticket(ticket, desk.agent, as_agent=True, priority="critical", assignee_id=desk.agent2.public_id, status="resolved")
    assert (exc.value.code, exc.value.status) == ("bad_transition", 409)
    assert (ticket.priority, ticket.assignee_id) == ("low", None)  # not even in memory
    db.session.flush()
    assert _row(ticket) == before and _notifications() == notes


def test_an_unknown_assignee_refuses_the_whole_update(app, desk):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Open", body="b", priority="low")
    db.session.commit()
    before = _row(ticket)
    with pytest.raises(ValidationFailed) as exc:
        service.update_ticket(db.session.get(Ticket, ticket.id), desk.agent, as_agent=True, status="in_progress", priority="high",
                              assignee_id=desk.customer.public_id)
    assert set(exc.value.fields) == {"assignee_id"}
    db.session.flush()
    assert _row(ticket) == before


def test_a_refused_api_update_leaves_the_ticket_as_it_was_and_tells_nobody(app, desk, client, login_as, mailbox, wait_for_jobs, quiet):
    ticket = _closed_ticket(desk)
    quiet()
    before, notes = _row(ticket), _notifications()
    login_as(desk.agent)
    r = client.put(f"/api/v1/tickets/{ticket.public_id}", json={"priority": "critical", "category": "bug",
                                                                 "assignee_id": desk.agent2.public_id, "status": "resolved"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "bad_transition"
    assert _row(ticket) == before
    _nothing_sent(mailbox, wait_for_jobs, notes)
    # the same change without the refused part goes through, and the new assignee is told
    ok = client.put(f"/api/v1/tickets/{ticket.public_id}", json={"priority": "critical", "assignee_id": desk.agent2.public_id})
    assert ok.status_code == 200 and (ok.get_json()["priority"], ok.get_json()["assignee_id"]) == ("critical", desk.agent2.public_id)
    assert _notifications() == notes + 1


def test_a_customers_refused_api_update_keeps_the_category_too(app, desk, client, login_as, mailbox, wait_for_jobs, quiet):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Mine", body="b", category="question")
    quiet()
    before, notes = _row(ticket), _notifications()
    login_as(desk.customer)
    r = client.put(f"/api/v1/tickets/{ticket.public_id}?org=acme", json={"category": "billing", "status": "resolved"})
    assert r.status_code == 409
    assert _row(ticket) == before
    _nothing_sent(mailbox, wait_for_jobs, notes)


def test_a_refused_agent_form_post_leaves_the_ticket_as_it_was_and_shows_why(app, desk, client, login_as, mailbox, wait_for_jobs, quiet):
    ticket = _closed_ticket(desk)
    quiet()
    before, notes = _row(ticket), _notifications()
    login_as(desk.agent)
    page = client.post(f"/support/tickets/{ticket.public_id}/update",
                       data={"status": "resolved", "priority": "critical", "category": "bug", "assignee_id": desk.agent2.public_id})
    assert page.status_code == 409
    assert "can&#39;t become resolved" in page.text and 'id="ticket-update"' in page.text  # the form again, with the reason
    assert _row(ticket) == before
    _nothing_sent(mailbox, wait_for_jobs, notes)


def test_a_bulk_action_skips_a_refused_ticket_whole_and_counts_only_the_changed(app, desk, client, login_as, mailbox, wait_for_jobs,
                                                                                 quiet):
    open_one = service.create_ticket(desk.org, desk.customer, subject="Open one", body="b")
    closed = _closed_ticket(desk, "Closed one")
    quiet()
    before_closed, notes = _row(closed), _notifications()
    login_as(desk.agent)
    r = client.post("/support/queue/bulk", data={"ticket": [open_one.public_id, closed.public_id], "status": "resolved",
                                                 "assignee_id": desk.agent2.public_id}, follow_redirects=True)
    assert r.status_code == 200
    assert "Updated 1 ticket." in r.text and f"Acme {closed.short_number}: A ticket that is closed can" in r.text
    assert closed.public_id not in r.text.split('id="flashes"')[1].split("</div>")[0]  # the number people read, not the id
    assert _row(closed) == before_closed  # not assigned, not told
    changed = _row(open_one)
    assert (changed["status"], changed["assignee_id"]) == ("resolved", desk.agent2.id)
    db.session.expire_all()
    told = db.session.scalars(select(Notification).where(Notification.id > 0).order_by(Notification.id)).all()[notes:]
    assert sorted((n.event, n.data["ticket_id"]) for n in told) == [
        ("ticket.assigned", open_one.public_id), ("ticket.status_changed", open_one.public_id)]
    wait_for_jobs()
    assert all(closed.public_id not in str(m["Subject"]) for m in mailbox.messages)


def test_bulk_update_reports_the_refused_ticket_and_changes_only_the_others(app, desk):
    open_one = service.create_ticket(desk.org, desk.customer, subject="Open one", body="b")
    closed = _closed_ticket(desk, "Closed one")
    before = _row(closed)
    changed, problems = service.bulk_update([open_one.public_id, closed.public_id, "tkt_nosuch"], desk.agent, status="resolved",
                                            assignee_id=desk.agent2.public_id)
    assert changed == 1 and len(problems) == 1 and problems[0].startswith(f"Acme {closed.short_number}:")
    db.session.flush()
    assert _row(closed) == before
