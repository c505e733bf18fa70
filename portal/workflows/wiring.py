"""What workflows add to the app: editor and run pages, the API, `flask workflows`, run and upkeep jobs."""

from flask import Flask

from portal.billing import service as billing
from portal.infra import jobs, periodic
from portal.workflows import api, bp, cli, executor, tasks, views  # noqa: F401  (views and api attach their routes)
from portal.workflows.services.runs import active_runs


def init_app(app: Flask) -> None:
    """Register the workflow pages, the CLI group, the run job, the reaper and the pruner, and the runs-at-once gauge."""
    app.register_blueprint(bp)
    billing.measure("concurrent_runs", active_runs)
    app.cli.add_command(cli.group)
    jobs.register(app, executor.run_workflow, tasks.reap, tasks.prune, tasks.dispatch)
    periodic.every(app, 5, tasks.reap)  # with the 20 s heartbeat timeout: a dead worker's run resumes within 25 s (issue: 30 s)
    periodic.every(app, 5, tasks.dispatch)  # runs accepted while Redis was down start within seconds of its return
    periodic.every(app, 3600, tasks.prune)
