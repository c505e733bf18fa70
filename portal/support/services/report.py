"""The SLA report: of the tickets filed in a period, the share that met every target, per priority, and how many were
closed without a reply."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, or_

from portal.extensions import db
from portal.support.models import PRIORITIES, Ticket
from portal.tenancy import unscoped


def sla_report(start: datetime, end: datetime) -> list[dict]:
    """Per priority, of the tickets filed in [start, end) whose outcome is known (resolved, or breached already while
    still open): how many met every SLA target, and how many were resolved or closed before any agent replied
    ("unanswered": never met, though never breached either). Leaving a breached ticket open never improves the share."""
    query = (
        unscoped(Ticket, reason="the platform's SLA report covers every organization")
        .with_only_columns(Ticket.priority, Ticket.sla_breached, Ticket.sla_state, func.count())
        .where(Ticket.created_at >= start, Ticket.created_at < end, or_(Ticket.resolved_at.is_not(None), Ticket.sla_breached != ""))
        .group_by(Ticket.priority, Ticket.sla_breached, Ticket.sla_state)
    )
    out = {p: {"priority": p, "total": 0, "met": 0, "unanswered": 0} for p in PRIORITIES}
    for priority, breached, state, count in db.session.execute(query).all():
        out[priority]["total"] += count
        if not breached:
            out[priority]["unanswered" if state == "unanswered" else "met"] += count
    for row in out.values():
        row["share"] = (row["met"] / row["total"]) if row["total"] else None
    return list(out.values())


def report_period(first: date | None = None, last: date | None = None, *, today: date | None = None) -> tuple[date, date]:
    """The report's first and last day (both counted): by default the 30 days up to today (UTC)."""
    last = last or today or datetime.now(UTC).date()
    return first or last - timedelta(days=29), last


def sla_report_days(first: date, last: date) -> list[dict]:
    """sla_report over whole UTC days from first to last: "to" is the last day counted, up to the midnight after it."""
    return sla_report(datetime.combine(first, time(), tzinfo=UTC), datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC))
