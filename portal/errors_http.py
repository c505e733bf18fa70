"""Error answers in one place: pages for browsers, the JSON error shape for the API.

Every error rolls the request's unit of work back before answering (a refusal that keeps its changes,
`ServiceError.persist`, commits instead), so a refused request changes nothing and the error page itself
never queries a broken session.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES

from portal.errors import Forbidden, NotFound, ServiceError
from portal.extensions import db
from portal.http import json_error, wants_json
from portal.web import refusal_message

log = logging.getLogger(__name__)

NOT_FOUND = "There is nothing here, or you don't have access to it."


def _page(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        db.session.rollback()
        message = "Your session's security token was missing or stale. Reload the page and try again."
        if wants_json():
            return json_error(400, message, "csrf_failed")
        return _page(400, "Please try again", message)

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        if exc.persist:
            db.session.commit()
        else:
            db.session.rollback()
        if wants_json():
            return json_error(exc.status, exc.message, exc.code, exc.fields)
        # "Not Found" and "Forbidden" read the same whether a route or a service said so.
        title = HTTP_STATUS_CODES[exc.status] if isinstance(exc, NotFound | Forbidden) else "That didn't work"
        return _page(exc.status, title, refusal_message(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        db.session.rollback()
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 404:
            message = NOT_FOUND
        elif status == 413 and isinstance(exc, RequestEntityTooLarge):  # Werkzeug's words name no limit
            limit_mb = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
            message = f"What you sent is over {limit_mb} MB, the most one request may carry. Nothing was saved: go back and attach smaller files."
        if wants_json():
            headers = {}
            if status == 429 and getattr(exc, "retry_after", None):
                headers["Retry-After"] = str(exc.retry_after)
            if status == 405 and getattr(exc, "valid_methods", None):
                headers["Allow"] = ", ".join(exc.valid_methods)
            return json_error(status, message, headers=headers)
        return _page(status, exc.name, message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        db.session.rollback()  # first: a broken session must not reach the logging or the page
        log.exception("unhandled error")
        message = "Something went wrong on our side. It has been logged."
        if wants_json():
            return json_error(500, message)
        # a page of its own, outside the layout, rendered without context processors: the nav and
        # Flask-Login's current_user would query a database that may be what failed
        template = current_app.jinja_env.get_template("errors/unexpected.html")
        return template.render(status=500, title=InternalServerError().name, message=message), 500
