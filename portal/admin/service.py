"""The platform console: every organization and user, suspend and restore.

Its reads cross organizations on purpose (super admins run the whole platform): they go through
`tenancy.unscoped` / `get_unscoped_or_404`, each with its reason.
"""

from __future__ import annotations

from sqlalchemy import func, select

from portal.accounts.models import User
from portal.audit import service as audit
from portal.core import readiness
from portal.errors import ServiceError
from portal.extensions import db
from portal.infra import jobs
from portal.orgs.models import Membership, Organization
from portal.pagination import Page, paginate
from portal.search import search
from portal.tenancy import get_unscoped_or_404, unscoped
from portal.themes import service as themes

CONSOLE = "the platform console: super admins act on every organization"


def list_orgs(q: str = "", page: int = 1, per_page: int = 25) -> Page:
    """Organizations with a search over name and slug, newest first."""
    query = select(Organization).order_by(Organization.created_at.desc(), Organization.id.desc())
    return paginate(search(query, q, Organization.name, Organization.slug), page, per_page)


def member_counts(orgs: list[Organization]) -> dict[int, int]:
    """Member count per org id, in one query."""
    query = (
        unscoped(Membership, reason=CONSOLE)
        .with_only_columns(Membership.org_id, func.count())
        .where(Membership.org_id.in_([o.id for o in orgs]))
        .group_by(Membership.org_id)
    )
    return dict(db.session.execute(query).all())


def custom_js_allowed(orgs: list[Organization]) -> set[int]:
    """The ids of those orgs allowed custom JavaScript (the console's switch), in one query."""
    return themes.custom_js_allowed_orgs(orgs)


def set_org_custom_js(public_id: str, allowed: bool, by: User) -> Organization:
    """Allow or stop an organization's custom JavaScript (super admins only; the themes service audit-logs it)."""
    org = get_unscoped_or_404(Organization, public_id, reason=CONSOLE)
    themes.set_custom_js_allowed(org, allowed, by=by)
    return org


def list_users(q: str = "", page: int = 1, per_page: int = 25) -> Page:
    """Users with a search over name and email, newest first."""
    query = select(User).order_by(User.created_at.desc(), User.id.desc())
    return paginate(search(query, q, User.name, User.email), page, per_page)


def set_org_suspended(public_id: str, suspended: bool, by: User) -> Organization:
    """Suspend or restore an organization: its members lose access to it, its keys stop working."""
    org = get_unscoped_or_404(Organization, public_id, reason=CONSOLE)
    org.is_suspended = suspended
    audit.record("org.suspended" if suspended else "org.restored", org=org, actor=by, target=org.slug)
    return org


def set_user_suspended(public_id: str, suspended: bool, by: User) -> User:
    """Suspend or restore a user: a suspended user cannot log in and their sessions end."""
    user = get_unscoped_or_404(User, public_id, reason=CONSOLE)
    if user.id == by.id:
        raise ServiceError("You can't suspend yourself.", code="self_suspend")
    user.is_suspended = suspended
    if suspended:
        user.rotate_session_token()
    audit.record("user.suspended" if suspended else "user.restored", actor=by, target=user.email)
    return user


def newest_orgs(limit: int = 5) -> list[Organization]:
    """The organizations created last, newest first."""
    return list(db.session.scalars(unscoped(Organization, reason=CONSOLE).order_by(Organization.created_at.desc(), Organization.id.desc()).limit(limit)))


def job_health() -> dict:
    """The job runner at a glance: its kind, jobs waiting per queue, live workers, and each dependency's state.
    A runner whose Redis does not answer is reported as unreachable (the console still opens)."""
    health = {"runner": jobs.runner().name, "dependencies": readiness.checks(), "reachable": True, "depths": {}, "workers": None}
    try:
        health.update(depths=jobs.queue_depths(), workers=jobs.runner().live_workers())
    except Exception:  # noqa: BLE001 - Redis down: say so on the page, as /health/ready does
        health["reachable"] = False
    return health


def platform_stats() -> dict[str, int]:
    """Counts for the console's front page: organizations, users, suspended organizations."""
    return {
        "orgs": db.session.scalar(select(func.count(Organization.id))) or 0,
        "users": db.session.scalar(select(func.count(User.id))) or 0,
        "suspended_orgs": db.session.scalar(select(func.count(Organization.id)).where(Organization.is_suspended)) or 0,
    }
