"""Jobs the workflows bench enqueues next to workflow runs, registered on the bench's app and on its
`flask --app 'bench.bench_jobs:bench_app()' worker` processes (a module of its own, so both import the
same functions under the same dotted path)."""

from __future__ import annotations

import time

from flask import current_app

LATENCY_KEY = "vetrai:bench:noop-latency"


def noop(enqueued_at: float) -> None:
    """The baseline job: records its enqueue-to-start latency and does nothing else."""
    current_app.extensions["jobs"].redis.rpush(LATENCY_KEY, time.time() - enqueued_at)


def hold(key: str) -> None:
    """Keeps a worker busy until the bench releases it (see workflows_bench.Gate)."""
    current_app.extensions["jobs"].redis.blpop(key, timeout=600)


def bench_app():
    """The portal plus the bench's own jobs."""
    from portal import create_app
    from portal.infra import jobs

    app = create_app()
    jobs.register(app, noop, hold)
    return app
