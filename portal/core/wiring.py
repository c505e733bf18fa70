"""What the core routes add to the app: home, health checks, local file downloads."""

from flask import Flask

from portal.core import bp, views  # noqa: F401  (views attach the routes to bp)


def init_app(app: Flask) -> None:
    """Register the core blueprint."""
    app.register_blueprint(bp)
