"""Changing an org's business hours or SLA targets moves the due dates of its open tickets, and only those."""

from __future__ import annotations

from datetime import UTC, datetime

from portal.extensions import db
from portal.support import service

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
DEFAULTS = {"low": (480, 2400), "medium": (240, 1440), "high": (60, 480), "critical": (30, 240)}


def _form(start="09:00", end="17:00", **targets):
    policies = {**DEFAULTS, **targets}
    return {"timezone": "UTC", "work_days": ["0", "1", "2", "3", "4"], "start_time": start, "end_time": end, "holidays": "",
            **{f"{p}_first": str(f) for p, (f, _r) in policies.items()}, **{f"{p}_resolution": str(r) for p, (_f, r) in policies.items()}}


def _filed_monday_10(org, user, priority="high", subject="Due"):
    ticket = service.create_ticket(org, user, subject=subject, body="b", priority=priority)
    ticket.created_at = MONDAY_10
    service.recompute_due(ticket)
    db.session.commit()
    return ticket


def _due(client, ticket) -> tuple[str, str]:
    """The resolution due date the agent's page shows and the one the API returns."""
    page = client.get(f"/support/tickets/{ticket.public_id}").text
    shown = page.split('Resolution due <time datetime="', 1)[1].split('"', 1)[0]
    return shown, client.get(f"/api/v1/tickets/{ticket.public_id}").get_json()["resolution_due_at"]


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_new_business_hours_and_targets_move_the_due_dates_shown(app, desk, client, login_as):
    url = f"/support/orgs/{desk.org.public_id}/sla"
    login_as(desk.agent)
    assert client.post(url, data=_form()).status_code == 303  # Mon-Fri 09-17 UTC, the default targets
    high = _filed_monday_10(desk.org, desk.customer)
    low = _filed_monday_10(desk.org, desk.customer, priority="low", subject="Low")
    done = _filed_monday_10(desk.org, desk.customer, subject="Done")
    service.set_status(done, "resolved", desk.agent, as_agent=True)
    elsewhere = _filed_monday_10(desk.other_org, desk.outsider, subject="Bravo")
    before = {t.public_id: t.resolution_due_at for t in (done, elsewhere)}
    # 8 business hours from Monday 10:00, 8 hours a day: Tuesday 10:00
    assert [_iso(v) for v in _due(client, high)] == [datetime(2026, 11, 24, 10, 0, tzinfo=UTC)] * 2

    # shorter days (09-13): Monday 3 h, Tuesday 4 h, Wednesday 1 h -> Wednesday 10:00
    assert client.post(url, data=_form(end="13:00")).status_code == 303
    assert [_iso(v) for v in _due(client, high)] == [datetime(2026, 11, 25, 10, 0, tzinfo=UTC)] * 2
    low_due = _iso(_due(client, low)[1])
    assert low_due == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # 40 h at 4 h a day: Monday 3 h + 9 days + 1 h, weekends off

    # a tighter resolution target for "high" moves only the high tickets: 120 business minutes -> Monday 12:00
    assert client.post(url, data=_form(end="13:00", high=(60, 120))).status_code == 303
    assert [_iso(v) for v in _due(client, high)] == [datetime(2026, 11, 23, 12, 0, tzinfo=UTC)] * 2
    assert _iso(_due(client, low)[1]) == low_due
    # past 100% of its new target, the ticket is breached at once, and the queue shows it
    db.session.expire_all()
    assert high.sla_state == "breached"
    assert high.public_id in client.get("/support/queue?sla=breached").text

    # closed tickets keep the dates they were measured against; another org's tickets are untouched
    db.session.expire_all()
    assert {t.public_id: db.session.get(type(t), t.id).resolution_due_at for t in (done, elsewhere)} == before


def test_unchanged_settings_rewrite_nothing(app, desk):
    service.set_calendar(desk.org, timezone="UTC", work_days="0,1,2,3,4", start_time="09:00", end_time="17:00", holidays=[])
    ticket = _filed_monday_10(desk.org, desk.customer)
    ticket.resolution_due_at = datetime(2030, 1, 1, tzinfo=UTC)  # a marker: a recompute would overwrite it
    db.session.commit()
    service.set_calendar(desk.org, timezone="UTC", work_days="0,1,2,3,4", start_time="09:00", end_time="17:00", holidays=[])
    service.set_policy(desk.org, "high", *DEFAULTS["high"])
    db.session.expire_all()
    assert ticket.resolution_due_at == datetime(2030, 1, 1, tzinfo=UTC)
    # a holiday on Tuesday is a change: the due date moves a working day later (Wednesday 10:00)
    service.set_calendar(desk.org, timezone="UTC", work_days="0,1,2,3,4", start_time="09:00", end_time="17:00", holidays=["2026-11-24"])
    db.session.expire_all()
    assert ticket.resolution_due_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
