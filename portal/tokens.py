"""Signed, expiring tokens for emailed links (verification, reset, invitation)."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

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
    from flask import url_for

    app = current_app._get_current_object()
    with app.test_request_context(base_url=app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)
