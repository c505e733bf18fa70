"""What the audit domain adds to the app: its pages, and the caller's address for every event."""

from flask import Flask, g, request

from portal.audit import bp, views  # noqa: F401  (views attach the routes to bp)


def _note_client_ip() -> None:
    # The web layer's part of an audit event: services read it from g and never touch the request.
    # ProxyFix has already set remote_addr from X-Forwarded-For in production.
    g.client_ip = request.remote_addr


def init_app(app: Flask) -> None:
    """Register the audit blueprint and note each request's client address for its audit events."""
    app.register_blueprint(bp)
    app.before_request(_note_client_ip)
