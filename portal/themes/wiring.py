"""What themes add to the app: the editor pages, the theme stylesheet and files, the API, the page hook."""

from flask import Flask

from portal.themes import api, bp, views  # noqa: F401  (views and api attach their routes)
from portal.themes.services import published


def init_app(app: Flask) -> None:
    """Register the themes blueprint (the API's routes ride on /api/v1's)."""
    app.register_blueprint(bp)
    published.init_app(app)  # a publish touches its org's row: pages cache the published version by that stamp
