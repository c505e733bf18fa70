"""Parsing and serializing for API views."""

from __future__ import annotations

from typing import TypeVar

from flask import request, url_for
from pydantic import BaseModel, ValidationError

from portal.errors import ServiceError, ValidationFailed
from portal.pagination import Page

T = TypeVar("T", bound=BaseModel)


def parse_body(model: type[T]) -> T:
    """The JSON body as `model`, or a 4xx naming each bad field."""
    if not request.is_json:
        raise ServiceError("Send a JSON body with Content-Type: application/json.", code="unsupported_media_type", status=415)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ServiceError("The body is not a JSON object.", code="bad_json", status=400)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(_fields(exc)) from exc


def parse_query(model: type[T]) -> T:
    """The query string as `model`, or a 422 naming each bad parameter."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed(_fields(exc)) from exc


def _fields(exc: ValidationError) -> dict[str, str]:
    return {".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()}


def page_envelope(page: Page, items: list, endpoint: str, **values) -> dict:
    """A page of results with a `next` link that keeps the other query parameters."""
    next_url = None
    if page.has_next:
        args = {**request.args.to_dict(), **values, "page": page.page + 1, "per_page": page.per_page}
        next_url = url_for(endpoint, **args)
    return {"data": items, "page": page.page, "per_page": page.per_page, "total": page.total, "next": next_url}


def api_org_required(permission: str = "org.view"):
    """For /api/v1 routes without an org in the path: the org comes from the API key, else ?org=<slug>,
    else the caller's only organization. Sets current_org like tenancy.org_required."""
    from functools import wraps

    from flask import g
    from flask_login import current_user

    from portal.extensions import db, login_manager
    from portal.orgs.models import Organization
    from portal.orgs.service import orgs_of
    from portal.tenancy import resolve_org

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            key_org_id = g.get("api_key_org_id")
            if key_org_id is not None:
                # ?org= naming another org than the key's is a 404 (resolve_org), never silently ignored
                slug = request.args.get("org") or db.session.get(Organization, key_org_id).slug
            else:
                slug = request.args.get("org")
                if not slug:
                    memberships = orgs_of(current_user)
                    if len(memberships) != 1:
                        raise ServiceError("Name the organization with ?org=<slug>.", code="org_required", status=400)
                    slug = memberships[0].org.slug
            g.org, g.membership = resolve_org(slug, permission)
            return view(*args, **kwargs)

        wrapped.required_permission = permission
        return wrapped

    return decorator
