"""Support logic: the one place pages, the API and jobs call. Internal notes never leave through here
to a customer: every customer-facing read goes through `thread(..., for_agent=False)`."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import abort, current_app
from sqlalchemy import and_, false, func, or_, select, union
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.errors import ServiceError, ValidationFailed
from portal.extensions import db
from portal.infra.storage import storage
from portal.models import utcnow
from portal.orgs.models import Membership, Organization
from portal.pagination import Page
from portal.roles import role_allows
from portal.support import sla
from portal.support.attachments import check_upload
from portal.support.models import (
    CATEGORIES,
    PRIORITIES,
    PRIORITY_RANK,
    SEARCH_CONFIG,
    STATUSES,
    AgentState,
    CannedReply,
    SavedView,
    SlaPolicy,
    SupportCalendar,
    Ticket,
    TicketAttachment,
    TicketComment,
    comment_search_vector,
    ticket_search_vector,
)
from portal.tenancy import scoped

log = logging.getLogger(__name__)

# Business minutes: (first response, resolution) per priority, when neither the org nor the platform set one.
DEFAULT_POLICIES = {"low": (8 * 60, 40 * 60), "medium": (4 * 60, 24 * 60), "high": (60, 8 * 60), "critical": (30, 4 * 60)}
# Status flow for agents; customers may only close, and reopen by replying or with the reopen button.
TRANSITIONS = {
    "open": {"in_progress", "waiting_on_customer", "resolved", "closed"},
    "in_progress": {"open", "waiting_on_customer", "resolved", "closed"},
    "waiting_on_customer": {"open", "in_progress", "resolved", "closed"},
    "resolved": {"closed", "open"},
    "closed": {"open"},
}
STATUS_LABELS = {"open": "Open", "in_progress": "In progress", "waiting_on_customer": "Waiting on customer", "resolved": "Resolved", "closed": "Closed"}


def is_agent(user: User | None) -> bool:
    """Platform staff who work the support queue."""
    return bool(user and user.is_authenticated and role_allows(user.platform_role, "platform.support"))


def agents(available_only: bool = False) -> list[User]:
    """Every support agent (platform role support_agent), optionally only those marked available."""
    query = select(User).where(User.platform_role == "support_agent", User.is_suspended.is_(False))
    if available_only:
        query = query.join(AgentState, AgentState.user_id == User.id).where(AgentState.available.is_(True))
    return list(db.session.scalars(query.order_by(User.id)))


# ---------------------------------------------------------------- SLA


def calendar_for(org_id: int) -> sla.Calendar:
    """The org's business-hours calendar (the default Monday–Friday 09:00–17:00 UTC when it set none)."""
    row = db.session.scalar(select(SupportCalendar).filter_by(org_id=org_id))
    if row is None:
        return sla.Calendar()
    return sla.calendar_from(row.timezone, row.work_days, row.start_time, row.end_time, row.holidays)


def targets_for(org_id: int, priority: str) -> tuple[int, int]:
    """(first response, resolution) targets in business seconds."""
    rows = {r.org_id: r for r in db.session.scalars(select(SlaPolicy).where(SlaPolicy.priority == priority, or_(SlaPolicy.org_id == org_id, SlaPolicy.org_id.is_(None))))}
    row = rows.get(org_id) or rows.get(None)
    minutes = (row.first_response_minutes, row.resolution_minutes) if row else DEFAULT_POLICIES[priority]
    return minutes[0] * 60, minutes[1] * 60


def set_calendar(org: Organization, *, timezone: str, work_days: str, start_time: str, end_time: str, holidays: list[str]) -> SupportCalendar:
    """Store an org's business hours (checked by building the Calendar first)."""
    try:
        cal = sla.calendar_from(timezone, work_days, start_time, end_time, holidays)
        cal.tz  # noqa: B018 - loads the zone: an unknown one raises here
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's input
        raise ValidationFailed({"calendar": f"Not a valid calendar: {exc}"}) from exc
    if not cal.has_working_time or not cal.work_days <= set(range(7)):
        raise ValidationFailed({"calendar": "Choose working days (0 = Monday … 6 = Sunday) and hours that open before they close."})
    before = calendar_for(org.id)
    row = db.session.scalar(select(SupportCalendar).filter_by(org_id=org.id)) or SupportCalendar(org_id=org.id)
    row.timezone, row.work_days, row.start_time, row.end_time, row.holidays = timezone, work_days, start_time, end_time, holidays
    db.session.add(row)
    db.session.commit()
    if cal != before:
        recompute_open_tickets(org)
    return row


def org_or_404(public_id: str) -> Organization:
    """Any organization by public id, for platform staff."""
    org = db.session.scalar(select(Organization).filter_by(public_id=public_id))
    if org is None:
        abort(404)
    return org


def calendar_row(org: Organization) -> SupportCalendar:
    """The org's stored calendar, or an unsaved one with the defaults."""
    return db.session.scalar(select(SupportCalendar).filter_by(org_id=org.id)) or SupportCalendar(
        org_id=org.id, timezone="UTC", work_days="0,1,2,3,4", start_time="09:00", end_time="17:00", holidays=[])


def policies_for(org: Organization) -> dict[str, tuple[int, int]]:
    """{priority: (first response, resolution)} in business minutes, as they apply to org."""
    return {p: tuple(s // 60 for s in targets_for(org.id, p)) for p in PRIORITIES}


def set_policy(org: Organization, priority: str, first_response_minutes: int, resolution_minutes: int) -> SlaPolicy:
    """Set an org's targets for one priority (business minutes)."""
    if priority not in PRIORITIES:
        raise ValidationFailed({"priority": f"Choose one of {', '.join(PRIORITIES)}."})
    if not (0 < first_response_minutes <= resolution_minutes <= 60 * 24 * 365):
        raise ValidationFailed({f"{priority}_first": "Targets are positive, and the first response comes before the resolution."})
    before = targets_for(org.id, priority)
    row = db.session.scalar(select(SlaPolicy).filter_by(org_id=org.id, priority=priority)) or SlaPolicy(org_id=org.id, priority=priority)
    row.first_response_minutes, row.resolution_minutes = first_response_minutes, resolution_minutes
    db.session.add(row)
    db.session.commit()
    if targets_for(org.id, priority) != before:
        recompute_open_tickets(org, priority)
    return row


def recompute_open_tickets(org: Organization, priority: str | None = None, now: datetime | None = None) -> int:
    """After org's calendar or targets changed: recompute the due dates and SLA states of its open tickets (all,
    or one priority's), and send the warnings and breaches the new settings reach. Returns how many changed.

    Pauses already closed keep the business seconds measured under the calendar of their time."""
    now = now or utcnow()
    cal = calendar_for(org.id)
    query = scoped(Ticket, org).where(Ticket.status.notin_(("resolved", "closed"))).order_by(Ticket.id)
    if priority is not None:
        query = query.where(Ticket.priority == priority)
    changed = 0

    def recompute(ticket: Ticket) -> None:
        nonlocal changed
        due = (ticket.first_response_due_at, ticket.resolution_due_at)
        _recompute_due(ticket, cal)
        changed += (ticket.first_response_due_at, ticket.resolution_due_at) != due

    _refresh_in_batches(query, now, before=recompute)
    return changed


def _recompute_due(ticket: Ticket, cal: sla.Calendar | None = None) -> None:
    """Set the ticket's first-response and resolution due dates from its targets, calendar and closed pauses."""
    cal = cal or calendar_for(ticket.org_id)
    first, resolution = targets_for(ticket.org_id, ticket.priority)
    ticket.first_response_due_at = None if ticket.first_response_at else sla.due_at(cal, ticket.created_at, first, ticket.sla_paused_seconds)
    ticket.resolution_due_at = sla.due_at(cal, ticket.created_at, resolution, ticket.sla_paused_seconds)


def sla_status(ticket: Ticket, now: datetime | None = None, cal: sla.Calendar | None = None) -> dict[str, dict]:
    """Each running target's {used, target, state}; first response stops at the first agent reply."""
    now = now or utcnow()
    cal = cal or calendar_for(ticket.org_id)
    first, resolution = targets_for(ticket.org_id, ticket.priority)
    out = {}
    for name, target, done_at in (("first_response", first, ticket.first_response_at), ("resolution", resolution, ticket.resolved_at)):
        end = done_at or now
        used = sla.elapsed(cal, ticket.created_at, end, ticket.sla_paused_seconds, None if done_at else ticket.sla_paused_at)
        out[name] = {"used": used, "target": target, "state": sla.state(used, target), "done": done_at is not None}
    return out


def _overall_state(ticket: Ticket, status: dict) -> str:
    """The one SLA state the queue shows: met/breached once done, paused, else the worst running target's."""
    if not ticket.is_open:
        return "breached" if ticket.sla_breached else "met"
    if ticket.sla_paused_at is not None:
        return "paused"
    states = [s["state"] for s in status.values() if not s["done"]]
    for candidate in ("breached", "warning"):
        if candidate in states or (candidate == "breached" and ticket.sla_breached):
            return candidate
    return "ok"


def refresh_sla(ticket: Ticket, now: datetime | None = None) -> list[tuple[str, str]]:
    """Update the ticket's SLA state; returns (event, target) pairs newly reached (not yet notified)."""
    status = sla_status(ticket, now)
    reached = []
    warned, breached = set(filter(None, ticket.sla_warned.split(","))), set(filter(None, ticket.sla_breached.split(",")))
    for name, s in status.items():
        if s["done"] or not ticket.is_open or ticket.sla_paused_at is not None:
            continue
        if s["state"] == "breached" and name not in breached:
            breached.add(name)
            reached.append(("ticket.sla_breached", name))
        elif s["state"] == "warning" and name not in warned:
            warned.add(name)
            reached.append(("ticket.sla_warning", name))
    # a target met late still counts as breached
    for name, s in status.items():
        if s["done"] and s["state"] == "breached":
            breached.add(name)
    ticket.sla_warned, ticket.sla_breached = ",".join(sorted(warned)), ",".join(sorted(breached))
    ticket.sla_state = _overall_state(ticket, status)
    return reached


def _pause(ticket: Ticket, now: datetime) -> None:
    """Stop the SLA clock (no-op when it is already stopped)."""
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = now


def _resume(ticket: Ticket, now: datetime) -> None:
    """Restart the SLA clock, adding the paused business time to the pauses and moving the due dates."""
    if ticket.sla_paused_at is not None:
        cal = calendar_for(ticket.org_id)
        ticket.sla_paused_seconds += sla.business_seconds(cal, ticket.sla_paused_at, now)
        ticket.sla_paused_at = None
        _recompute_due(ticket, cal)


def check_sla_all(now: datetime | None = None) -> int:
    """The scheduled job's work: refresh every open ticket's SLA state and notify warnings and breaches."""
    query = select(Ticket).where(Ticket.status.notin_(("resolved", "closed")), Ticket.sla_paused_at.is_(None)).order_by(Ticket.id)
    return _refresh_in_batches(query, now or utcnow())


def _refresh_in_batches(query, now: datetime, before: Callable[[Ticket], None] | None = None) -> int:
    """Refresh the SLA state of query's tickets (ordered by id) 200 at a time, calling before(ticket) first;
    each batch is committed before its warnings and breaches are sent. Returns how many were sent."""
    sent, last_id = 0, 0
    while True:
        batch = list(db.session.scalars(query.where(Ticket.id > last_id).limit(200)))
        if not batch:
            return sent
        to_notify = []
        for ticket in batch:
            last_id = ticket.id
            if before is not None:
                before(ticket)
            to_notify += [(ticket, event, target) for event, target in refresh_sla(ticket, now)]
        db.session.commit()
        for ticket, event, target in to_notify:
            _notify_sla(ticket, event, target)
        sent += len(to_notify)


def _notify_sla(ticket: Ticket, event: str, target: str) -> None:
    """Tell the assignee (or every agent when nobody is assigned) of a warning or breach."""
    people = [ticket.assignee] if ticket.assignee else agents()
    data = {"ticket_id": ticket.public_id, "subject": ticket.subject, "target": target.replace("_", " ")}
    if event == "ticket.sla_warning":
        due = ticket.first_response_due_at if target == "first_response" else ticket.resolution_due_at
        data["due_at"] = due.strftime("%Y-%m-%d %H:%M UTC") if due else ""
    _notify(ticket.org, people, event, data)


# ---------------------------------------------------------------- notifications


def _notify(org: Organization, people: list, event: str, data: dict) -> None:
    """Tell people through the notifications service; a failure there never undoes the ticket's change."""
    from portal.notifications.service import notify

    people = [p for p in people if p is not None]
    if not people:
        return
    try:
        notify(org, people, event, data)
    except Exception:  # noqa: BLE001 - the ticket is saved; the delivery log shows what went wrong
        db.session.rollback()
        log.exception("could not notify %s for %s", event, data.get("ticket_id") or data.get("title"))


def agent_inbox(agent: User, *, page: int = 1, per_page: int = 20) -> Page:
    """The ticket notifications addressed to an agent, from every organization (agents are members of none)."""
    from portal.notifications.service import staff_inbox

    return staff_inbox(agent, event_prefix="ticket.", page=page, per_page=per_page)


def _excerpt(text: str, limit: int = 300) -> str:
    """A one-line excerpt of text for notifications."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- tickets


def _check_fields(subject: str | None = None, priority: str | None = None, category: str | None = None, creating: bool = False) -> dict[str, str]:
    errors = {}
    if creating or subject is not None:
        if not (subject or "").strip():
            errors["subject"] = "Give the ticket a subject."
        elif len(subject.strip()) > 200:
            errors["subject"] = "Keep the subject under 200 characters."
    if priority is not None and priority not in PRIORITIES:
        errors["priority"] = f"Choose one of {', '.join(PRIORITIES)}."
    if category is not None and category not in CATEGORIES:
        errors["category"] = f"Choose one of {', '.join(CATEGORIES)}."
    return errors


def create_ticket(org: Organization, requester: User, *, subject: str, body: str, category: str = "question", priority: str = "medium",
                  files: list[tuple[str, bytes]] | None = None) -> Ticket:
    """File a ticket (with optional attachments), tell the agents, and hand it to the next available agent."""
    errors = _check_fields(subject, priority, category, creating=True)
    if not (body or "").strip():
        errors["body"] = "Describe the problem."
    elif len(body) > 50_000:
        errors["body"] = "Keep the description under 50,000 characters."
    if errors:
        raise ValidationFailed(errors)
    now = utcnow()
    ticket = Ticket(org_id=org.id, requester_id=requester.id, subject=subject.strip(), body=body, category=category, priority=priority,
                    priority_rank=PRIORITY_RANK[priority], status="open", created_at=now, last_activity_at=now)
    ticket.org = org
    db.session.add(ticket)
    db.session.flush()
    for name, data in files or []:
        _store_attachment(ticket, requester, name, data)
    _recompute_due(ticket)
    refresh_sla(ticket, now)
    assignee = _next_agent()
    if assignee is not None:
        ticket.assignee_id = assignee.id
    db.session.commit()
    data = {"ticket_id": ticket.public_id, "subject": ticket.subject, "priority": ticket.priority, "requester_name": requester.display_name}
    _notify(org, agents(), "ticket.created", data)
    if assignee is not None:
        _notify(org, [assignee], "ticket.assigned", {"ticket_id": ticket.public_id, "subject": ticket.subject, "assignee_name": assignee.display_name})
    return ticket


def ticket_for_member(org: Organization, user: User, membership: Membership | None, public_id: str) -> Ticket:
    """One ticket of org the member may see; anything else (another org's, a colleague's without view_all) is a 404."""
    ticket = db.session.scalar(scoped(Ticket, org).where(Ticket.public_id == public_id))
    if ticket is None:
        abort(404)
    if ticket.requester_id != user.id and not (membership and role_allows(membership.role, "tickets.view_all")):
        abort(404)
    return ticket


def ticket_for_agent(public_id: str) -> Ticket:
    """Any organization's ticket, for platform support staff (the caller checked platform.support)."""
    ticket = db.session.scalar(select(Ticket).where(Ticket.public_id == public_id))
    if ticket is None:
        abort(404)
    return ticket


def thread(ticket: Ticket, *, for_agent: bool, after_id: int | None = None) -> list[TicketComment]:
    """The ticket's comments, oldest first; internal notes only for agents."""
    query = select(TicketComment).where(TicketComment.ticket_id == ticket.id, TicketComment.org_id == ticket.org_id)
    if not for_agent:
        query = query.where(TicketComment.internal.is_(False))
    if after_id:
        query = query.where(TicketComment.id > after_id)
    return list(db.session.scalars(query.order_by(TicketComment.id)))


def attachments(ticket: Ticket, *, for_agent: bool) -> list[TicketAttachment]:
    """The ticket's files; files added to internal notes only for agents."""
    query = select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id, TicketAttachment.org_id == ticket.org_id)
    if not for_agent:
        query = query.where(TicketAttachment.internal.is_(False))
    return list(db.session.scalars(query.order_by(TicketAttachment.id)))


def add_comment(ticket: Ticket, author: User, body: str, *, as_agent: bool, internal: bool = False,
                files: list[tuple[str, bytes]] | None = None) -> TicketComment:
    """A reply or (agents only) an internal note. A customer's reply reopens a resolved, closed or waiting ticket."""
    if internal and not as_agent:
        raise ServiceError("Only support agents may write internal notes.", code="forbidden", status=403)
    if not (body or "").strip() and not files:
        raise ValidationFailed({"body": "Write a reply."})
    if len(body or "") > 50_000:
        raise ValidationFailed({"body": "Keep the reply under 50,000 characters."})
    now = utcnow()
    comment = TicketComment(org_id=ticket.org_id, ticket_id=ticket.id, author_id=author.id, body=(body or "").strip(), internal=internal,
                            by_agent=as_agent, created_at=now)
    db.session.add(comment)
    db.session.flush()
    for name, data in files or []:
        _store_attachment(ticket, author, name, data, comment=comment)
    ticket.last_activity_at = now
    if not internal:
        if as_agent:
            if ticket.first_response_at is None:
                ticket.first_response_at = now
                ticket.first_response_due_at = None
            if ticket.status == "open":
                ticket.status = "in_progress"
        elif ticket.status in ("waiting_on_customer", "resolved", "closed"):
            _resume(ticket, now)
            ticket.status = "in_progress" if ticket.assignee_id else "open"
            ticket.resolved_at = ticket.closed_at = None
    refresh_sla(ticket, now)
    db.session.commit()
    if not internal:
        data = {"ticket_id": ticket.public_id, "subject": ticket.subject, "author_name": author.display_name, "excerpt": _excerpt(comment.body)}
        other_side = [ticket.requester] if as_agent else ([ticket.assignee] if ticket.assignee else agents())
        _notify(ticket.org, [p for p in other_side if p is not None and p.id != author.id], "ticket.replied", data)
    return comment


def set_status(ticket: Ticket, status: str, by: User, *, as_agent: bool) -> Ticket:
    """Move the ticket along the status flow (customers may only close and reopen); the SLA clock pauses while the
    ticket waits on the customer or is resolved/closed, and runs again when it is reopened."""
    if status not in STATUSES:
        raise ValidationFailed({"status": f"Choose one of {', '.join(STATUSES)}."})
    if status == ticket.status:
        return ticket
    allowed = TRANSITIONS[ticket.status] if as_agent else ({"closed"} if ticket.status != "closed" else set()) | ({"open"} if ticket.status in ("resolved", "closed") else set())
    if status not in allowed:
        raise ServiceError(f"A ticket that is {STATUS_LABELS[ticket.status].lower()} can't become {STATUS_LABELS[status].lower()}.",
                           code="bad_transition", fields={"status": "Not allowed from the current status."}, status=409)
    now = utcnow()
    previous = ticket.status
    # The clock stops while the ticket waits on the customer and while it is resolved or closed, so that a reopened
    # ticket counts only the time it was worked on, not the days it sat solved.
    if status in ("waiting_on_customer", "resolved", "closed"):
        if previous == "waiting_on_customer":
            _resume(ticket, now)  # the wait ends here: fold it in before the clock stops for the resolution
        _pause(ticket, now)
    else:
        _resume(ticket, now)
    if status in ("resolved", "closed"):
        ticket.resolved_at = ticket.resolved_at or now
        ticket.closed_at = now if status == "closed" else None
    else:
        ticket.resolved_at = ticket.closed_at = None
    ticket.status = status
    ticket.last_activity_at = now
    refresh_sla(ticket, now)
    db.session.commit()
    _notify_status(ticket, previous, by, as_agent=as_agent)
    return ticket


def _notify_status(ticket: Ticket, previous: str, by: User, *, as_agent: bool) -> None:
    """ticket.status_changed to the customer who filed the ticket (unless they made the change), and to the
    assignee when the customer side made it. Only called for an explicit status change: the status moves that
    come with a reply are told by ticket.replied, and internal notes change no status."""
    people = [ticket.requester]
    if not as_agent:
        people.append(ticket.assignee)
    people = [p for p in people if p is not None and p.id != by.id]
    data = {"ticket_id": ticket.public_id, "subject": ticket.subject, "old_status": STATUS_LABELS[previous],
            "new_status": STATUS_LABELS[ticket.status], "changed_by": by.display_name}
    _notify(ticket.org, people, "ticket.status_changed", data)


def update_ticket(ticket: Ticket, by: User, *, as_agent: bool, status: str | None = None, priority: str | None = None,
                  category: str | None = None, assignee_id: str | None = None) -> Ticket:
    """Change what the caller may: agents everything; the customer the category, and close or reopen."""
    errors = _check_fields(priority=priority, category=category)
    if not as_agent and (priority is not None or assignee_id is not None):
        raise ServiceError("Only support agents may change the priority or the assignee.", code="forbidden", status=403)
    if errors:
        raise ValidationFailed(errors)
    if category is not None:
        ticket.category = category
    reached = []
    if priority is not None and priority != ticket.priority:
        ticket.priority, ticket.priority_rank = priority, PRIORITY_RANK[priority]
        _recompute_due(ticket)
        reached = refresh_sla(ticket)  # a tighter target may be at its warning or breach already
    db.session.commit()
    for event, target in reached:  # marked as reached above: sent now, or never (the job skips them)
        _notify_sla(ticket, event, target)
    if assignee_id is not None:
        assign(ticket, assignee_id, by)
    if status is not None:
        set_status(ticket, status, by, as_agent=as_agent)
    return ticket


def assign(ticket: Ticket, agent_public_id: str, by: User) -> Ticket:
    """Hand the ticket to an agent (empty id: unassign) and tell them."""
    if not agent_public_id:
        ticket.assignee_id = None
        db.session.commit()
        return ticket
    agent = db.session.scalar(select(User).where(User.public_id == agent_public_id))
    if agent is None or not role_allows(agent.platform_role, "platform.support"):
        raise ValidationFailed({"assignee_id": "Choose a support agent."})
    if ticket.assignee_id == agent.id:
        return ticket
    ticket.assignee_id = agent.id
    ticket.last_activity_at = utcnow()
    db.session.commit()
    if agent.id != by.id:
        _notify(ticket.org, [agent], "ticket.assigned", {"ticket_id": ticket.public_id, "subject": ticket.subject, "assignee_name": agent.display_name})
    return ticket


def _next_agent() -> User | None:
    """Round-robin: the available agent assigned longest ago (never assigned first); marks them assigned now."""
    state = db.session.scalar(
        select(AgentState).join(User, User.id == AgentState.user_id)
        .where(AgentState.available.is_(True), User.platform_role == "support_agent", User.is_suspended.is_(False))
        .order_by(AgentState.last_assigned_at.is_not(None), AgentState.last_assigned_at, AgentState.id)
        .limit(1).with_for_update(skip_locked=True)
    )
    if state is None:
        return None
    state.last_assigned_at = utcnow()
    return state.user


def set_available(agent: User, available: bool) -> AgentState:
    """Mark an agent available (or not) for round-robin assignment."""
    state = db.session.scalar(select(AgentState).filter_by(user_id=agent.id)) or AgentState(user_id=agent.id)
    state.available = bool(available)
    db.session.add(state)
    db.session.commit()
    return state


def is_available(agent: User) -> bool:
    """Whether the agent is marked available for round-robin assignment."""
    return bool(db.session.scalar(select(AgentState.available).filter_by(user_id=agent.id)))


def bulk_update(public_ids: list[str], by: User, *, status: str | None = None, assignee_id: str | None = None) -> tuple[int, list[str]]:
    """Apply a status and/or an assignee to many tickets; returns (changed, problems)."""
    changed, problems = 0, []
    for public_id in public_ids[:200]:
        ticket = db.session.scalar(select(Ticket).where(Ticket.public_id == public_id))
        if ticket is None:
            continue
        try:
            update_ticket(ticket, by, as_agent=True, status=status or None, assignee_id=assignee_id)
            changed += 1
        except ServiceError as exc:
            db.session.rollback()
            problems.append(f"{public_id}: {exc.message}")
    return changed, problems


def rate(ticket: Ticket, user: User, score: int, comment: str = "") -> Ticket:
    """The customer's 1–5 rating of a resolved or closed ticket."""
    if ticket.status not in ("resolved", "closed"):
        raise ServiceError("Rate a ticket once it is resolved.", code="not_resolved", status=409)
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationFailed({"rating": "Give 1 to 5 stars."})
    ticket.rating, ticket.rating_comment = score, (comment or "").strip()[:2000] or None
    db.session.commit()
    return ticket


# ---------------------------------------------------------------- attachments


def _store_attachment(ticket: Ticket, user: User, filename: str, data: bytes, *, comment: TicketComment | None = None) -> TicketAttachment:
    used = db.session.scalar(select(func.coalesce(func.sum(TicketAttachment.size), 0)).where(TicketAttachment.ticket_id == ticket.id)) or 0
    name, mime = check_upload(filename, data, max_file=current_app.config["SUPPORT_MAX_FILE_BYTES"],
                              max_ticket=current_app.config["SUPPORT_MAX_TICKET_BYTES"], ticket_total=int(used))
    key = f"support/{ticket.org_id}/{ticket.public_id}/{secrets.token_hex(12)}"
    storage().put(key, data, mime)
    att = TicketAttachment(org_id=ticket.org_id, ticket_id=ticket.id, comment_id=comment.id if comment else None, uploaded_by_id=user.id,
                           filename=name, content_type=mime, size=len(data), storage_key=key, internal=bool(comment and comment.internal))
    db.session.add(att)
    db.session.flush()
    return att


def add_attachment(ticket: Ticket, user: User, filename: str, data: bytes) -> TicketAttachment:
    """Attach one checked file to the ticket."""
    att = _store_attachment(ticket, user, filename, data)
    ticket.last_activity_at = utcnow()
    db.session.commit()
    return att


def attachment_of(ticket: Ticket, public_id: str, *, for_agent: bool) -> TicketAttachment:
    """One of the ticket's files the caller may see, else 404."""
    query = select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id, TicketAttachment.org_id == ticket.org_id,
                                           TicketAttachment.public_id == public_id)
    if not for_agent:
        query = query.where(TicketAttachment.internal.is_(False))
    att = db.session.scalar(query)
    if att is None:
        abort(404)
    return att


def download_url(att: TicketAttachment) -> str:
    """A short-lived link that downloads the file as an attachment (presigned on S3, signed app link on disk)."""
    return storage().url(att.storage_key, att.filename, expires=current_app.config["SUPPORT_DOWNLOAD_SECONDS"])


def attachment_bytes(att: TicketAttachment) -> bytes:
    """The stored file's bytes."""
    return storage().get(att.storage_key)


# ---------------------------------------------------------------- the agent queue


@dataclass
class QueueFilters:
    status: str = ""  # a status, "active" (not resolved/closed) or "" for all
    priority: str = ""
    category: str = ""
    org: str = ""  # slug
    assignee: str = ""  # public id, "me" or "none"
    sla: str = ""
    q: str = ""
    sort: str = "activity"  # activity, created, priority, due
    after: str = ""  # keyset cursor


SORTS = {
    "activity": (Ticket.last_activity_at, True),
    "priority": (Ticket.priority_rank, True),
    "due": (Ticket.resolution_due_at, False),
}


def _cursor(ticket: Ticket, sort: str) -> str:
    column, _desc = SORTS[sort]
    value = getattr(ticket, column.key)
    return f"{value.isoformat() if isinstance(value, datetime) else value}~{ticket.id}"


def _parse_cursor(raw: str, sort: str):
    value, _, ident = raw.rpartition("~")
    if not value or not ident.isdigit():
        return None
    column, _desc = SORTS[sort]
    try:
        return (datetime.fromisoformat(value) if column.key.endswith("_at") else int(value)), int(ident)
    except ValueError:
        return None


def valid_cursor(raw: str, sort: str) -> bool:
    """Whether raw is a cursor that a page of the given sort handed out (a bad one would silently restart the list)."""
    return sort in SORTS and _parse_cursor(raw, sort) is not None


def queue(filters: QueueFilters, me: User, *, per_page: int = 25) -> tuple[list[Ticket], str | None]:
    """One keyset page of the cross-organization queue and the cursor of the next page (None at the end)."""
    return _keyset(select(Ticket), filters, me, per_page)


def customer_queue(org: Organization, user: User, membership: Membership | None, filters: QueueFilters, *, per_page: int = 25) -> tuple[list[Ticket], str | None]:
    """The same filters and keyset pages over the tickets a member may see (their own, or the org's with tickets.view_all)."""
    base = scoped(Ticket, org)
    if not (membership and role_allows(membership.role, "tickets.view_all")):
        base = base.where(Ticket.requester_id == user.id)
    filters.org = ""
    if filters.assignee not in ("", "none"):
        filters.assignee = ""
    return _keyset(base, filters, user, per_page, search_comments=False)


_WORD = re.compile(r"\w+")


def _search(q: str, search_comments: bool):
    """The WHERE clause of a queue search: every word of q must match. PostgreSQL: full text (each word as a prefix)
    through the GIN indexes on subject+body and on comments; SQLite: each word as a substring, with LIKE."""
    words = _WORD.findall(q)[:20]
    if not words:
        return false()
    if db.engine.dialect.name == "postgresql":
        # \w+ words joined by & leave nothing for to_tsquery to parse as an operator: safe from any input.
        tsquery = func.to_tsquery(SEARCH_CONFIG, " & ".join(f"{w}:*" for w in words))
        hits = select(Ticket.id).where(ticket_search_vector().bool_op("@@")(tsquery))
        if search_comments:
            hits = union(hits, select(TicketComment.ticket_id).where(comment_search_vector().bool_op("@@")(tsquery)))
        return Ticket.id.in_(hits)
    every = []
    for word in words:
        found = [Ticket.subject.icontains(word, autoescape=True), Ticket.body.icontains(word, autoescape=True)]
        if search_comments:
            found.append(Ticket.id.in_(select(TicketComment.ticket_id).where(TicketComment.body.icontains(word, autoescape=True))))
        every.append(or_(*found))
    return and_(*every)


def _keyset(query, filters: QueueFilters, me: User, per_page: int, search_comments: bool = True) -> tuple[list[Ticket], str | None]:
    sort = filters.sort if filters.sort in SORTS else "activity"
    column, desc = SORTS[sort]
    if filters.status == "active":
        query = query.where(Ticket.status.in_(("open", "in_progress", "waiting_on_customer")))
    elif filters.status in STATUSES:
        query = query.where(Ticket.status == filters.status)
    if filters.priority in PRIORITIES:
        query = query.where(Ticket.priority == filters.priority)
    if filters.category in CATEGORIES:
        query = query.where(Ticket.category == filters.category)
    if filters.sla in ("ok", "warning", "breached", "paused", "met"):
        query = query.where(Ticket.sla_state == filters.sla)
    if filters.org:
        query = query.where(Ticket.org_id == select(Organization.id).where(Organization.slug == filters.org).scalar_subquery())
    if filters.assignee == "me":
        query = query.where(Ticket.assignee_id == me.id)
    elif filters.assignee == "none":
        query = query.where(Ticket.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(Ticket.assignee_id == select(User.id).where(User.public_id == filters.assignee).scalar_subquery())
    if filters.q.strip():
        # agents also find words in replies and notes; customers only in what they may see
        query = query.where(_search(filters.q, search_comments))
    cursor = _parse_cursor(filters.after, sort) if filters.after else None
    if cursor is not None:
        value, ident = cursor
        if desc:
            query = query.where(or_(column < value, and_(column == value, Ticket.id < ident)))
        else:
            query = query.where(or_(column > value, and_(column == value, Ticket.id > ident)))
    order = (column.desc(), Ticket.id.desc()) if desc else (column.asc(), Ticket.id.asc())
    query = query.options(joinedload(Ticket.org), joinedload(Ticket.assignee))  # in the same query, not one per row
    rows = list(db.session.scalars(query.order_by(*order).limit(per_page + 1)))
    next_cursor = _cursor(rows[per_page - 1], sort) if len(rows) > per_page else None
    return rows[:per_page], next_cursor


# ---------------------------------------------------------------- saved views, canned replies, report


def save_view(user: User, name: str, query_string: str) -> SavedView:
    """Save the queue's current filters under a name, for this agent."""
    if not (name or "").strip():
        raise ValidationFailed({"name": "Name the view."})
    view = SavedView(user_id=user.id, name=name.strip()[:80], query=(query_string or "")[:1000])
    db.session.add(view)
    db.session.commit()
    return view


def saved_views(user: User) -> list[SavedView]:
    """The agent's saved views, by name."""
    return list(db.session.scalars(select(SavedView).filter_by(user_id=user.id).order_by(SavedView.name)))


def delete_view(user: User, public_id: str) -> None:
    """Delete one of the agent's own saved views (anyone else's is a 404)."""
    view = db.session.scalar(select(SavedView).filter_by(user_id=user.id, public_id=public_id))
    if view is None:
        abort(404)
    db.session.delete(view)
    db.session.commit()


def canned_replies() -> list[CannedReply]:
    """Every canned reply, by title."""
    return list(db.session.scalars(select(CannedReply).order_by(CannedReply.title)))


def create_canned(title: str, body: str) -> CannedReply:
    """Add a canned reply; {{ customer_name }}, {{ ticket_id }}, {{ subject }}, {{ agent_name }}, {{ org_name }} are filled in."""
    errors = {}
    if not (title or "").strip():
        errors["title"] = "Give it a title."
    if not (body or "").strip():
        errors["body"] = "Write the reply."
    if errors:
        raise ValidationFailed(errors)
    reply = CannedReply(title=title.strip()[:120], body=body)
    db.session.add(reply)
    db.session.commit()
    return reply


_VARIABLE = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def render_canned(public_id: str, ticket: Ticket, agent: User) -> str:
    """A canned reply with its variables filled in (plain substitution: no template code runs)."""
    reply = db.session.scalar(select(CannedReply).filter_by(public_id=public_id))
    if reply is None:
        raise ValidationFailed({"canned_id": "No such canned reply."})
    values = {
        "customer_name": ticket.requester.display_name if ticket.requester else "there",
        "ticket_id": ticket.public_id,
        "subject": ticket.subject,
        "agent_name": agent.display_name,
        "org_name": ticket.org.name,
    }
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), reply.body)


def sla_report(start: datetime, end: datetime) -> list[dict]:
    """Per priority, of the tickets filed in [start, end) whose outcome is known (resolved, or breached already while
    still open): how many met every SLA target. Leaving a breached ticket open never improves the share."""
    rows = db.session.execute(
        select(Ticket.priority, Ticket.sla_breached, func.count())
        .where(Ticket.created_at >= start, Ticket.created_at < end, or_(Ticket.resolved_at.is_not(None), Ticket.sla_breached != ""))
        .group_by(Ticket.priority, Ticket.sla_breached)
    ).all()
    out = {p: {"priority": p, "total": 0, "met": 0} for p in PRIORITIES}
    for priority, breached, count in rows:
        out[priority]["total"] += count
        if not breached:
            out[priority]["met"] += count
    for row in out.values():
        row["share"] = (row["met"] / row["total"]) if row["total"] else None
    return list(out.values())
