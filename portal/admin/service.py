"""The platform console: every organization and user, suspend and restore."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from portal.accounts.models import User
from portal.audit import service as audit
from portal.errors import ServiceError
from portal.extensions import db
from portal.orgs.models import Membership, Organization
from portal.pagination import Page, paginate


def list_orgs(q: str = "", page: int = 1, per_page: int = 25) -> Page:
    """Organizations with a search over name and slug, newest first."""
    query = select(Organization).order_by(Organization.created_at.desc(), Organization.id.desc())
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(Organization.name).like(like), Organization.slug.like(like)))
    return paginate(query, page, per_page)


def member_counts(orgs: list[Organization]) -> dict[int, int]:
    """Member count per org id, in one query."""
    ids = [o.id for o in orgs]
    rows = db.session.execute(
        select(Membership.org_id, func.count()).where(Membership.org_id.in_(ids)).group_by(Membership.org_id)
    )
    return dict(rows.all())


def list_users(q: str = "", page: int = 1, per_page: int = 25) -> Page:
    """Users with a search over name and email, newest first."""
    query = select(User).order_by(User.created_at.desc(), User.id.desc())
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(User.name).like(like), User.email.like(like)))
    return paginate(query, page, per_page)


def _by_public_id(model, public_id: str):
    obj = db.session.scalar(select(model).filter_by(public_id=public_id))
    if obj is None:
        from flask import abort

        abort(404)
    return obj


def set_org_suspended(public_id: str, suspended: bool, by: User) -> Organization:
    """Suspend or restore an organization: its members lose access to it, its keys stop working."""
    org = _by_public_id(Organization, public_id)
    org.is_suspended = suspended
    audit.record("org.suspended" if suspended else "org.restored", org=org, actor=by, target=org.slug)
    db.session.commit()
    return org


def set_user_suspended(public_id: str, suspended: bool, by: User) -> User:
    """Suspend or restore a user: a suspended user cannot log in and their sessions end."""
    user = _by_public_id(User, public_id)
    if user.id == by.id:
        raise ServiceError("You can't suspend yourself.", code="self_suspend")
    user.is_suspended = suspended
    if suspended:
        user.rotate_session_token()
    audit.record("user.suspended" if suspended else "user.restored", actor=by, target=user.email)
    db.session.commit()
    return user


def platform_stats() -> dict[str, int]:
    return {
        "orgs": db.session.scalar(select(func.count(Organization.id))) or 0,
        "users": db.session.scalar(select(func.count(User.id))) or 0,
        "suspended_orgs": db.session.scalar(select(func.count(Organization.id)).where(Organization.is_suspended)) or 0,
    }
