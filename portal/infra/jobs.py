"""Background jobs: RQ on Redis when REDIS_URL is set, an in-process thread pool otherwise.

Both runners call `execute(path, args, kwargs)`, so a job runs through the same code either way: in a
fresh app context (a fresh database session), inside one unit of work, looked up in the app's job
registry. A job whose database connection drops (a restart, a failover) runs again from the start on a
fresh connection (infra/dbretry.py): its rolled-back transaction left nothing behind, and a job that
commits in steps claims its rows with a conditional update, so the second run skips what the first did.
Jobs are referenced as functions: each domain's `init_app` registers its job functions (`register(app, fn, ...)`),
`enqueue(fn, ...)` refuses a function nobody registered, and RQ carries the function's dotted path. Jobs take ids, never objects: the database holds the truth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Protocol

from flask import Flask, current_app, has_app_context

from portal.infra import dbretry
from portal.uow import unit_of_work

log = logging.getLogger(__name__)

_worker_app: Flask | None = None


class JobRunner(Protocol):
    """What callers may ask of a job runner, whichever adapter it is."""

    name: str

    def enqueue(self, path: str, args: tuple, kwargs: dict, queue: str, delay: float | None) -> str: ...
    def wait(self, timeout: float = 30.0) -> bool: ...
    def ping(self) -> bool: ...
    def queue_depths(self) -> dict[str, int]: ...
    def live_workers(self) -> int: ...
    def claim(self, name: str, ttl: int) -> bool: ...
    def release(self, name: str) -> None: ...


def job_path(fn: Callable) -> str:
    """The dotted path RQ stores for fn (and the registry's key)."""
    return f"{fn.__module__}.{fn.__qualname__}"


def register(app: Flask, *fns: Callable) -> None:
    """Make job functions runnable in this app: domains call it from their init_app."""
    registry = app.extensions.setdefault("job_registry", {})
    for fn in fns:
        registry[job_path(fn)] = fn


def registered(app: Flask) -> dict[str, Callable]:
    """Every job this app can run, by dotted path."""
    return dict(app.extensions.get("job_registry", {}))


def execute(path: str, args: tuple | list = (), kwargs: dict | None = None) -> Any:
    """Run the registered job at `path` inside a fresh app context and one unit of work (again, from the start,
    if its database connection dropped)."""
    app = current_app._get_current_object() if has_app_context() else _worker_app
    if app is None:
        raise RuntimeError("No app to run jobs in: start workers with `flask worker`, which builds one.")
    fn = app.extensions.get("job_registry", {}).get(path)
    if fn is None:
        raise LookupError(f"{path} is not a registered job (see the domain's init_app)")

    def attempt() -> Any:
        # Each attempt gets its own app context, hence its own session and connection.
        with app.app_context(), unit_of_work():
            return fn(*args, **(kwargs or {}))

    return dbretry.run(attempt, attempts=app.config["DB_RETRY_ATTEMPTS"], backoff=app.config["DB_RETRY_BACKOFF_SECONDS"], name=f"job {path}")


class InProcessRunner:
    """Runs jobs on background threads of this process: the embedded default when there is no Redis."""

    name = "in-process"

    def __init__(self, app: Flask, workers: int = 2):
        self.app = app
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._pending = 0  # submitted to the pool and not finished
        self._timers: dict[int, float] = {}  # delayed jobs not yet due: id → monotonic due time
        self._idle = threading.Condition()

    def enqueue(self, path: str, args: tuple, kwargs: dict, queue: str, delay: float | None) -> str:
        if delay:
            timer = threading.Timer(delay, self._fire, (path, args, kwargs))
            timer.daemon = True
            with self._idle:
                self._timers[id(timer)] = time.monotonic() + delay
            timer.args = (id(timer), path, args, kwargs)
            timer.start()
        else:
            with self._idle:
                self._pending += 1
            self._submit(path, args, kwargs)
        return f"inproc:{path}"

    def _fire(self, timer_id: int, path: str, args: tuple, kwargs: dict) -> None:
        with self._idle:
            self._timers.pop(timer_id, None)
            self._pending += 1
        self._submit(path, args, kwargs)

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
        """Block until every job has finished, delayed ones included unless due after the timeout;
        False on timeout."""
        deadline = time.monotonic() + timeout

        def idle() -> bool:
            return self._pending == 0 and not any(due <= deadline for due in self._timers.values())

        with self._idle:
            return self._idle.wait_for(idle, timeout)

    def ping(self) -> bool:
        return True

    def queue_depths(self) -> dict[str, int]:
        # One pool serves every queue: what is submitted and not finished counts as "default".
        return {"default": self._pending}

    def live_workers(self) -> int:
        return self._pool._max_workers

    def claim(self, name: str, ttl: int) -> bool:
        return True  # one process: nobody else could claim it

    def release(self, name: str) -> None:
        """Nothing to give back: claims are not held in one process."""

    def shutdown(self, timeout: float = 30.0) -> None:
        """Let enqueued jobs (delayed ones included) finish, then stop the pool's threads."""
        self.wait(timeout)
        self._pool.shutdown(wait=True)


class RQRunner:
    """Enqueues jobs on RQ queues in Redis; `flask worker` runs them."""

    name = "rq"
    TRACKED_IDS = 10_000

    def __init__(self, redis_url: str, queues: tuple[str, ...]):
        from redis import Redis
        from rq import Queue

        # A connect timeout (not a read timeout: the worker blocks on reads) so that a Redis that
        # drops packets fails readiness and enqueue instead of hanging them.
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=5)
        self.queues = {name: Queue(name, connection=self.redis) for name in queues}
        # Ids this process enqueued and has not yet seen finish, for wait(). Bounded: a web process
        # never calls wait(), and must not keep every id it ever enqueued.
        self._mine: dict[str, None] = {}
        self._lock = threading.Lock()

    def enqueue(self, path: str, args: tuple, kwargs: dict, queue: str, delay: float | None) -> str:
        q = self.queues[queue]
        call = (execute, path, list(args), kwargs)
        job = q.enqueue_in(timedelta(seconds=delay), *call) if delay else q.enqueue(*call)
        with self._lock:
            self._mine[job.id] = None
            while len(self._mine) > self.TRACKED_IDS:
                del self._mine[next(iter(self._mine))]  # the oldest
        return job.id

    def _scheduled_after(self, horizon: float) -> set[str]:
        """Ids of delayed jobs due after `horizon` (epoch seconds): wait() does not wait for those."""
        later: set[str] = set()
        for q in self.queues.values():
            later.update(i.decode() for i in self.redis.zrangebyscore(q.scheduled_job_registry.key, horizon, "+inf"))
        return later

    def _unfinished_own_jobs(self, ignore: set[str] = frozenset()) -> int:
        """How many jobs this process enqueued are still queued, scheduled or running."""
        from rq.job import Job, JobStatus

        with self._lock:
            ids = [i for i in self._mine if i not in ignore]
        if not ids:
            return 0
        done = {s.value.encode() for s in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)}
        with self.redis.pipeline() as pipe:
            for job_id in ids:
                pipe.hget(Job.key_for(job_id), "status")
            statuses = pipe.execute()
        # No status at all: the job's hash has expired, so it finished long ago.
        finished = {job_id for job_id, status in zip(ids, statuses, strict=True) if status is None or status in done}
        with self._lock:
            for job_id in finished:
                self._mine.pop(job_id, None)
        return len(ids) - len(finished)

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until every job is done: the ones this process enqueued, and whatever is left in the
        queues and the started and scheduled registries (jobs that jobs enqueued); False on timeout.

        The job ids matter: a worker pops a job off its queue a moment before it records it as
        started, and in that moment the queues and registries alone look idle.
        """
        import time

        deadline = time.monotonic() + timeout
        horizon = time.time() + timeout  # a job delayed past the timeout is not waited for
        while time.monotonic() < deadline:
            later = self._scheduled_after(horizon)
            busy = self._unfinished_own_jobs(later) + sum(
                len(q) + q.started_job_registry.count + self.redis.zcount(q.scheduled_job_registry.key, "-inf", horizon)
                for q in self.queues.values()
            )
            if busy == 0:
                return True
            time.sleep(0.05)
        return False

    def ping(self) -> bool:
        return bool(self.redis.ping())

    def queue_depths(self) -> dict[str, int]:
        return {name: len(q) for name, q in self.queues.items()}

    def live_workers(self) -> int:
        from rq import Worker

        return Worker.count(connection=self.redis)

    def claim(self, name: str, ttl: int) -> bool:
        """True for the first process to claim `name` within ttl seconds (a lock that expires by itself)."""
        return bool(self.redis.set(f"vetrai:claim:{name}", "1", nx=True, ex=max(ttl, 1)))

    def release(self, name: str) -> None:
        """Give a claim back before its ttl: the next claim of `name` succeeds."""
        self.redis.delete(f"vetrai:claim:{name}")


def init_app(app: Flask) -> None:
    """Choose the runner from config and keep it on the app."""
    if app.config.get("REDIS_URL"):
        chosen: JobRunner = RQRunner(app.config["REDIS_URL"], app.config["RQ_QUEUES"])
    else:
        chosen = InProcessRunner(app, app.config["INPROCESS_JOB_WORKERS"])
    app.extensions["jobs"] = chosen
    app.extensions.setdefault("job_registry", {})


def runner() -> JobRunner:
    """The current app's job runner."""
    return current_app.extensions["jobs"]


def queue_depths() -> dict[str, int]:
    """Jobs waiting on every configured queue, also those the runner does not tell apart (the in-process pool
    serves them all: 0 there). Raises when the runner's Redis does not answer."""
    return {name: 0 for name in current_app.config["RQ_QUEUES"]} | runner().queue_depths()


def enqueue(job: Callable | str, *args: Any, queue: str = "default", delay: float | None = None, **kwargs: Any) -> str:
    """Run the registered job function in the background, after `delay` seconds if given.

    Call it after the commit that made the rows the job reads (`uow.after_commit`), never before.
    """
    path = job if isinstance(job, str) else job_path(job)
    if path not in current_app.extensions.get("job_registry", {}):
        raise LookupError(f"{path} is not a registered job (see the domain's init_app)")
    return runner().enqueue(path, args, kwargs, queue, delay)


def run_worker(app: Flask, queues: list[str], burst: bool = False, scheduler: Any = None) -> None:
    """Run an RQ worker (with RQ's scheduler for delayed jobs, and `scheduler` for periodic ones)."""
    from rq import SimpleWorker

    global _worker_app
    rq_runner = app.extensions["jobs"]
    if not isinstance(rq_runner, RQRunner):
        raise SystemExit("REDIS_URL is not set: jobs run in-process inside the web server; no worker is needed.")
    _worker_app = app
    # SimpleWorker runs jobs in this process instead of forking one per job: no database
    # connections shared across a fork, and no fork cost on every short job.
    worker = SimpleWorker([rq_runner.queues[q] for q in queues], connection=rq_runner.redis)
    if scheduler is not None and not burst:
        scheduler.start()  # periodic jobs; a claim per period keeps several workers from doubling them
        warm_stop = worker.request_stop

        def request_stop(signum, frame):  # a worker asked to stop starts no more periodic runs either
            scheduler.stop()
            warm_stop(signum, frame)

        worker.request_stop = request_stop  # RQ installs its SIGTERM/SIGINT handler from this attribute
    worker.work(burst=burst, with_scheduler=True)
