"""Record and read the audit log."""

from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import Select, select

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.pagination import Page, paginate

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
)


def client_ip() -> str | None:
    """The caller's address (ProxyFix sets remote_addr from X-Forwarded-For in production)."""
    return request.remote_addr if has_request_context() else None


def record(action: str, *, org=None, actor=None, target: str = "", data: dict | None = None, commit: bool = False) -> AuditEvent:
    """Add an audit event to the session; the caller's commit makes it part of the same change."""
    event = AuditEvent(
        org_id=org.id if org is not None else None,
        actor_id=actor.id if actor is not None else None,
        action=action,
        target=target,
        ip=client_ip(),
        data=data or {},
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event


def _filtered(query: Select, action: str | None, actor_email: str | None) -> Select:
    from portal.accounts.models import User

    if action:
        query = query.where(AuditEvent.action == action)
    if actor_email:
        query = query.join(User, AuditEvent.actor_id == User.id).where(User.email.contains(actor_email.lower()))
    return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def list_for_org(org, *, action: str | None = None, actor_email: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    """One org's events, newest first."""
    return paginate(_filtered(select(AuditEvent).where(AuditEvent.org_id == org.id), action, actor_email), page, per_page)


def list_all(*, action: str | None = None, actor_email: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    """Every event on the platform, newest first (super admins)."""
    return paginate(_filtered(select(AuditEvent), action, actor_email), page, per_page)
