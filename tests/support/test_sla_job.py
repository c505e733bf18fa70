"""The scheduled SLA job: warnings at 80% and breaches, once each, paused while waiting on the customer."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.infra import jobs
from portal.models import utcnow
from portal.notifications.models import Notification
from portal.support import service, tasks
from portal.support.models import SlaPolicy, Ticket


def _setup(desk):
    service.set_calendar(desk.org, timezone="UTC", work_days="0,1,2,3,4,5,6", start_time="00:00", end_time="24:00", holidays=[])
    db.session.add(SlaPolicy(org_id=desk.org.id, priority="high", first_response_minutes=60, resolution_minutes=100))
    db.session.commit()


def _aged_ticket(desk, minutes: int, **kw) -> Ticket:
    ticket = service.create_ticket(desk.org, desk.customer, subject="Aged", body="b", priority="high", **kw)
    ticket.created_at = utcnow() - timedelta(minutes=minutes)
    service.recompute_due(ticket)
    db.session.commit()
    return ticket


def _events(ticket_id: str) -> list[tuple[str, int]]:
    db.session.expire_all()
    rows = db.session.scalars(select(Notification).where(Notification.event.like("ticket.sla%"))).all()
    return sorted((n.event, n.user_id) for n in rows if n.data.get("ticket_id") == ticket_id)


def test_warnings_and_breaches_are_sent_once_by_the_scheduled_job(app, desk, wait_for_jobs):
    _setup(desk)
    ticket = _aged_ticket(desk, 85)  # first response (60) breached, resolution (100) at 85%: warning
    service.assign(ticket, desk.agent.public_id, desk.agent2)
    jobs.enqueue(tasks.check_sla)
    wait_for_jobs()
    assert _events(ticket.public_id) == [("ticket.sla_breached", desk.agent.id), ("ticket.sla_warning", desk.agent.id)]
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.sla_state == "breached" and ticket.sla_breached == "first_response" and ticket.sla_warned == "resolution"
    jobs.enqueue(tasks.check_sla)
    wait_for_jobs()
    assert len(_events(ticket.public_id)) == 2  # not again


def test_a_ticket_waiting_on_the_customer_is_paused_and_not_warned(app, desk):
    _setup(desk)
    ticket = _aged_ticket(desk, 50)
    service.add_comment(ticket, desk.agent, "Which browser?", as_agent=True)
    service.set_status(ticket, "waiting_on_customer", desk.agent, as_agent=True)
    ticket.sla_paused_at = utcnow() - timedelta(minutes=45)  # waiting for most of the time since
    db.session.commit()
    assert service.check_sla_all() == 0
    assert ticket.sla_state == "paused"
    service.add_comment(ticket, desk.customer, "Firefox", as_agent=False)
    assert ticket.sla_paused_at is None and ticket.sla_paused_seconds >= 44 * 60
    assert service.sla_status(ticket)["resolution"]["used"] < 10 * 60
    assert service.check_sla_all() == 0 and ticket.sla_state == "ok"


def test_the_queue_shows_and_filters_by_sla_state(app, desk, client, login_as):
    _setup(desk)
    late = _aged_ticket(desk, 120)
    fresh = _aged_ticket(desk, 1)
    service.check_sla_all()
    login_as(desk.agent)
    html = client.get("/support/queue?sla=breached").text
    assert late.public_id in html and fresh.public_id not in html
    assert "sla-breached" in html


def test_agents_set_an_orgs_calendar_and_targets_and_bad_input_is_refused(app, desk, client, login_as):
    login_as(desk.agent)
    url = f"/support/orgs/{desk.org.public_id}/sla"
    assert client.get(url).status_code == 200
    form = {"timezone": "Europe/Berlin", "work_days": ["0", "1", "2", "3"], "start_time": "08:00", "end_time": "16:00",
            "holidays": "2026-12-24\n2026-12-25", **{f"{p}_first": "30" for p in ("low", "medium", "high", "critical")},
            **{f"{p}_resolution": "600" for p in ("low", "medium", "high", "critical")}}
    assert client.post(url, data=form).status_code == 303
    cal = service.calendar_for(desk.org)
    assert cal.timezone == "Europe/Berlin" and cal.work_days == frozenset({0, 1, 2, 3}) and len(cal.holidays) == 2
    assert service.targets_for(desk.org, "low") == (30 * 60, 600 * 60)
    bad = client.post(url, data={**form, "timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and "Not a valid calendar" in bad.text
    login_as(desk.admin)
    assert client.get(url).status_code == 404


def test_raising_the_priority_sends_the_warning_or_breach_it_reaches_at_once(app, desk):
    _setup(desk)  # high: first response 60 min, resolution 100 min
    ticket = service.create_ticket(desk.org, desk.customer, subject="Aged", body="b", priority="low")
    ticket.created_at = utcnow() - timedelta(minutes=85)
    service.recompute_due(ticket)
    db.session.commit()
    service.assign(ticket, desk.agent.public_id, desk.agent2)
    service.update_ticket(ticket, desk.agent, as_agent=True, priority="high")
    assert _events(ticket.public_id) == [("ticket.sla_breached", desk.agent.id), ("ticket.sla_warning", desk.agent.id)]


# ---------------------------------------------------------------- two schedulers at once: each warning is sent once


def _sla_notes() -> list[tuple[str, str, int]]:
    db.session.expire_all()
    rows = db.session.scalars(select(Notification).where(Notification.event.like("ticket.sla%"))).all()
    return sorted((n.event, n.data["ticket_id"], n.user_id) for n in rows)


def test_a_scheduler_that_read_the_tickets_before_another_sent_their_warnings_sends_none_again(app, desk):
    _setup(desk)
    ticket = _aged_ticket(desk, 85)  # first response breached, resolution at its warning
    service.assign(ticket, desk.agent.public_id, desk.agent2)
    db.session.commit()
    assert ticket.sla_warned == "" and ticket.sla_breached == ""  # this session has read the ticket before any warning
    # another scheduler (its own app context and session) checks and commits first
    with app.app_context():
        assert jobs.execute(jobs.job_path(tasks.check_sla)) == 2
    # this one still holds what it read, as a scheduler that started at the same moment would: it must not send again
    assert service.check_sla_all() == 0
    db.session.commit()
    assert _sla_notes() == [("ticket.sla_breached", ticket.public_id, desk.agent.id), ("ticket.sla_warning", ticket.public_id, desk.agent.id)]


def test_two_schedulers_running_the_job_at_the_same_moment_send_each_warning_once(app, desk, monkeypatch):
    import threading

    from portal.support.services import sla as sla_service

    _setup(desk)
    tickets = [_aged_ticket(desk, 85), _aged_ticket(desk, 70)]  # breached + warning; breached (resolution at 70%: ok)
    db.session.commit()
    # Both jobs read the tickets before either claims a warning: each waits for the other right after its read.
    both_have_read, real_status, seen = threading.Barrier(2, timeout=20), sla_service.sla_status, threading.local()

    def status_after_both_read(ticket, now=None, cal=None):
        if not getattr(seen, "waited", False):
            seen.waited = True
            both_have_read.wait()
        return real_status(ticket, now, cal)

    monkeypatch.setattr(sla_service, "sla_status", status_after_both_read)
    results, errors = [], []

    def scheduler():
        try:
            with app.app_context():
                results.append(jobs.execute(jobs.job_path(tasks.check_sla)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(results) == [0, 3]  # one of them sent all three, the other none
    reached = [("ticket.sla_breached", tickets[0]), ("ticket.sla_warning", tickets[0]), ("ticket.sla_breached", tickets[1])]
    # unassigned: every agent is told, once
    assert _sla_notes() == sorted((event, t.public_id, agent.id) for event, t in reached for agent in (desk.agent, desk.agent2))
