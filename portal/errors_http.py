"""Error answers: pages for browsers, the JSON error shape for the API."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.errors import ServiceError
from portal.security import wants_json

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
}


def json_error(status: int, message: str, code: str | None = None, fields: dict | None = None, headers=None):
    """The API's one error shape: {"error": {"code", "message", "fields"}}."""
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message, "fields": fields or {}}}
    return jsonify(body), status, headers or {}


def _page(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = "Your session's security token was missing or stale. Reload the page and try again."
        if wants_json():
            return json_error(400, message, "csrf_failed")
        return _page(400, "Please try again", message)

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        if wants_json():
            return json_error(exc.status, exc.message, exc.code, exc.fields)
        return _page(exc.status, "That didn't work", exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 404:
            message = "There is nothing here, or you don't have access to it."
        if wants_json():
            headers = {}
            if status == 429 and getattr(exc, "retry_after", None):
                headers["Retry-After"] = str(exc.retry_after)
            return json_error(status, message, headers=headers)
        return _page(status, exc.name, message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error")
        message = "Something went wrong on our side. It has been logged."
        if wants_json():
            return json_error(500, message)
        return _page(500, InternalServerError.name, message)
