"""Record and read the audit log."""

from __future__ import annotations

from flask import g
from sqlalchemy import Select
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.pagination import Page, paginate
from portal.search import search
from portal.tenancy import scoped, unscoped

ACTIONS = (
    "login",
    "login.failed",
    "logout",
    "signup",
    "password.changed",
    "password.reset",
    "member.invited",
    "member.joined",
    "member.role_changed",
    "member.removed",
    "invitation.revoked",
    "org.created",
    "org.suspended",
    "org.restored",
    "user.suspended",
    "user.restored",
    "key.created",
    "key.updated",
    "key.rotated",
    "key.revoked",
    "key.policy_changed",
    "theme.published",
    "theme.reverted",
    "theme.reset",
    "theme.js_allowed",
    "theme.js_disallowed",
)


def client_ip() -> str | None:
    """The caller's address, as the web layer noted it for this request (None in jobs and the CLI)."""
    return g.get("client_ip")


def record(action: str, *, org=None, actor=None, target: str = "", data: dict | None = None) -> AuditEvent:
    """Add an audit event to the session: the unit of work commits it with the change it describes."""
    event = AuditEvent(
        org_id=org.id if org is not None else None,
        actor_id=actor.id if actor is not None else None,
        action=action,
        # What the row names, cut to the column: an audit entry never refuses the change it records.
        target=target[: AuditEvent.target.type.length],
        ip=client_ip(),
        data=data or {},
    )
    db.session.add(event)
    return event


def _filtered(query: Select, action: str | None, actor_email: str | None) -> Select:
    if action:
        query = query.where(AuditEvent.action == action)
    if actor_email:
        query = search(query.join(User, AuditEvent.actor_id == User.id), actor_email, User.email)
    # The table shows each event's actor and organization by name: load them with the page, not per row.
    return query.options(selectinload(AuditEvent.actor), selectinload(AuditEvent.org)).order_by(
        AuditEvent.created_at.desc(), AuditEvent.id.desc()
    )


def list_for_org(org, *, action: str | None = None, actor_email: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    """One org's events, newest first."""
    return paginate(_filtered(scoped(AuditEvent, org), action, actor_email), page, per_page)


def list_all(*, action: str | None = None, actor_email: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    """Every event on the platform, newest first (super admins)."""
    query = unscoped(AuditEvent, reason="the platform's audit log, read by super admins")
    return paginate(_filtered(query, action, actor_email), page, per_page)
