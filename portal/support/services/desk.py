"""The agents' desk: who the agents are, their availability and round-robin turn, their inbox, saved views and
canned replies."""

from __future__ import annotations

import re

from sqlalchemy import bindparam, select

from portal.accounts.models import User
from portal.accounts.service import support_agents_query
from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.models import utcnow
from portal.notifications.service import staff_inbox
from portal.pagination import Page
from portal.support.models import AgentState, CannedReply, SavedView, Ticket

# What the agents' pages ask on every request (the assignee filter, availability, saved views): built once, since a
# statement built per request pays for its SQLAlchemy cache key again (see tenancy.scoped_by_org_id).
_AGENTS = support_agents_query()
_AVAILABLE_AGENTS = _AGENTS.join(AgentState, AgentState.user_id == User.id).where(AgentState.available.is_(True))
_IS_AVAILABLE = select(AgentState.available).where(AgentState.user_id == bindparam("user_id"))
_SAVED_VIEWS = select(SavedView).where(SavedView.user_id == bindparam("user_id")).order_by(SavedView.name)


def agents(available_only: bool = False) -> list[User]:
    """Every support agent (accounts decides who that is), optionally only those marked available."""
    return list(db.session.scalars(_AVAILABLE_AGENTS if available_only else _AGENTS))


def agent_by_public_id(public_id: str) -> User | None:
    """The support agent with this user id, or None (anyone else, or nobody)."""
    return db.session.scalar(support_agents_query().where(User.public_id == public_id))


def next_agent() -> User | None:
    """Round-robin: the available agent assigned longest ago (never assigned first); marks them assigned now."""
    agent_ids = support_agents_query().with_only_columns(User.id).order_by(None)
    state = db.session.scalar(
        select(AgentState)
        .where(AgentState.available.is_(True), AgentState.user_id.in_(agent_ids))
        .order_by(AgentState.last_assigned_at.is_not(None), AgentState.last_assigned_at, AgentState.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # two tickets filed at once go to two agents
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
    db.session.flush()
    return state


def is_available(agent: User) -> bool:
    """Whether the agent is marked available for round-robin assignment."""
    return bool(db.session.scalar(_IS_AVAILABLE, {"user_id": agent.id}))


def agent_inbox(agent: User, *, page: int = 1, per_page: int = 20) -> Page:
    """The ticket notifications addressed to an agent, from every organization (agents are members of none)."""
    return staff_inbox(agent, event_prefix="ticket.", page=page, per_page=per_page)


# ---------------------------------------------------------------- saved views


def save_view(user: User, name: str, query_string: str) -> SavedView:
    """Save the queue's current filters under a name, for this agent."""
    if not (name or "").strip():
        raise ValidationFailed({"name": "Name the view."})
    view = SavedView(user_id=user.id, name=name.strip()[:80], query=(query_string or "")[:1000])
    db.session.add(view)
    db.session.flush()
    return view


def saved_views(user: User) -> list[SavedView]:
    """The agent's saved views, by name."""
    return list(db.session.scalars(_SAVED_VIEWS, {"user_id": user.id}))


def delete_view(user: User, public_id: str) -> None:
    """Delete one of the agent's own saved views (anyone else's is NotFound)."""
    view = db.session.scalar(select(SavedView).filter_by(user_id=user.id, public_id=public_id))
    if view is None:
        raise NotFound()
    db.session.delete(view)
    db.session.flush()


# ---------------------------------------------------------------- canned replies


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
    db.session.flush()
    return reply


_VARIABLE = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def delete_canned(public_id: str) -> CannedReply:
    """Remove a canned reply (replies already sent keep their words); NotFound when there is no such reply."""
    reply = db.session.scalar(select(CannedReply).filter_by(public_id=public_id))
    if reply is None:
        raise NotFound()
    db.session.delete(reply)
    db.session.flush()
    return reply


def render_canned(public_id: str, ticket: Ticket, agent: User) -> str:
    """A canned reply with its variables filled in (plain substitution: no template code runs)."""
    reply = db.session.scalar(select(CannedReply).filter_by(public_id=public_id))
    if reply is None:
        raise ValidationFailed({"canned_id": "No such canned reply."})
    number = ticket.short_number
    values = {
        "customer_name": ticket.requester.display_name if ticket.requester else "there",
        # a customer reads the short number, never the internal id; old templates' {{ ticket_id }} gets it too
        "ticket_id": number,
        "ticket_number": number,
        "subject": ticket.subject,
        "agent_name": agent.display_name,
        "org_name": ticket.org.name,
    }
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), reply.body)


def compose_reply(ticket: Ticket, agent: User, body: str, canned_id: str | None = None) -> str:
    """An agent's reply: the canned reply they picked (filled in), then what they wrote."""
    if not canned_id:
        return body
    return (render_canned(canned_id, ticket, agent) + "\n\n" + body).strip()
