"""What the API adds to the app: /api/v1 (every domain's api module attaches to it) and its docs pages."""

from flask import Flask

from portal.api import bp, docs, docs_bp, idempotency, views  # noqa: F401  (views and docs attach their routes)
from portal.infra import jobs, periodic


def init_app(app: Flask) -> None:
    """Register /api/v1 after the domains attached their endpoints, and the docs viewers."""
    app.register_blueprint(bp)
    app.register_blueprint(docs_bp)
    jobs.register(app, idempotency.prune)
    periodic.every(app, 3600, idempotency.prune)
