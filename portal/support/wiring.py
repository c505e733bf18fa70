"""What support adds to the app: customer and agent pages, the API, and the SLA job."""

from flask import Flask

from portal.infra import jobs, periodic
from portal.support import api, bp, tasks, views  # noqa: F401  (views and api attach their routes)


def init_app(app: Flask) -> None:
    """Register the support pages and the SLA job."""
    app.register_blueprint(bp)
    jobs.register(app, tasks.check_sla)
    periodic.every(app, 60, tasks.check_sla)
