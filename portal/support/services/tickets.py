"""Tickets: filing, reading, replying, the status flow, assignment, ratings and bulk changes.

Every change is checked in full before the first write, so a refused one leaves the ticket as it was and tells
nobody; the notifications join the same unit of work. Internal notes never leave through here to a customer:
every customer-facing read goes through `thread(..., for_agent=False)`.
"""

from __future__ import annotations

from collections.abc import Callable

from portal.accounts.models import User
from portal.errors import Conflict, Forbidden, NotFound, ServiceError, ValidationFailed
from portal.extensions import db
from portal.models import insert_for, utcnow
from portal.orgs.models import Membership, Organization
from portal.roles import role_allows
from portal.support.labels import STATUS_LABELS
from portal.support.models import (
    CATEGORIES,
    FINISHED,
    PRIORITIES,
    PRIORITY_RANK,
    STATUSES,
    Ticket,
    TicketComment,
    TicketCounter,
    TicketEvent,
)
from portal.support.services.attachments import check_files, store
from portal.support.services.desk import agent_by_public_id, agents, next_agent
from portal.support.services.notify import excerpt, tell
from portal.support.services.sla import notify_sla, pause, recompute_due, refresh_sla, resume
from portal.tenancy import get_scoped_or_404, get_unscoped_or_404, scoped, unscoped

# Status flow for agents; customers may only close, and reopen by replying or with the reopen button.
TRANSITIONS = {
    "open": {"in_progress", "waiting_on_customer", "resolved", "closed"},
    "in_progress": {"open", "waiting_on_customer", "resolved", "closed"},
    "waiting_on_customer": {"open", "in_progress", "resolved", "closed"},
    "resolved": {"closed", "open"},
    "closed": {"open"},
}
# The clock stops while the ticket waits on the customer and while it is resolved or closed, so that a reopened
# ticket counts only the time it was worked on, not the days it sat solved.
PAUSED_STATUSES = ("waiting_on_customer", *FINISHED)
BULK_LIMIT = 200

Send = Callable[[], None]  # a notification to send once every change of the ticket is made


# ---------------------------------------------------------------- reading


def ticket_for_member(org: Organization, user: User, membership: Membership | None, public_id: str) -> Ticket:
    """One ticket of org the member may see; anything else (another org's, a colleague's without view_all) is NotFound."""
    ticket = get_scoped_or_404(Ticket, org, public_id)
    if not _member_sees(ticket, user, membership):
        raise NotFound()
    return ticket


def _member_sees(ticket: Ticket, user: User, membership: Membership | None) -> bool:
    """A member sees the tickets they asked; with tickets.view_all, every ticket of the org."""
    return ticket.requester_id == user.id or bool(membership and role_allows(membership.role, "tickets.view_all"))


def ticket_by_number(org: Organization, user: User, membership: Membership | None, number: int) -> Ticket | None:
    """org's ticket with this short number (#1042) if the member may see it (as ticket_for_member says), else None."""
    ticket = db.session.scalar(scoped(Ticket, org).where(Ticket.number == number))
    return ticket if ticket is not None and _member_sees(ticket, user, membership) else None


def ticket_for_agent(public_id: str) -> Ticket:
    """Any organization's ticket, for platform support staff (the caller checked platform.support)."""
    return get_unscoped_or_404(Ticket, public_id, reason="platform support agents work every organization's tickets")


def thread(ticket: Ticket, *, for_agent: bool) -> list[TicketComment]:
    """The ticket's comments, oldest first; internal notes only for agents."""
    query = scoped(TicketComment, ticket.org).where(TicketComment.ticket_id == ticket.id)
    if not for_agent:
        query = query.where(TicketComment.internal.is_(False))
    return list(db.session.scalars(query.order_by(TicketComment.id)))


# ---------------------------------------------------------------- filing and replying


def _field_problems(subject: str | None = None, priority: str | None = None, category: str | None = None, *,
                    creating: bool = False) -> dict[str, str]:
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
    errors = _field_problems(subject, priority, category, creating=True)
    if not (body or "").strip():
        errors["body"] = "Describe the problem."
    elif len(body) > 50_000:
        errors["body"] = "Keep the description under 50,000 characters."
    if errors:
        raise ValidationFailed(errors)
    uploads = check_files(org, None, files)
    now = utcnow()
    ticket = Ticket(org_id=org.id, number=next_number(org), requester_id=requester.id, subject=subject.strip(), body=body, category=category,
                    priority=priority, priority_rank=PRIORITY_RANK[priority], status="open", created_at=now, last_activity_at=now)
    ticket.org = org
    db.session.add(ticket)
    db.session.flush()
    store(ticket, requester, uploads)
    recompute_due(ticket)
    refresh_sla(ticket, now)
    assignee = next_agent()
    if assignee is not None:
        ticket.assignee_id, ticket.assignee = assignee.id, assignee
    db.session.flush()
    tell(ticket, agents(), "ticket.created", priority=ticket.priority, requester_name=requester.display_name)
    if assignee is not None:
        _tell_assigned(ticket, assignee)
    return ticket


def next_number(org: Organization) -> int:
    """The org's next short ticket number, from one atomic upsert of its counter (held locked until the commit, so
    two tickets filed at once get two numbers and a refused filing hands none out)."""
    statement = insert_for(TicketCounter, db.session.get_bind().dialect.name).values(org_id=org.id, last_number=1)
    statement = statement.on_conflict_do_update(index_elements=["org_id"], set_={"last_number": TicketCounter.last_number + 1})
    return db.session.execute(statement.returning(TicketCounter.last_number)).scalar_one()


def add_comment(ticket: Ticket, author: User, body: str, *, as_agent: bool, internal: bool = False,
                files: list[tuple[str, bytes]] | None = None) -> TicketComment:
    """A reply or (agents only) an internal note. A customer's reply reopens a resolved, closed or waiting ticket."""
    if internal and not as_agent:
        raise Forbidden("Only support agents may write internal notes.")
    if not (body or "").strip() and not files:
        raise ValidationFailed({"body": "Write a reply."})
    if len(body or "") > 50_000:
        raise ValidationFailed({"body": "Keep the reply under 50,000 characters."})
    uploads = check_files(ticket.org, ticket, files)
    now = utcnow()
    comment = TicketComment(org_id=ticket.org_id, ticket_id=ticket.id, author_id=author.id, body=(body or "").strip(), internal=internal,
                            by_agent=as_agent, created_at=now)
    db.session.add(comment)
    db.session.flush()
    store(ticket, author, uploads, comment=comment)
    ticket.last_activity_at = now
    if not internal:
        if as_agent:
            if ticket.first_response_at is None:
                ticket.first_response_at = now
                ticket.first_response_due_at = None
            if ticket.status == "open":
                ticket.status = "in_progress"
        elif ticket.status in PAUSED_STATUSES:
            resume(ticket, now)
            ticket.status = "in_progress" if ticket.assignee_id else "open"
            ticket.resolved_at = ticket.closed_at = None
    refresh_sla(ticket, now)
    db.session.flush()
    if not internal:
        other_side = [ticket.requester] if as_agent else ([ticket.assignee] if ticket.assignee else agents())
        tell(ticket, [p for p in other_side if p is not None and p.id != author.id], "ticket.replied",
             author_name=author.display_name, excerpt=excerpt(comment.body))
    return comment


# ---------------------------------------------------------------- changing a ticket: check everything, then change


def allowed_statuses(current: str, *, as_agent: bool) -> set[str]:
    """Where a ticket may go from its current status: agents along TRANSITIONS; customers may close it, and
    reopen it once it is resolved or closed."""
    if as_agent:
        return TRANSITIONS[current]
    allowed = set()
    if current != "closed":
        allowed.add("closed")
    if current in FINISHED:
        allowed.add("open")
    return allowed


def _check_transition(ticket: Ticket, status: str, *, as_agent: bool) -> None:
    """Refuse (409) a status the flow doesn't allow from the ticket's current one."""
    if status != ticket.status and status not in allowed_statuses(ticket.status, as_agent=as_agent):
        raise Conflict(f"A ticket that is {STATUS_LABELS[ticket.status].lower()} can't become {STATUS_LABELS[status].lower()}.",
                       field="status", code="bad_transition")


def update_ticket(ticket: Ticket, by: User, *, as_agent: bool, status: str | None = None, priority: str | None = None,
                  category: str | None = None, assignee_id: str | None = None) -> Ticket:
    """Change what the caller may: agents everything; the customer the category, and close or reopen.

    All or nothing: every change (the status transition included) is checked before the first is made, so a
    refused update leaves the ticket exactly as it was and sends nothing."""
    if not as_agent and (priority is not None or assignee_id is not None):
        raise Forbidden("Only support agents may change the priority or the assignee.")
    errors = _field_problems(priority=priority, category=category)
    if status is not None and status not in STATUSES:
        errors["status"] = f"Choose one of {', '.join(STATUSES)}."
    agent = agent_by_public_id(assignee_id) if assignee_id else None  # "" unassigns
    if assignee_id and agent is None:
        errors["assignee_id"] = "Choose a support agent."
    if errors:
        raise ValidationFailed(errors)
    if status is not None:
        _check_transition(ticket, status, as_agent=as_agent)
    # Everything is allowed: make the changes, then tell people.
    sends: list[Send] = []
    if category is not None:
        ticket.category = category
    if priority is not None:
        sends += _change_priority(ticket, priority)
    if assignee_id is not None:
        sends += _change_assignee(ticket, agent, by)
    if status is not None:
        sends += _change_status(ticket, status, by, as_agent=as_agent)
    db.session.flush()
    for send in sends:
        send()
    return ticket


def set_status(ticket: Ticket, status: str, by: User, *, as_agent: bool) -> Ticket:
    """Move the ticket along the status flow (customers may only close and reopen); the SLA clock pauses while the
    ticket waits on the customer or is resolved/closed, and runs again when it is reopened."""
    return update_ticket(ticket, by, as_agent=as_agent, status=status)


def assign(ticket: Ticket, agent_public_id: str, by: User) -> Ticket:
    """Hand the ticket to an agent (empty id: unassign) and tell them."""
    return update_ticket(ticket, by, as_agent=True, assignee_id=agent_public_id)


def _change_priority(ticket: Ticket, priority: str) -> list[Send]:
    if priority == ticket.priority:
        return []
    ticket.priority, ticket.priority_rank = priority, PRIORITY_RANK[priority]
    recompute_due(ticket)
    # a tighter target may be at its warning or breach already: claimed here, so sent now or never (the job skips it)
    return [lambda event=event, target=target: notify_sla(ticket, event, target) for event, target in refresh_sla(ticket)]


def _event(ticket: Ticket, by: User, kind: str, old: str | None, new: str | None) -> None:
    """Record a status change or an assignment for the thread's timeline, in the change's own unit of work."""
    db.session.add(TicketEvent(org_id=ticket.org_id, ticket_id=ticket.id, actor_id=by.id, kind=kind, old_value=old, new_value=new,
                               created_at=utcnow()))


def events(ticket: Ticket) -> list[TicketEvent]:
    """The ticket's status changes and assignments, oldest first (customers see them too: they hold no internal text)."""
    return list(db.session.scalars(scoped(TicketEvent, ticket.org).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)))


def timeline(ticket: Ticket, *, for_agent: bool) -> list[TicketComment | TicketEvent]:
    """The thread's comments (internal notes only for agents) and its events, in the order they happened."""
    items: list[TicketComment | TicketEvent] = [*thread(ticket, for_agent=for_agent), *events(ticket)]
    return sorted(items, key=lambda item: item.created_at)


def _change_assignee(ticket: Ticket, agent: User | None, by: User) -> list[Send]:
    previous = ticket.assignee.display_name if ticket.assignee else None
    if agent is None:
        if ticket.assignee_id is not None:
            _event(ticket, by, "assignee", previous, None)
        ticket.assignee_id, ticket.assignee = None, None
        return []
    if ticket.assignee_id == agent.id:
        return []
    _event(ticket, by, "assignee", previous, agent.display_name)
    # the column and the relationship both: readers of either see the new assignee before the flush
    ticket.assignee_id, ticket.assignee = agent.id, agent
    ticket.last_activity_at = utcnow()
    return [] if agent.id == by.id else [lambda: _tell_assigned(ticket, agent)]


def _change_status(ticket: Ticket, status: str, by: User, *, as_agent: bool) -> list[Send]:
    if status == ticket.status:
        return []
    now = utcnow()
    previous = ticket.status
    _event(ticket, by, "status", previous, status)
    if status in PAUSED_STATUSES:
        if previous == "waiting_on_customer":
            resume(ticket, now)  # the wait ends here: fold it in before the clock stops for the resolution
        pause(ticket, now)
    else:
        resume(ticket, now)
    if status in FINISHED:
        ticket.resolved_at = ticket.resolved_at or now
        ticket.closed_at = now if status == "closed" else None
    else:
        ticket.resolved_at = ticket.closed_at = None
    ticket.status = status
    ticket.last_activity_at = now
    refresh_sla(ticket, now)
    return [lambda: _tell_status(ticket, previous, by, as_agent=as_agent)]


def _tell_assigned(ticket: Ticket, agent: User) -> None:
    tell(ticket, [agent], "ticket.assigned", assignee_name=agent.display_name)


def _tell_status(ticket: Ticket, previous: str, by: User, *, as_agent: bool) -> None:
    """ticket.status_changed to the customer who filed the ticket (unless they made the change), and to the
    assignee when the customer side made it. Only for an explicit status change: the status moves that come with
    a reply are told by ticket.replied, and internal notes change no status."""
    people = [ticket.requester]
    if not as_agent:
        people.append(ticket.assignee)
    tell(ticket, [p for p in people if p is not None and p.id != by.id], "ticket.status_changed",
         old_status=STATUS_LABELS[previous], new_status=STATUS_LABELS[ticket.status], changed_by=by.display_name)


def bulk_update(public_ids: list[str], by: User, *, status: str | None = None, assignee_id: str | None = None) -> tuple[int, list[str]]:
    """Apply a status and/or an assignee to many tickets (up to 200), each all or nothing; returns (changed, problems).
    A ticket refused its change keeps everything as it was, is not counted, and nobody is told about it."""
    wanted = list(dict.fromkeys(public_ids))[:BULK_LIMIT]
    found = {t.public_id: t for t in db.session.scalars(
        unscoped(Ticket, reason="platform support agents act on every organization's tickets").where(Ticket.public_id.in_(wanted)))}
    changed, problems = 0, []
    for public_id in wanted:
        ticket = found.get(public_id)
        if ticket is None:
            continue
        try:
            update_ticket(ticket, by, as_agent=True, status=status, assignee_id=assignee_id)
        except ServiceError as exc:
            problems.append(f"{ticket.org.name} {ticket.short_number}: {exc.message}")  # people read numbers, not ids
        else:
            changed += 1
    return changed, problems


def rate(ticket: Ticket, user: User, score: int, comment: str = "") -> Ticket:
    """The customer's 1–5 rating of a resolved or closed ticket."""
    if ticket.status not in FINISHED:
        raise Conflict("Rate a ticket once it is resolved.", code="not_resolved")
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationFailed({"rating": "Give 1 to 5 stars."})
    ticket.rating, ticket.rating_comment = score, (comment or "").strip()[:2000] or None
    db.session.flush()
    return ticket
