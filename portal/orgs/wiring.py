"""What the orgs domain adds to the app: its pages."""

from flask import Flask

from portal.orgs import bp, views  # noqa: F401  (views attach the routes to bp)


def init_app(app: Flask) -> None:
    """Register the orgs blueprint."""
    app.register_blueprint(bp)
