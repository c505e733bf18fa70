"""Signed, expiring tokens for emailed links (verification, reset, invitation)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.routing import MapAdapter

from portal.errors import ServiceError

LONG_LIVED = 365 * 24 * 3600  # links meant to keep working, like unsubscribe links in old emails


def make_token(purpose: str, payload: dict) -> str:
    """Sign payload for one purpose; a token for one purpose is useless for another."""
    return URLSafeTimedSerializer(current_app.secret_key, salt=f"vetrai-{purpose}").dumps(payload)


def read_token(purpose: str, token: str) -> dict:
    """The payload of a valid token, or a ServiceError saying it expired or is not valid."""
    max_age = current_app.config["TOKEN_MAX_AGE"].get(purpose, LONG_LIVED)
    try:
        return URLSafeTimedSerializer(current_app.secret_key, salt=f"vetrai-{purpose}").loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ServiceError("This link has expired. Ask for a new one.", code="token_expired") from exc
    except BadSignature as exc:
        raise ServiceError("This link is not valid. Check that you copied all of it.", code="token_invalid") from exc


def external_url(endpoint: str, **values) -> str:
    """An absolute URL built from BASE_URL, usable outside a request (in jobs and emails)."""
    return _base_url_adapter().build(endpoint, values, force_external=True)


def _base_url_adapter() -> MapAdapter:
    """The app's URL map bound to BASE_URL, once per app and BASE_URL: a request context per link (what url_for
    needs outside a request) cost a run's end notice more than its query."""
    app = current_app._get_current_object()
    base = app.config["BASE_URL"]
    cached = app.extensions.get("external_url")
    if cached is None or cached[0] != base:
        parts = urlsplit(base)
        cached = (base, app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "http"))
        app.extensions["external_url"] = cached
    return cached[1]
