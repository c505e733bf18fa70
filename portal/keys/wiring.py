"""What API keys add to the app: key pages, the API, `flask keys`, cache invalidation, usage flushing and expiry notices."""

from flask import Flask

from portal.infra import jobs, periodic
from portal.keys import api, bp, cli, invalidation, tasks, views  # noqa: F401  (views and api attach their routes)


def init_app(app: Flask) -> None:
    """Register the key pages, the CLI group, the listener that drops stale cached keys, and the periodic jobs."""
    app.register_blueprint(bp)
    app.cli.add_command(cli.group)
    invalidation.init_app(app)
    jobs.register(app, tasks.flush_usage, tasks.notify_expiring)
    periodic.every(app, 30, tasks.flush_usage)
    periodic.every(app, 3600, tasks.notify_expiring)
