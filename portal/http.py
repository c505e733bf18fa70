"""HTTP vocabulary shared by every layer that answers a request: the JSON error shape and who gets it.

A leaf module: it imports nothing from the portal, so error pages, the API-key hook and the unauthorized
answer can all use it without importing each other.
"""

from __future__ import annotations

from flask import jsonify, request

CODES = {
    400: "bad_request",
    401: "unauthenticated",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def json_error(status: int, message: str, code: str | None = None, fields: dict | None = None, headers=None):
    """The API's one error shape: {"error": {"code", "message", "fields"}}."""
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message, "fields": fields or {}}}
    return jsonify(body), status, headers or {}


def wants_json() -> bool:
    """True for API calls, which get JSON errors instead of pages."""
    return request.path.startswith("/api/") or request.path.startswith("/health")
