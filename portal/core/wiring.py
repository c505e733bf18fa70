"""What the core routes add to the app: home, health checks, local file downloads."""

from flask import Flask, url_for

from portal.core import bp, views  # noqa: F401  (views attach the routes to bp)
from portal.infra import storage


def init_app(app: Flask) -> None:
    """Register the core blueprint; its /files/<token> route serves local storage's download links."""
    app.register_blueprint(bp)
    storage.serve_downloads(app, lambda token: url_for("core.download", token=token))
