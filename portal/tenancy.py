"""Organization scoping in one place: the membership check, the permission check, scoped queries."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import abort, g
from flask_login import current_user
from sqlalchemy import Select, select
from werkzeug.local import LocalProxy

from portal.extensions import db, login_manager
from portal.orgs.models import Membership, Organization
from portal.roles import role_allows

M = TypeVar("M")

current_org: Organization = LocalProxy(lambda: g.get("org"))  # type: ignore[assignment]
current_membership: Membership = LocalProxy(lambda: g.get("membership"))  # type: ignore[assignment]


def resolve_org(slug: str, permission: str) -> tuple[Organization, Membership]:
    """Load org by slug for the current user: 404 for non-members, 403 for a missing permission."""
    # One query for both: the org and the caller's membership in it (an outer join keeps a found org
    # distinguishable from none, though both answer 404).
    row = db.session.execute(
        select(Organization, Membership)
        .outerjoin(Membership, (Membership.org_id == Organization.id) & (Membership.user_id == current_user.id))
        .where(Organization.slug == slug)
    ).first()
    org, membership = row if row is not None else (None, None)
    # An API key is bound to one organization: any other org looks like it does not exist.
    key_org_id = g.get("api_key_org_id")
    if membership is None or (key_org_id is not None and key_org_id != org.id):
        abort(404)
    if org.is_suspended:
        abort(403, description="This organization is suspended. Contact the platform's support.")
    if not role_allows(membership.role, permission):
        abort(403, description="Your role in this organization does not allow this.")
    return org, membership


def org_required(permission: str = "org.view") -> Callable:
    """Decorate a view under /o/<org_slug>/: sets current_org and current_membership or answers 404/403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            g.org, g.membership = resolve_org(kwargs["org_slug"], permission)
            return view(*args, **kwargs)

        wrapped.required_permission = permission
        return wrapped

    return decorator


def platform_required(permission: str) -> Callable:
    """Decorate a platform-staff view; anyone else gets a 404 so the console's existence does not leak."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not role_allows(current_user.platform_role, permission):
                abort(404)
            return view(*args, **kwargs)

        wrapped.required_permission = permission
        return wrapped

    return decorator


def scoped(model: type[M], org: Organization) -> Select:
    """A SELECT over model limited to org's rows: the one way domain code queries org data."""
    return select(model).where(model.org_id == org.id)


def get_scoped_or_404(model: type[M], org: Organization, public_id: str) -> M:
    """One row of org by public id; another organization's row is a 404, never a 403."""
    obj = db.session.scalar(scoped(model, org).where(model.public_id == public_id))
    if obj is None:
        abort(404)
    return obj
