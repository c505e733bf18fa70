"""Organization scoping in one place: the membership check, the permission check, scoped queries.

Pages and the API resolve the organization the same way (`org_required`): from the URL's `org_slug`,
else from the API key, else from `?org=<slug>`, else the caller's only organization. Every query on an
org table goes through `scoped()`; a deliberate cross-organization read goes through `unscoped()`,
which names its reason so that it can be found and reviewed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import g, request
from flask_login import current_user
from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.local import LocalProxy

from portal.errors import Forbidden, NotFound, ServiceError
from portal.extensions import db, login_manager
from portal.orgs.models import Membership, Organization
from portal.roles import role_allows

M = TypeVar("M")

current_org: Organization = LocalProxy(lambda: g.get("org"))  # type: ignore[assignment]
current_membership: Membership = LocalProxy(lambda: g.get("membership"))  # type: ignore[assignment]
# The org whose look a page wears: the one the member works in, or the one whose login, invitation or
# password-reset page an anonymous visitor came to (`brand_request`). Branding grants nothing.
branded_org: Organization = LocalProxy(lambda: g.get("org") or g.get("brand_org"))  # type: ignore[assignment]


def brand_request(org: Organization) -> None:
    """Dress this request's page in org's published theme, without making anyone a member of it."""
    g.brand_org = org


# One query for the org, the caller's membership in it (an outer join keeps a found org distinguishable from none,
# though both answer 404) and the caller's other memberships: the nav's org switcher lists them (what orgs.orgs_of
# would read again), by name. Built once, as the statements every page runs are (see `scoped_by_org_id`).
_ORG_AND_MEMBERSHIPS = (
    select(Organization, Membership)
    .outerjoin(Membership, (Membership.org_id == Organization.id) & (Membership.user_id == bindparam("user_id")))
    .where(or_(Organization.slug == bindparam("slug"),
               Organization.id.in_(select(Membership.org_id).where(Membership.user_id == bindparam("user_id")))))
    .order_by(Organization.name)
)


def resolve_org(slug: str, permission: str) -> tuple[Organization, Membership]:
    """Load org by slug for the current user: NotFound for non-members, Forbidden for a missing permission."""
    rows = db.session.execute(_ORG_AND_MEMBERSHIPS, {"user_id": current_user.id, "slug": slug}).all()
    for other, mine_there in rows:
        if mine_there is not None:  # hold the org on the membership: the session's identity map keeps only weak references
            set_committed_value(mine_there, "org", other)
    g.my_memberships = [m for _org, m in rows if m is not None]
    org, membership = next(((o, m) for o, m in rows if o.slug == slug), (None, None))
    # An API key is bound to one organization: any other org looks like it does not exist.
    key_org_id = g.get("api_key_org_id")
    if membership is None or (key_org_id is not None and key_org_id != org.id):
        raise NotFound()
    if org.is_suspended:
        raise Forbidden("This organization is suspended. Contact the platform's support.")
    if not role_allows(membership.role, permission):
        raise Forbidden("Your role in this organization does not allow this.")
    return org, membership


def _slug_without_path() -> str:
    """For /api/v1 routes with no org in the path: the API key's org, else ?org=, else the only one."""
    key_org_id = g.get("api_key_org_id")
    asked = request.args.get("org")
    if key_org_id is not None:
        # ?org= naming another org than the key's is a 404 (resolve_org), never silently ignored
        return asked or db.session.get(Organization, key_org_id).slug
    if asked:
        return asked
    slugs = db.session.scalars(
        select(Organization.slug).join(Membership, Membership.org_id == Organization.id)
        .where(Membership.user_id == current_user.id).limit(2)
    ).all()
    if len(slugs) != 1:
        raise ServiceError("Name the organization with ?org=<slug>.", code="org_required", status=400)
    return slugs[0]


def org_required(permission: str = "org.view", *, platform: str | None = None) -> Callable:
    """Decorate a view of one organization: sets current_org and current_membership, or answers 404/403.

    The org comes from the URL's `org_slug` when the route has one (pages), else as `_slug_without_path`
    says (API). With `platform=`, signed-in platform staff holding that permission (and no org-bound API
    key) act across organizations instead: `g.platform_staff` is True and no org is set.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            g.platform_staff = bool(platform and g.get("api_key_org_id") is None and role_allows(current_user.platform_role, platform))
            if not g.platform_staff:
                slug = kwargs["org_slug"] if "org_slug" in kwargs else _slug_without_path()
                g.org, g.membership = resolve_org(slug, permission)
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
                raise NotFound()
            return view(*args, **kwargs)

        wrapped.required_permission = permission
        return wrapped

    return decorator


def scoped(model: type[M], org: Organization) -> Select:
    """A SELECT over model limited to org's rows: the one way domain code queries org data."""
    return select(model).where(model.org_id == org.id)


def scoped_by_org_id(model: type[M]) -> Select:
    """scoped() with the org id a bound parameter, to build once for a statement every page runs: execute it with
    {"org_id": org.id}.

    A statement built per request costs more than running it: SQLAlchemy works out its cache key again each time
    (0.1-0.3 ms of CPU for the layout's few), while a module-level statement keeps the one it worked out first.
    """
    return select(model).where(model.org_id == bindparam("org_id"))


def scoped_or_platform(model: type[M], org: Organization) -> Select:
    """org's rows plus the platform's defaults (rows with no org), for tables that hold both."""
    return select(model).where(or_(model.org_id == org.id, model.org_id.is_(None)))


def unscoped(model: type[M], *, reason: str) -> Select:
    """A SELECT over every organization's rows: only for platform staff, jobs and the admin console.

    `reason` says why crossing organizations is right here; it is for the reader (grep for `unscoped(`).
    """
    assert reason, "say why this read crosses organizations"
    return select(model)


def get_scoped_or_404(model: type[M], org: Organization, public_id: str) -> M:
    """One row of org by public id; another organization's row is NotFound (404), never a 403."""
    obj = db.session.scalar(scoped(model, org).where(model.public_id == public_id))
    if obj is None:
        raise NotFound()
    return obj


def get_unscoped_or_404(model: type[M], public_id: str, *, reason: str) -> M:
    """One row of any organization by public id (platform staff), or NotFound."""
    obj = db.session.scalar(unscoped(model, reason=reason).where(model.public_id == public_id))
    if obj is None:
        raise NotFound()
    return obj
