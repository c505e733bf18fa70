"""Idempotency-Key for the API's create endpoints, Stripe-style: a retried request returns the first answer.

The key row is inserted and flushed before the view runs, in the request's own transaction: it commits
with whatever the view created, or rolls back with it (a refused request leaves no key behind). A second
request with the same key while the first is still running waits on the unique index, then finds the
committed answer (PostgreSQL) or is told to retry (409).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Response, make_response, request
from sqlalchemy import String, Text, UniqueConstraint, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from portal.errors import Conflict, ValidationFailed
from portal.extensions import db
from portal.models import OrgScopedMixin, UTCDateTime, utcnow
from portal.tenancy import current_org, scoped, unscoped

HEADER = "Idempotency-Key"
KEPT_FOR = timedelta(hours=24)
MAX_LENGTH = 255
KEY_PATTERN = re.compile(rf"[\x21-\x7e]{{1,{MAX_LENGTH}}}")  # the pattern the OpenAPI document states


class IdempotencyKey(OrgScopedMixin, db.Model):
    """The first answer to a request that carried an Idempotency-Key, per org and key, for KEPT_FOR."""

    __table_args__ = (UniqueConstraint("org_id", "key", name="uq_idempotency_key_org_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))  # method, path and body: the same key must mean the same request
    status: Mapped[int | None] = mapped_column(nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False, index=True)


def _fingerprint() -> str:
    return hashlib.sha256(b"\0".join([request.method.encode(), request.path.encode(), request.get_data(cache=True)])).hexdigest()


def _replay(row: IdempotencyKey) -> Response:
    if row.fingerprint != _fingerprint():
        raise Conflict("This Idempotency-Key was already used with a different request; use a new key for a new request.",
                       field=HEADER, code="idempotency_key_reused")
    if row.status is None:
        raise Conflict("A request with this Idempotency-Key is still in progress; retry in a moment.", code="idempotency_in_progress")
    response = make_response(row.body, row.status)
    response.mimetype = "application/json"
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _earlier(org, key: str) -> IdempotencyKey | None:
    return db.session.scalar(scoped(IdempotencyKey, org).where(IdempotencyKey.key == key, IdempotencyKey.created_at > utcnow() - KEPT_FOR))


def idempotent(view: Callable) -> Callable:
    """Honour an Idempotency-Key header on a create view (under org_required): same key and body, same answer."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not KEY_PATTERN.fullmatch(key):
            raise ValidationFailed({HEADER: f"Use a key of 1 to {MAX_LENGTH} visible ASCII characters, e.g. a UUID."})
        org = current_org._get_current_object()
        if (row := _earlier(org, key)) is not None:
            return _replay(row)
        row = IdempotencyKey(org_id=org.id, key=key, fingerprint=_fingerprint())
        try:
            db.session.add(row)
            db.session.flush()
        except IntegrityError:
            # Lost the race to a request with the same key. Nothing else has been written yet, so the
            # whole transaction can go (not a savepoint: SQLite's RELEASE of an outermost one commits).
            db.session.rollback()
            if (winner := _earlier(org, key)) is not None:
                return _replay(winner)
            raise Conflict("A request with this Idempotency-Key is still in progress; retry in a moment.", code="idempotency_in_progress") from None
        response = make_response(view(*args, **kwargs))
        if response.status_code < 400:
            row.status, row.body = response.status_code, response.get_data(as_text=True)
        return response  # a refused request rolls back, its key with it: the client may retry it

    return wrapped


def prune() -> int:
    """Forget keys older than KEPT_FOR (a periodic job)."""
    old = unscoped(IdempotencyKey, reason="a retention sweep over every org's keys").where(IdempotencyKey.created_at <= utcnow() - KEPT_FOR)
    return db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(old.with_only_columns(IdempotencyKey.id)))).rowcount
