"""What notifications add to the app: inbox, preference and template pages, the API, delivery jobs."""

from flask import Flask

from portal.infra import jobs, periodic
from portal.notifications import api, bp, deliveries_job, tasks, views  # noqa: F401  (views and api attach their routes)


def init_app(app: Flask) -> None:
    """Register the notification pages, the delivery job and the reconciler."""
    app.register_blueprint(bp)
    jobs.register(app, deliveries_job.deliver_batch, tasks.reconcile)
    periodic.every(app, 60, tasks.reconcile)
