"""The ticket lists: the agents' cross-organization queue and the customers' list, with filters, full-text search
and keyset pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, union
from sqlalchemy.orm import joinedload

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


def org_choices() -> list[tuple[str, str]]:
    """(slug, name) of every organization, by name: the queue's organization filter lists names, not slugs."""
    query = unscoped(Organization, reason="platform support agents filter the queue by any organization")
    return [(slug, name) for slug, name in db.session.execute(query.with_only_columns(Organization.slug, Organization.name)
                                                               .order_by(Organization.name, Organization.slug))]


def queue(filters: QueueFilters, me: User, *, per_page: int = 25) -> tuple[list[Ticket], str | None]:
    """One keyset page of the cross-organization queue and the cursor of the next page (None at the end)."""
    if filters.org:
        org = db.session.scalar(select(Organization).where(Organization.slug == filters.org))
        if org is None:
            return [], None
        base = scoped(Ticket, org)
    else:
        base = unscoped(Ticket, reason="platform support agents work every organization's queue")
    return _keyset(base, filters, me, per_page)


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


def _keyset(query: Select, filters: QueueFilters, me: User, per_page: int, search_comments: bool = True) -> tuple[list[Ticket], str | None]:
    sort = filters.sort if filters.sort in SORTS else "activity"
    column, desc = SORTS[sort]
    query = _filtered(query, filters, me, search_comments)
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
