"""Background jobs: RQ on Redis when REDIS_URL is set, an in-process thread pool otherwise.

Both runners call `execute(path, args, kwargs)`, so a job runs through the same code either way:
it gets a fresh app context (and so a fresh database session) and is looked up by dotted path.
Jobs take ids, never objects: the database holds the truth.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, has_app_context
from werkzeug.utils import import_string

log = logging.getLogger(__name__)

_worker_app: Flask | None = None


def execute(path: str, args: tuple | list = (), kwargs: dict | None = None) -> Any:
    """Run the job function at `path` inside a fresh app context."""
    app = current_app._get_current_object() if has_app_context() else _worker_app
    if app is None:  # an RQ worker started without `flask worker`
        from portal import create_app

        app = create_app()
    with app.app_context():
        return import_string(path)(*args, **(kwargs or {}))


class InProcessRunner:
    """Runs jobs on background threads of this process: the embedded default when there is no Redis."""

    name = "in-process"

    def __init__(self, app: Flask, workers: int = 2):
        self.app = app
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._pending = 0
        self._idle = threading.Condition()

    def enqueue(self, path: str, args: tuple, kwargs: dict, queue: str, delay: float | None) -> str:
        with self._idle:
            self._pending += 1
        if delay:
            timer = threading.Timer(delay, self._submit, (path, args, kwargs))
            timer.daemon = True
            timer.start()
        else:
            self._submit(path, args, kwargs)
        return f"inproc:{path}"

    def _submit(self, path: str, args: tuple, kwargs: dict) -> None:
        self._pool.submit(self._run, path, args, kwargs)

    def _run(self, path: str, args: tuple, kwargs: dict) -> None:
        try:
            with self.app.app_context():
                execute(path, args, kwargs)
        except Exception:  # a job's failure must not kill the pool; the job records its own state
            log.exception("job %s failed", path)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until every enqueued job (delayed ones included) has finished; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def ping(self) -> bool:
        return True


class RQRunner:
    """Enqueues jobs on RQ queues in Redis; `flask worker` runs them."""

    name = "rq"

    def __init__(self, redis_url: str, queues: tuple[str, ...]):
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(redis_url)
        self.queues = {name: Queue(name, connection=self.redis) for name in queues}

    def enqueue(self, path: str, args: tuple, kwargs: dict, queue: str, delay: float | None) -> str:
        q = self.queues[queue]
        call = (execute, path, list(args), kwargs)
        job = q.enqueue_in(timedelta(seconds=delay), *call) if delay else q.enqueue(*call)
        return job.id

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the queues, started and scheduled registries are empty; False on timeout."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = sum(
                len(q) + q.started_job_registry.count + q.scheduled_job_registry.count for q in self.queues.values()
            )
            if busy == 0:
                return True
            time.sleep(0.05)
        return False

    def ping(self) -> bool:
        return bool(self.redis.ping())


def init_app(app: Flask) -> None:
    """Choose the runner from config and keep it on the app."""
    if app.config.get("REDIS_URL"):
        runner: InProcessRunner | RQRunner = RQRunner(app.config["REDIS_URL"], app.config["RQ_QUEUES"])
    else:
        runner = InProcessRunner(app, app.config["INPROCESS_JOB_WORKERS"])
    app.extensions["jobs"] = runner


def runner() -> InProcessRunner | RQRunner:
    """The current app's job runner."""
    return current_app.extensions["jobs"]


def enqueue(path: str, *args: Any, queue: str = "default", delay: float | None = None, **kwargs: Any) -> str:
    """Run the function at dotted `path` in the background, after `delay` seconds if given."""
    return runner().enqueue(path, args, kwargs, queue, delay)


def run_worker(app: Flask, queues: list[str], burst: bool = False) -> None:
    """Run an RQ worker (with its scheduler, for delayed jobs) in this process."""
    from rq import SimpleWorker

    global _worker_app
    _worker_app = app
    rq_runner = app.extensions["jobs"]
    if not isinstance(rq_runner, RQRunner):
        raise SystemExit("REDIS_URL is not set: jobs run in-process inside `flask run`; no worker is needed.")
    # SimpleWorker runs jobs in this process instead of forking one per job: no database
    # connections shared across a fork, and no fork cost on every short job.
    worker = SimpleWorker([rq_runner.queues[q] for q in queues], connection=rq_runner.redis)
    worker.work(burst=burst, with_scheduler=True)
