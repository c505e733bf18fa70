"""SLA: an organization's business hours and targets, the due dates and pauses of its tickets, and the warnings and
breaches they reach, each claimed in the database before it is sent so that it is sent once."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Select, inspect, select, update
from sqlalchemy.orm.attributes import set_committed_value

from portal.errors import ValidationFailed
from portal.extensions import db
from portal.models import utcnow
from portal.orgs.models import Organization
from portal.support import sla
from portal.support.models import FINISHED, PRIORITIES, SlaPolicy, SupportCalendar, Ticket
from portal.support.services.desk import agents
from portal.support.services.notify import tell
from portal.tenancy import get_unscoped_or_404, scoped, scoped_or_platform, unscoped

# Business minutes: (first response, resolution) per priority, when neither the org nor the platform set one.
DEFAULT_POLICIES = {"low": (8 * 60, 40 * 60), "medium": (4 * 60, 24 * 60), "high": (60, 8 * 60), "critical": (30, 4 * 60)}
MAX_TARGET_MINUTES = 60 * 24 * 365
WARNING, BREACHED = "ticket.sla_warning", "ticket.sla_breached"
BATCH_SIZE = 200


def org_or_404(public_id: str) -> Organization:
    """Any organization by public id, for platform support staff setting its SLA (NotFound when there is none)."""
    return get_unscoped_or_404(Organization, public_id, reason="platform support staff set every organization's SLA")


def calendar_for(org: Organization) -> sla.Calendar:
    """The org's business-hours calendar (the default Monday–Friday 09:00–17:00 UTC when it set none)."""
    row = db.session.scalar(scoped(SupportCalendar, org))
    if row is None:
        return sla.Calendar()
    return sla.calendar_from(row.timezone, row.work_days, row.start_time, row.end_time, row.holidays)


def calendar_row(org: Organization) -> SupportCalendar:
    """The org's stored calendar, or an unsaved one with the defaults."""
    return db.session.scalar(scoped(SupportCalendar, org)) or SupportCalendar(
        org_id=org.id, timezone="UTC", work_days="0,1,2,3,4", start_time="09:00", end_time="17:00", holidays=[])


def targets_for(org: Organization, priority: str) -> tuple[int, int]:
    """(first response, resolution) targets in business seconds: the org's own, else the platform's, else the defaults."""
    rows = {r.org_id: r for r in db.session.scalars(scoped_or_platform(SlaPolicy, org).where(SlaPolicy.priority == priority))}
    row = rows.get(org.id) or rows.get(None)
    minutes = (row.first_response_minutes, row.resolution_minutes) if row else DEFAULT_POLICIES[priority]
    return minutes[0] * 60, minutes[1] * 60


def policies_for(org: Organization) -> dict[str, tuple[int, int]]:
    """{priority: (first response, resolution)} in business minutes, as they apply to org."""
    return {p: tuple(s // 60 for s in targets_for(org, p)) for p in PRIORITIES}


# ---------------------------------------------------------------- changing the settings


@dataclass(frozen=True)
class CalendarSettings:
    """Business hours as a person enters them: a zone, days ("0,1,2,3,4", Monday = 0), "HH:MM" times, ISO dates."""

    timezone: str = "UTC"
    work_days: str = "0,1,2,3,4"
    start_time: str = "09:00"
    end_time: str = "17:00"
    holidays: list[str] = field(default_factory=list)


def save_sla_settings(org: Organization, calendar: CalendarSettings | None = None,
                      policies: dict[str, tuple[int | None, int | None]] | None = None) -> None:
    """Store an org's business hours and/or its targets ({priority: (first response, resolution)} in business
    minutes), all or nothing: every value is checked before the first is written. Open tickets whose due dates
    the change moves are recomputed (and told of the warnings and breaches the new settings reach)."""
    policies = policies or {}
    errors: dict[str, str] = {}
    if calendar is not None:
        calendar, calendar_errors = _checked_calendar(calendar)
        errors.update(calendar_errors)
    for priority, (first, resolution) in policies.items():
        errors.update(_policy_problems(priority, first, resolution))
    if errors:
        raise ValidationFailed(errors)
    calendar_moved = calendar is not None and _store_calendar(org, calendar)
    moved = [p for p, (first, resolution) in policies.items() if _store_policy(org, p, first, resolution)]
    if calendar_moved:
        recompute_open_tickets(org)
    elif moved:
        recompute_open_tickets(org, moved)


def set_calendar(org: Organization, *, timezone: str, work_days: str, start_time: str, end_time: str, holidays: list[str]) -> None:
    """Store an org's business hours (see save_sla_settings)."""
    save_sla_settings(org, calendar=CalendarSettings(timezone, work_days, start_time, end_time, list(holidays)))


def set_policy(org: Organization, priority: str, first_response_minutes: int, resolution_minutes: int) -> None:
    """Set an org's targets for one priority, in business minutes (see save_sla_settings)."""
    save_sla_settings(org, policies={priority: (first_response_minutes, resolution_minutes)})


def _checked_calendar(entered: CalendarSettings) -> tuple[CalendarSettings, dict[str, str]]:
    """The settings in their stored form (times as HH:MM, dates as ISO), and a message per field that is wrong."""
    errors: dict[str, str] = {}
    zone = (entered.timezone or "UTC").strip()
    try:
        ZoneInfo(zone)
        if len(zone) > 64:
            raise ValueError(zone)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError; "../x" a ValueError
        errors["timezone"] = f"Not a valid calendar: there is no time zone {zone!r} (try Europe/Berlin)."
    days = [d.strip() for d in (entered.work_days or "").split(",") if d.strip()]
    if not all(d.isdigit() and int(d) <= 6 for d in days):
        errors["work_days"] = "Not a valid calendar: working days are 0 (Monday) to 6 (Sunday)."
    times = {}
    for name in ("start_time", "end_time"):
        text = (getattr(entered, name) or "").strip()
        if name == "end_time" and text == sla.END_OF_DAY:
            times[name] = text
            continue
        try:
            times[name] = time.fromisoformat(text).strftime("%H:%M")
        except ValueError:
            errors[name] = "Not a valid calendar: give a time like 09:00 (24:00 for the end of the day)."
    holidays = []
    for text in entered.holidays or []:
        try:
            holidays.append(date.fromisoformat(text.strip()).isoformat())
        except ValueError:
            errors["holidays"] = f"Not a valid calendar: {text!r} is not a date like 2026-12-25."
            break
    if errors:
        return entered, errors
    stored = CalendarSettings(zone, ",".join(sorted(set(days), key=int)), times["start_time"], times["end_time"], sorted(set(holidays)))
    cal = sla.calendar_from(stored.timezone, stored.work_days, stored.start_time, stored.end_time, stored.holidays)
    if not cal.has_working_time:
        errors["work_days"] = "Choose working days (0 = Monday … 6 = Sunday) and hours that open before they close."
    return stored, errors


def _policy_problems(priority: str, first: int | None, resolution: int | None) -> dict[str, str]:
    if priority not in PRIORITIES:
        return {"priority": f"Choose one of {', '.join(PRIORITIES)}."}
    targets = (first, resolution)
    if not all(isinstance(t, int) and not isinstance(t, bool) for t in targets) or not 0 < first <= resolution <= MAX_TARGET_MINUTES:
        return {f"{priority}_first": "Targets are positive, and the first response comes before the resolution."}
    return {}


def _store_calendar(org: Organization, settings: CalendarSettings) -> bool:
    """Write the org's calendar row; True when the calendar the clocks use changed."""
    before = calendar_for(org)
    row = db.session.scalar(scoped(SupportCalendar, org)) or SupportCalendar(org_id=org.id)
    row.timezone, row.work_days, row.start_time, row.end_time = settings.timezone, settings.work_days, settings.start_time, settings.end_time
    row.holidays = settings.holidays
    db.session.add(row)
    db.session.flush()
    return calendar_for(org) != before


def _store_policy(org: Organization, priority: str, first: int, resolution: int) -> bool:
    """Write the org's targets for one priority; True when the targets that apply changed."""
    before = targets_for(org, priority)
    row = db.session.scalar(scoped(SlaPolicy, org).where(SlaPolicy.priority == priority)) or SlaPolicy(org_id=org.id, priority=priority)
    row.first_response_minutes, row.resolution_minutes = first, resolution
    db.session.add(row)
    db.session.flush()
    return targets_for(org, priority) != before


def recompute_open_tickets(org: Organization, priorities: Iterable[str] | None = None, now: datetime | None = None) -> int:
    """After org's calendar or targets changed: recompute the due dates and SLA states of its open tickets (all, or
    those of some priorities), and send the warnings and breaches the new settings reach. Returns how many moved.

    Pauses already closed keep the business seconds measured under the calendar of their time."""
    now = now or utcnow()
    cal = calendar_for(org)
    query = scoped(Ticket, org).where(Ticket.status.notin_(FINISHED))
    if priorities is not None:
        query = query.where(Ticket.priority.in_(list(priorities)))
    moved = 0

    def recompute(ticket: Ticket) -> None:
        nonlocal moved
        due = (ticket.first_response_due_at, ticket.resolution_due_at)
        recompute_due(ticket, cal)
        moved += (ticket.first_response_due_at, ticket.resolution_due_at) != due

    after: int | None = 0
    while after is not None:
        _sent, after = _refresh_batch(query, after, now, before=recompute)
    return moved


# ---------------------------------------------------------------- the clock


def recompute_due(ticket: Ticket, cal: sla.Calendar | None = None) -> None:
    """Set the ticket's first-response and resolution due dates from its targets, calendar and closed pauses."""
    cal = cal or calendar_for(ticket.org)
    first, resolution = targets_for(ticket.org, ticket.priority)
    ticket.first_response_due_at = None if ticket.first_response_at else sla.due_at(cal, ticket.created_at, first, ticket.sla_paused_seconds)
    ticket.resolution_due_at = sla.due_at(cal, ticket.created_at, resolution, ticket.sla_paused_seconds)


def sla_status(ticket: Ticket, now: datetime | None = None, cal: sla.Calendar | None = None) -> dict[str, dict]:
    """Each running target's {used, target, state}; first response stops at the first agent reply."""
    now = now or utcnow()
    cal = cal or calendar_for(ticket.org)
    first, resolution = targets_for(ticket.org, ticket.priority)
    out = {}
    for name, target, done_at in (("first_response", first, ticket.first_response_at), ("resolution", resolution, ticket.resolved_at)):
        end = done_at or now
        used = sla.elapsed(cal, ticket.created_at, end, ticket.sla_paused_seconds, None if done_at else ticket.sla_paused_at)
        out[name] = {"used": used, "target": target, "state": sla.state(used, target), "done": done_at is not None}
    return out


def pause(ticket: Ticket, now: datetime) -> None:
    """Stop the SLA clock (no-op when it is already stopped)."""
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = now


def resume(ticket: Ticket, now: datetime) -> None:
    """Restart the SLA clock, adding the paused business time to the pauses and moving the due dates."""
    if ticket.sla_paused_at is not None:
        cal = calendar_for(ticket.org)
        ticket.sla_paused_seconds += sla.business_seconds(cal, ticket.sla_paused_at, now)
        ticket.sla_paused_at = None
        recompute_due(ticket, cal)


# ---------------------------------------------------------------- warnings and breaches, once each


def refresh_sla(ticket: Ticket, now: datetime | None = None) -> list[tuple[str, str]]:
    """Update the ticket's SLA state, and claim the warnings and breaches it newly reached: returns the (event, target)
    pairs this call claimed, for the caller to send (see notify_sla). A pair another process claimed first is not
    returned, so two schedulers (or a scheduler and an agent's change) never send the same warning twice."""
    status = sla_status(ticket, now)
    for _attempt in range(3):
        stored = _stored_flags(ticket)
        reached, flags = _reached(ticket, status, stored)
        state = _overall_state(ticket, status, breached=flags[1])
        if flags == stored:
            ticket.sla_state = state
            return reached  # nothing new, so nothing to claim (reached is empty)
        if _claim(ticket, stored, flags, state):
            return reached
        _reload_flags(ticket)  # another process wrote them since we read them: decide again on what it wrote
    return []


def notify_sla(ticket: Ticket, event: str, target: str) -> None:
    """Tell the assignee (or every agent when nobody is assigned) of a warning or breach refresh_sla claimed."""
    details = {"target": target.replace("_", " ")}
    if event == WARNING:
        due = ticket.first_response_due_at if target == "first_response" else ticket.resolution_due_at
        details["due_at"] = due.strftime("%Y-%m-%d %H:%M UTC") if due else ""
    tell(ticket, [ticket.assignee] if ticket.assignee else agents(), event, **details)


def _split(flags: str) -> set[str]:
    return set(filter(None, flags.split(",")))


def _reached(ticket: Ticket, status: dict, stored: tuple[str, str]) -> tuple[list[tuple[str, str]], tuple[str, str]]:
    """The (event, target) pairs newly reached, and the warned and breached flags with them."""
    warned, breached = _split(stored[0]), _split(stored[1])
    reached = []
    running = ticket.is_open and ticket.sla_paused_at is None
    for name, s in status.items():
        if s["done"]:
            if s["state"] == "breached":
                breached.add(name)  # a target met late still counts as breached (nobody is told any more)
        elif running and s["state"] == "breached" and name not in breached:
            breached.add(name)
            reached.append((BREACHED, name))
        elif running and s["state"] == "warning" and name not in warned:
            warned.add(name)
            reached.append((WARNING, name))
    return reached, (",".join(sorted(warned)), ",".join(sorted(breached)))


def _overall_state(ticket: Ticket, status: dict, *, breached: str) -> str:
    """The one SLA state the queue shows: once done, breached, else unanswered when no agent ever replied (its first
    response target was never met), else met; paused; else the worst running target's."""
    if not ticket.is_open:
        if breached:
            return "breached"
        return "unanswered" if ticket.first_response_at is None else "met"
    if ticket.sla_paused_at is not None:
        return "paused"
    states = {s["state"] for s in status.values() if not s["done"]}
    if "breached" in states or breached:
        return "breached"
    return "warning" if "warning" in states else "ok"


def _stored_flags(ticket: Ticket) -> tuple[str, str]:
    """The warned and breached flags as this transaction read them from the database (not as the object now says)."""
    state = inspect(ticket)
    values = []
    for name in ("sla_warned", "sla_breached"):
        current = getattr(ticket, name)  # loads an expired attribute
        history = state.attrs[name].history
        values.append(history.deleted[0] if history.deleted else current)
    return values[0], values[1]


def _claim(ticket: Ticket, stored: tuple[str, str], flags: tuple[str, str], state: str) -> bool:
    """Write the new flags only if the row still holds the ones we read (UPDATE ... WHERE flags = read): True when
    this transaction made the change. A concurrent claimer waits for our commit, then matches no row."""
    if inspect(ticket).persistent is False:  # not in the database yet: nobody else can have seen it
        ticket.sla_warned, ticket.sla_breached, ticket.sla_state = *flags, state
        return True
    claim = (
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.sla_warned == stored[0], Ticket.sla_breached == stored[1])
        .values(sla_warned=flags[0], sla_breached=flags[1], sla_state=state)
        .execution_options(synchronize_session=False)
    )
    with db.session.no_autoflush:  # a flush now would write the flags without the condition
        if db.session.execute(claim).rowcount != 1:
            return False
    for name, value in (("sla_warned", flags[0]), ("sla_breached", flags[1]), ("sla_state", state)):
        set_committed_value(ticket, name, value)  # written already: the next flush leaves them alone
    return True


def _reload_flags(ticket: Ticket) -> None:
    with db.session.no_autoflush:
        warned, breached, state = db.session.execute(
            select(Ticket.sla_warned, Ticket.sla_breached, Ticket.sla_state).where(Ticket.id == ticket.id)).one()
    for name, value in (("sla_warned", warned), ("sla_breached", breached), ("sla_state", state)):
        set_committed_value(ticket, name, value)


# ---------------------------------------------------------------- the scheduled check


def _running_tickets() -> Select:
    return unscoped(Ticket, reason="the SLA job checks every organization's open tickets").where(
        Ticket.status.notin_(FINISHED), Ticket.sla_paused_at.is_(None))


def check_sla_batch(after_id: int = 0, now: datetime | None = None) -> tuple[int, int | None]:
    """One batch of the scheduled check: refresh the SLA state of up to 200 open, running tickets after after_id
    (in id order) and send the warnings and breaches they reached. Returns (sent, the last id; None at the end)."""
    return _refresh_batch(_running_tickets(), after_id, now or utcnow())


def check_sla_all(now: datetime | None = None) -> int:
    """The whole scheduled check in the caller's unit of work; returns how many warnings and breaches were sent."""
    sent, after = 0, 0
    while after is not None:
        count, after = check_sla_batch(after, now)
        sent += count
    return sent


def _refresh_batch(query: Select, after_id: int, now: datetime, before: Callable[[Ticket], None] | None = None) -> tuple[int, int | None]:
    """Refresh the SLA state of the next BATCH_SIZE tickets of query after after_id, calling before(ticket) first,
    and send what each claimed. Returns (sent, the last id; None when there were none)."""
    batch = list(db.session.scalars(query.where(Ticket.id > after_id).order_by(Ticket.id).limit(BATCH_SIZE)))
    if not batch:
        return 0, None
    sent = 0
    for ticket in batch:
        if before is not None:
            before(ticket)
        for event, target in refresh_sla(ticket, now):
            notify_sla(ticket, event, target)
            sent += 1
    return sent, batch[-1].id
