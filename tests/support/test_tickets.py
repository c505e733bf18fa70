"""Tickets: filing, the status flow, replies reopening, assignment and round-robin, ratings, scoping."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.errors import ServiceError
from portal.extensions import db
from portal.notifications.models import Notification
from portal.support import service
from portal.support.models import Ticket


def _file(desk, **kw):
    fields = {"subject": "Export fails", "body": "It **fails** with 500.", "category": "bug", "priority": "high", **kw}
    return service.create_ticket(desk.org, desk.customer, **fields)


def test_a_member_files_a_ticket_and_agents_are_told(app, desk, wait_for_jobs):
    ticket = _file(desk)
    assert ticket.public_id.startswith("tkt_") and ticket.status == "open" and ticket.sla_state == "ok"
    assert ticket.first_response_due_at is not None and ticket.resolution_due_at > ticket.created_at
    notes = db.session.scalars(select(Notification).where(Notification.event == "ticket.created")).all()
    assert {n.user_id for n in notes} == {desk.agent.id, desk.agent2.id}


def test_a_ticket_needs_a_subject_and_a_known_priority(app, desk):
    with pytest.raises(ServiceError) as exc:
        service.create_ticket(desk.org, desk.customer, subject=" ", body="x", priority="urgent")
    assert set(exc.value.fields) == {"subject", "priority"}


def test_status_flow_and_a_customer_reply_reopens_a_resolved_ticket(app, desk):
    ticket = _file(desk)
    service.set_status(ticket, "in_progress", desk.agent, as_agent=True)
    service.set_status(ticket, "waiting_on_customer", desk.agent, as_agent=True)
    assert ticket.sla_paused_at is not None and ticket.sla_state == "paused"
    service.add_comment(ticket, desk.customer, "Here are the details", as_agent=False)
    assert ticket.status == "open" and ticket.sla_paused_at is None
    service.set_status(ticket, "resolved", desk.agent, as_agent=True)
    assert ticket.resolved_at is not None
    service.add_comment(ticket, desk.customer, "Still broken", as_agent=False)
    assert ticket.status == "open" and ticket.resolved_at is None
    service.set_status(ticket, "closed", desk.agent, as_agent=True)
    with pytest.raises(ServiceError) as exc:
        service.set_status(ticket, "in_progress", desk.agent, as_agent=True)
    assert exc.value.status == 409


def test_customers_may_only_close_and_reopen(app, desk):
    ticket = _file(desk)
    with pytest.raises(ServiceError):
        service.set_status(ticket, "resolved", desk.customer, as_agent=False)
    service.set_status(ticket, "closed", desk.customer, as_agent=False)
    service.set_status(ticket, "open", desk.customer, as_agent=False)
    assert ticket.status == "open"


def test_an_agent_reply_is_the_first_response_and_starts_progress(app, desk):
    ticket = _file(desk)
    service.add_comment(ticket, desk.agent, "Looking", as_agent=True, internal=True)
    assert ticket.first_response_at is None  # an internal note is not a response
    service.add_comment(ticket, desk.agent, "We're on it", as_agent=True)
    assert ticket.first_response_at is not None and ticket.status == "in_progress" and ticket.first_response_due_at is None


def test_only_agents_write_internal_notes(app, desk):
    ticket = _file(desk)
    with pytest.raises(ServiceError) as exc:
        service.add_comment(ticket, desk.customer, "sneaky", as_agent=False, internal=True)
    assert exc.value.status == 403


def test_round_robin_hands_tickets_to_available_agents_in_turn(app, desk):
    assert _file(desk).assignee_id is None  # nobody available
    service.set_available(desk.agent, True)
    service.set_available(desk.agent2, True)
    owners = [_file(desk, subject=f"T{i}").assignee_id for i in range(4)]
    assert owners[0] != owners[1] and owners[0] == owners[2] and owners[1] == owners[3]
    service.set_available(desk.agent2, False)
    assert {_file(desk, subject=f"U{i}").assignee_id for i in range(2)} == {desk.agent.id}


def test_assigning_by_hand_needs_an_agent_and_tells_them(app, desk):
    ticket = _file(desk)
    with pytest.raises(ServiceError):
        service.assign(ticket, desk.customer.public_id, desk.agent)
    service.assign(ticket, desk.agent2.public_id, desk.agent)
    assert ticket.assignee_id == desk.agent2.id
    assert db.session.scalar(select(Notification).where(Notification.event == "ticket.assigned", Notification.user_id == desk.agent2.id))


def test_a_resolved_ticket_is_rated_once_resolved(app, desk):
    ticket = _file(desk)
    with pytest.raises(ServiceError):
        service.rate(ticket, desk.customer, 5)
    service.set_status(ticket, "resolved", desk.agent, as_agent=True)
    with pytest.raises(ServiceError):
        service.rate(ticket, desk.customer, 6)
    service.rate(ticket, desk.customer, 4, "quick")
    assert (ticket.rating, ticket.rating_comment) == (4, "quick")


def test_canned_replies_fill_in_variables_with_the_short_number_without_running_templates(app, desk):
    ticket = _file(desk)
    reply = service.create_canned("Hello", "Hi {{ customer_name }}, about {{ ticket_id }}: {{ config }} {% if 1 %}x{% endif %}")
    text = service.render_canned(reply.public_id, ticket, desk.agent)
    assert text == "Hi Carol Customer, about #1: {{ config }} {% if 1 %}x{% endif %}"


def test_the_sla_report_counts_met_tickets_by_priority(app, desk):
    from datetime import timedelta

    from portal.models import utcnow

    a, b = _file(desk), _file(desk, subject="Second")
    service.add_comment(a, desk.agent, "Fixed.", as_agent=True)  # answered: resolved without a reply is not met
    service.set_status(a, "resolved", desk.agent, as_agent=True)
    b.sla_breached = "resolution"
    db.session.commit()
    service.set_status(b, "resolved", desk.agent, as_agent=True)
    rows = {r["priority"]: r for r in service.sla_report(utcnow() - timedelta(days=1), utcnow() + timedelta(days=1))}
    assert (rows["high"]["total"], rows["high"]["met"], rows["high"]["share"]) == (2, 1, 0.5)
    assert rows["low"]["share"] is None


# ---------------------------------------------------------------- pages and scoping


def test_customer_pages_list_and_show_own_tickets(app, desk, client, login_as):
    ticket = _file(desk, subject="Customer visible subject")
    login_as(desk.customer)
    page = client.get("/o/acme/tickets")
    assert page.status_code == 200 and "Customer visible subject" in page.text
    show = client.get(f"/o/acme/tickets/{ticket.public_id}")
    assert show.status_code == 200 and "<strong>fails</strong>" in show.text
    fragment = client.get(f"/o/acme/tickets/{ticket.public_id}", headers={"HX-Request": "true"})
    assert 'id="thread"' in fragment.text and "<html" not in fragment.text


def test_another_orgs_ticket_is_a_404(app, desk, client, login_as):
    ticket = _file(desk)
    login_as(desk.outsider)
    assert client.get(f"/o/acme/tickets/{ticket.public_id}").status_code == 404
    assert client.get(f"/o/bravo/tickets/{ticket.public_id}").status_code == 404
    assert client.post(f"/o/bravo/tickets/{ticket.public_id}/comments", data={"body": "hi"}).status_code == 404
    assert client.get(f"/api/v1/tickets/{ticket.public_id}?org=bravo").status_code == 404


def test_a_colleagues_ticket_is_a_404_but_an_org_admin_sees_all(app, desk, client, login_as):
    ticket = _file(desk)
    login_as(desk.colleague)
    assert client.get(f"/o/acme/tickets/{ticket.public_id}").status_code == 404
    assert ticket.public_id not in client.get("/o/acme/tickets").text
    login_as(desk.admin)
    assert client.get(f"/o/acme/tickets/{ticket.public_id}").status_code == 200


def test_markdown_is_rendered_safely(app, desk, client, login_as):
    ticket = _file(desk, body="<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>")
    login_as(desk.customer)
    html = client.get(f"/o/acme/tickets/{ticket.public_id}").text
    assert "<script>alert" not in html and 'href="javascript' not in html and "<img src=x" not in html


def test_filing_from_the_page_with_a_file_and_replying(app, desk, client, login_as):
    import io

    login_as(desk.customer)
    response = client.post("/o/acme/tickets", data={"subject": "From the page", "body": "Body", "category": "bug", "priority": "low",
                                                     "file": (io.BytesIO(b"log line\n"), "app.log")}, content_type="multipart/form-data")
    assert response.status_code == 303
    ticket = db.session.scalar(select(Ticket).filter_by(subject="From the page"))
    assert [a.filename for a in service.attachments(ticket, for_agent=False)] == ["app.log"]
    reply = client.post(f"/o/acme/tickets/{ticket.public_id}/comments", data={"body": "More info"})
    assert reply.status_code == 303
    bad = client.post("/o/acme/tickets", data={"subject": "", "body": ""})
    assert bad.status_code == 422 and "field-error" in bad.text


def test_agents_work_tickets_at_support_and_others_get_404(app, desk, client, login_as):
    ticket = _file(desk, subject="Queue subject")
    login_as(desk.admin)
    assert client.get("/support/queue").status_code == 404
    assert client.get(f"/support/tickets/{ticket.public_id}").status_code == 404
    login_as(desk.agent)
    assert "Queue subject" in client.get("/support/queue").text
    assert client.get(f"/support/tickets/{ticket.public_id}").status_code == 200
    r = client.post(f"/support/tickets/{ticket.public_id}/update", data={"status": "in_progress", "priority": "critical", "assignee_id": desk.agent.public_id})
    assert r.status_code == 303
    db.session.refresh(ticket)
    assert (ticket.status, ticket.priority, ticket.assignee_id) == ("in_progress", "critical", desk.agent.id)
