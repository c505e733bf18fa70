"""API keys over the JSON API: /api/v1/keys. The org comes from the calling key, or ?org=<slug> for a session."""

from __future__ import annotations

from flask import g, jsonify, url_for

from portal.accounts.models import User
from portal.api import bp
from portal.api.helpers import page_envelope, parse_body, parse_query
from portal.api.openapi import route
from portal.errors import ValidationFailed
from portal.keys import schemas, service
from portal.pagination import clamp
from portal.tenancy import current_membership, current_org, org_required

NO_STORE = {"Cache-Control": "no-store"}


def _calling_key_scopes() -> frozenset[str] | None:
    key = g.get("api_key")
    return key.scopes if key is not None else None


def _person(user: User) -> schemas.OwnerOut:
    return schemas.OwnerOut(id=user.public_id, email=user.email, name=user.name)


def _out(key, totals: dict | None = None, used: tuple | None = None) -> dict:
    totals = totals if totals is not None else service.usage_totals([key])[key.id]
    when, ip = used if used is not None else service.last_used([key])[key.id]
    ceiling = service.rate_ceiling(current_org)  # the API answers for the calling org's keys only
    return schemas.KeyOut(
        id=key.public_id, name=key.name, prefix=key.prefix, last4=key.last4, masked=key.masked, scopes=list(key.scopes),
        status=key.status, owner=_person(key.owner), created_by=_person(key.created_by) if key.created_by is not None else None,
        rate_limit=key.rate_limit, effective_rate_limit=min(key.rate_limit, ceiling.limit) if ceiling else key.rate_limit,
        expires_at=key.expires_at, created_at=key.created_at, revoked_at=key.revoked_at,
        last_used_at=when, last_used_ip=ip, usage_30d=totals,
    ).model_dump(mode="json")


@route(bp, "/keys", "POST", summary="Create an API key (the full key is in this answer only)", tag="keys",
       body=schemas.KeyCreateIn, response=schemas.KeyCreatedOut, status=201, errors=(400, 401, 403, 404))
@org_required("keys.create")
def create_key():
    data = parse_body(schemas.KeyCreateIn)
    key, secret = service.create_key(
        current_org, current_membership, name=data.name, scopes=data.scopes, expires_at=data.expires_at,
        rate_limit=data.rate_limit, key_scopes=_calling_key_scopes(), owner=data.owner,
    )
    body = {**_out(key), "key": secret}
    return jsonify(body), 201, {"Location": url_for("api.get_key", key_id=key.public_id), **NO_STORE}


@route(bp, "/keys", "GET", summary="List API keys (masked), with last use and 30-day usage", tag="keys",
       query=schemas.KeyQuery, response=schemas.KeyListOut, errors=(400, 401, 403, 404))
@org_required("keys.create")
def list_keys():
    query = parse_query(schemas.KeyQuery)
    if query.status and query.status not in service.STATUSES:
        raise ValidationFailed({"status": f"Use one of: {', '.join(service.STATUSES)}."})
    page, per_page = clamp(query.page, query.per_page)
    result = service.list_keys(current_org, current_membership, status=query.status or None, q=query.q.strip()[:100], page=page, per_page=per_page)
    totals, used = service.usage_totals(result.items), service.last_used(result.items)
    items = [_out(k, totals[k.id], used[k.id]) for k in result.items]
    return jsonify(page_envelope(result, items, "api.list_keys"))


@route(bp, "/keys/<key_id>", "GET", summary="One API key (masked)", tag="keys", response=schemas.KeyOut)
@org_required("keys.create")
def get_key(key_id: str):
    return jsonify(_out(service.get_key(current_org, current_membership, key_id)))


@route(bp, "/keys/<key_id>", "PUT", summary="Change a key's name, scopes, expiry or rate limit", tag="keys",
       body=schemas.KeyUpdateIn, response=schemas.KeyOut, errors=(401, 403, 404, 409))
@org_required("keys.create")
def update_key(key_id: str):
    service.get_key(current_org, current_membership, key_id)  # the id before the body: another org's key is a 404
    data = parse_body(schemas.KeyUpdateIn)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    key = service.update_key(current_org, current_membership, key_id, changes, key_scopes=_calling_key_scopes())
    return jsonify(_out(key))


@route(bp, "/keys/<key_id>", "DELETE", summary="Revoke an API key (it stays readable, marked revoked, for the audit trail)", tag="keys", response=schemas.KeyOut)
@org_required("keys.create")
def revoke_key(key_id: str):
    return jsonify(_out(service.revoke_key(current_org, current_membership, key_id)))


@route(bp, "/keys/<key_id>/usage", "GET", summary="A key's requests per day over the last 30 days, by outcome and endpoint",
       tag="keys", response=schemas.UsageOut)
@org_required("keys.create")
def key_usage(key_id: str):
    key = service.get_key(current_org, current_membership, key_id)
    return jsonify({"key_id": key.public_id, **service.usage(key)})


@route(bp, "/keys/<key_id>/rotate", "POST", summary="Rotate: a new secret, same settings; the old one works for grace_period seconds",
       tag="keys", body=schemas.RotateIn, response=schemas.KeyRotatedOut, errors=(401, 403, 404, 409))
@org_required("keys.create")
def rotate_key(key_id: str):
    service.get_key(current_org, current_membership, key_id)
    data = parse_body(schemas.RotateIn)  # grace_period is required: an omitted one must not end the old key at once
    key, secret, old_until = service.rotate_key(current_org, current_membership, key_id, data.grace_period)
    body = {**_out(key), "key": secret, "previous_expires_at": old_until.isoformat()}
    return jsonify(body), 200, NO_STORE
