"""The ticket lists: the agents' cross-organization queue and the customers' list, with filters, full-text search
and keyset pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, tuple_, union
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from portal.accounts.models import User
from portal.extensions import db
from portal.orgs.models import Membership, Organization
from portal.roles import role_allows
from portal.support.models import (
    CATEGORIES,
    FINISHED,
    PRIORITIES,
    SEARCH_CONFIG,
    SLA_STATES,
    STATUSES,
    Ticket,
    TicketComment,
    TicketFacts,
    comment_search_vector,
    ticket_search_vector,
)
from portal.tenancy import scoped, unscoped

ACTIVE = tuple(s for s in STATUSES if s not in FINISHED)


@dataclass
class QueueFilters:
    status: str = ""  # a status, "active" (not resolved/closed) or "" for all
    priority: str = ""
    category: str = ""
    org: str = ""  # slug
    assignee: str = ""  # public id, "me" or "none"
    sla: str = ""
    q: str = ""
    sort: str = "activity"  # activity, priority, due
    after: str = ""  # keyset cursor


# sort name -> (column, descending); the keyset pages run over (column, id)
SORTS = {
    "activity": (Ticket.last_activity_at, True),
    "priority": (Ticket.priority_rank, True),
    "due": (Ticket.resolution_due_at, False),
}


def _cursor(ticket: Ticket | QueueRow, sort: str) -> str:
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


class _Named:
    """What a queue row shows of its organization (`name`) or its assignee (`display_name`)."""

    __slots__ = ("display_name", "name")

    def __init__(self, name: str, display_name: str):
        self.name, self.display_name = name, display_name


class QueueRow(TicketFacts):
    """One ticket as the agents' queue table shows it: the few columns the table reads (with the organization's name
    and the assignee's display name), read as plain rows instead of whole Ticket, Organization and User objects (a
    third of the queue's query cost in app CPU). Quacks like a Ticket for templates/support/_queue_rows.html."""

    __slots__ = ("assignee", "first_response_at", "id", "last_activity_at", "number", "org", "priority", "priority_rank",
                 "public_id", "resolution_due_at", "sla_state", "status", "subject")

    def __init__(self, row):
        (self.id, self.public_id, self.number, self.subject, self.status, self.priority, self.priority_rank, self.sla_state,
         self.first_response_at, self.last_activity_at, self.resolution_due_at, org_name, assignee_id, assignee_name, assignee_email) = row
        self.org = _Named(org_name, org_name)
        self.assignee = _Named(assignee_name, assignee_name or assignee_email) if assignee_id is not None else None


_ASSIGNEE = aliased(User, name="assignee")
# QueueRow's columns, in its order
_ROW_COLUMNS = (Ticket.id, Ticket.public_id, Ticket.number, Ticket.subject, Ticket.status, Ticket.priority, Ticket.priority_rank,
                Ticket.sla_state, Ticket.first_response_at, Ticket.last_activity_at, Ticket.resolution_due_at, Organization.name,
                _ASSIGNEE.id, _ASSIGNEE.name, _ASSIGNEE.email)


def valid_cursor(raw: str, sort: str) -> bool:
    """Whether raw is a cursor that a page of the given sort handed out (a bad one would silently restart the list)."""
    return sort in SORTS and _parse_cursor(raw, sort) is not None


_ORG_CHOICES = (unscoped(Organization, reason="platform support agents filter the queue by any organization")
                .with_only_columns(Organization.slug, Organization.name).order_by(Organization.name, Organization.slug))


def org_choices() -> list[tuple[str, str]]:
    """(slug, name) of every organization, by name: the queue's organization filter lists names, not slugs."""
    return [(slug, name) for slug, name in db.session.execute(_ORG_CHOICES)]  # built once: every queue page asks


def _agent_base(filters: QueueFilters) -> Select | None:
    """The agents' queue before its filters: one organization's tickets (None when the slug names none), or all."""
    if filters.org:
        org = db.session.scalar(select(Organization).where(Organization.slug == filters.org))
        return None if org is None else scoped(Ticket, org)
    return unscoped(Ticket, reason="platform support agents work every organization's queue")


def queue(filters: QueueFilters, me: User, *, per_page: int = 25) -> tuple[list[Ticket], str | None]:
    """One keyset page of the cross-organization queue and the cursor of the next page (None at the end)."""
    base = _agent_base(filters)
    if base is None:
        return [], None
    return _keyset(base, filters, me, per_page)


def queue_rows(filters: QueueFilters, me: User, *, per_page: int = 25) -> tuple[list[QueueRow], str | None]:
    """queue(), as the rows the queue page shows (QueueRow: the table's columns only), and the next page's cursor."""
    base = _agent_base(filters)
    if base is None:
        return [], None
    return _keyset(base, filters, me, per_page, rows=True)


def with_requesters(tickets: list[Ticket]) -> list[Ticket]:
    """tickets, each with its requester, read by one query for them all (the API shows requesters; the lists don't)."""
    ids = {t.requester_id for t in tickets if t.requester_id is not None}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    for ticket in tickets:
        set_committed_value(ticket, "requester", people.get(ticket.requester_id))
    return tickets


def customer_queue(org: Organization, user: User, membership: Membership | None, filters: QueueFilters, *,
                   per_page: int = 25) -> tuple[list[Ticket], str | None]:
    """The same filters and keyset pages over the tickets a member may see (their own, or the org's with tickets.view_all)."""
    base = scoped(Ticket, org)
    if not (membership and role_allows(membership.role, "tickets.view_all")):
        base = base.where(Ticket.requester_id == user.id)
    filters.org = ""
    if filters.assignee not in ("", "none"):
        filters.assignee = ""
    return _keyset(base, filters, user, per_page, search_comments=False)


_WORD = re.compile(r"\w+")


def search_condition(q: str, *, search_comments: bool) -> ColumnElement[bool]:
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


def _filtered(query: Select, filters: QueueFilters, me: User, search_comments: bool) -> Select:
    if filters.status == "active":
        query = query.where(Ticket.status.in_(ACTIVE))  # IN, not NOT IN: the status index serves it
    elif filters.status in STATUSES:
        query = query.where(Ticket.status == filters.status)
    if filters.priority in PRIORITIES:
        query = query.where(Ticket.priority == filters.priority)
    if filters.category in CATEGORIES:
        query = query.where(Ticket.category == filters.category)
    if filters.sla in SLA_STATES:
        query = query.where(Ticket.sla_state == filters.sla)
    if filters.assignee == "me":
        query = query.where(Ticket.assignee_id == me.id)
    elif filters.assignee == "none":
        query = query.where(Ticket.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(Ticket.assignee_id == select(User.id).where(User.public_id == filters.assignee).scalar_subquery())
    if filters.q.strip():
        # agents also find words in replies and notes; customers only in what they may see
        query = query.where(search_condition(filters.q, search_comments=search_comments))
    return query


def _keyset(query: Select, filters: QueueFilters, me: User, per_page: int, search_comments: bool = True,
            rows: bool = False) -> tuple[list, str | None]:
    """One page over (sort column, id) after the cursor: Tickets, or with `rows`, QueueRows."""
    sort = filters.sort if filters.sort in SORTS else "activity"
    column, desc = SORTS[sort]
    query = _filtered(query, filters, me, search_comments)
    cursor = _parse_cursor(filters.after, sort) if filters.after else None
    if cursor is not None:
        # A row comparison, not (column < value OR column = value AND id < ident): the index holds (column, id) in this
        # order, so the planner starts reading at the cursor instead of filtering out every row before it.
        key = tuple_(column, Ticket.id)
        query = query.where(key < cursor if desc else key > cursor)
    order = (column.desc(), Ticket.id.desc()) if desc else (column.asc(), Ticket.id.asc())
    query = query.order_by(*order).limit(per_page + 1)
    if rows:
        query = (query.with_only_columns(*_ROW_COLUMNS).outerjoin(Organization, Organization.id == Ticket.org_id)
                 .outerjoin(_ASSIGNEE, _ASSIGNEE.id == Ticket.assignee_id))
        found = [QueueRow(row) for row in db.session.execute(query)]
    else:
        # org and assignee in the same query, not one per row
        found = list(db.session.scalars(query.options(joinedload(Ticket.org), joinedload(Ticket.assignee))))
    next_cursor = _cursor(found[per_page - 1], sort) if len(found) > per_page else None
    return found[:per_page], next_cursor
