"""Periodic jobs (reconcilers, usage flushes, reminders): registered per app, run by a scheduler thread.

Domains call `every(app, seconds, fn)` from their init_app. A scheduler thread runs in the web process for
the in-process runner and in every `flask worker` for RQ. Time is cut into slots of `seconds` (slot k is
[k * seconds, (k + 1) * seconds)); each job runs at most once per slot in the whole fleet, by whichever
scheduler claims the slot first (the runner's claim: a Redis key with a TTL).

* Short jobs (every INLINE_UP_TO seconds or more often: the dispatch and reaper reconcilers, the usage
  flush, the SLA check) run on a thread of the scheduler itself, not through a queue: a full default queue
  or a worker busy with a long run cannot starve them. A job still running when its next slot starts is
  not started again (no copies pile up), and its scheduler claims the following slot as soon as it
  starts one, so no other process starts a second copy meanwhile either. This makes the scheduler that
  runs a job its owner for as long as it lives; when it dies, the slot it held ahead expires and another
  scheduler runs the job within two intervals (plus its one-second tick): 10 s for the 5 s dispatch.
* Longer jobs (hourly prunes and reminders) are enqueued on the "low" queue, once per slot, and only when
  the copy queued before has started: behind a backlog (workers busy or gone for hours) one copy waits,
  not one per hour, and it runs once. A copy that never starts stops blocking after PENDING_SLOTS slots.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask, current_app

from portal.infra.jobs import execute, job_path, register, registered

log = logging.getLogger(__name__)

INLINE_UP_TO = 60  # seconds: jobs at this interval or shorter run on the scheduler's own threads
TICK = 1.0
PENDING_SLOTS = 6  # a queued copy that has not started blocks the next copies for this many slots at most


def every(app: Flask, seconds: int, fn: Callable) -> None:
    """Run job function fn every `seconds` in app (registering twice keeps the last interval)."""
    app.extensions.setdefault("periodic_jobs", {})[fn] = seconds
    register(app, run_queued)


def _pending(path: str) -> str:
    return f"periodic-pending:{path}"


def run_queued(path: str) -> None:
    """A queued periodic job: say first that no copy waits any more (the next slot may queue one), then run it."""
    current_app.extensions["jobs"].release(_pending(path))
    registered(current_app)[path]()


def schedule(app: Flask) -> dict[Callable, int]:
    """The app's periodic jobs and their intervals in seconds."""
    return dict(app.extensions.get("periodic_jobs", {}))


class Scheduler:
    """Runs or enqueues the periodic jobs when due; `tick()` is one pass, the thread calls it each second.

    `jobs` (fn -> seconds) defaults to the app's schedule."""

    def __init__(self, app: Flask, enqueue: Callable[..., str], jobs: dict[Callable, int] | None = None):
        self.app = app
        self._enqueue = enqueue
        self._jobs = jobs
        self._slot: dict[Callable, int] = {}  # the last slot each job was considered in
        self._held: dict[Callable, int] = {}  # a slot claimed ahead while this process runs the job
        self._running: dict[Callable, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _claim(self, fn: Callable, seconds: int, slot: int) -> bool:
        name = f"periodic:{job_path(fn)}:{slot}"
        return self.app.extensions["jobs"].claim(name, max(seconds * 2, 10))

    def running(self, fn: Callable) -> bool:
        """True while this scheduler's run of fn has not finished."""
        with self._lock:
            thread = self._running.get(fn)
        return thread is not None and thread.is_alive()

    def tick(self, now: float | None = None) -> list[Callable]:
        """Start or enqueue every job whose slot has begun and that this scheduler claimed; returns them."""
        now = time.time() if now is None else now
        started = []
        jobs = schedule(self.app) if self._jobs is None else self._jobs
        for fn, seconds in jobs.items():
            slot = int(now // seconds)
            inline = seconds <= INLINE_UP_TO
            try:
                with self.app.app_context():
                    if inline and self.running(fn):
                        if self._slot.get(fn) != slot:  # once per slot, not on every tick
                            self._slot[fn] = slot
                            log.warning("periodic job %s still running: slot skipped", fn.__qualname__)
                            self._hold(fn, seconds, slot + 1)  # and no other process starts a second copy
                        continue
                    if self._slot.get(fn) == slot:
                        continue
                    self._slot[fn] = slot
                    if not (self._held.get(fn) == slot or self._claim(fn, seconds, slot)):
                        continue  # another scheduler runs this slot
                    if inline:
                        self._start(fn)
                        started.append(fn)
                        self._hold(fn, seconds, slot + 1)
                    elif self._enqueue_once(fn, seconds):
                        started.append(fn)
            except Exception:  # noqa: BLE001 - Redis down: try again next slot
                log.exception("could not start periodic job %s", fn.__qualname__)
        return started

    def _enqueue_once(self, fn: Callable, seconds: int) -> bool:
        """Queue fn on "low" unless a copy queued earlier has not started yet (it will do this slot's work too)."""
        path, runner = job_path(fn), self.app.extensions["jobs"]
        if not runner.claim(_pending(path), seconds * PENDING_SLOTS):
            log.warning("periodic job %s: the copy queued before has not started; not queued again", fn.__qualname__)
            return False
        try:
            self._enqueue(run_queued, path, queue="low")
        except Exception:
            runner.release(_pending(path))  # nothing was queued: the next slot must not wait for it
            raise
        return True

    def _hold(self, fn: Callable, seconds: int, slot: int) -> None:
        """Claim `slot` ahead for this process (once), so that it stays the one running fn."""
        if self._held.get(fn) != slot and self._claim(fn, seconds, slot):
            self._held[fn] = slot

    def _start(self, fn: Callable) -> None:
        thread = threading.Thread(target=self._run, args=(fn,), name=f"periodic:{fn.__qualname__}", daemon=True)
        with self._lock:
            self._running[fn] = thread
        thread.start()

    def _run(self, fn: Callable) -> None:
        try:
            with self.app.app_context():
                execute(job_path(fn))
        except Exception:  # noqa: BLE001 - a failed run is logged; the next slot runs it again
            log.exception("periodic job %s failed", fn.__qualname__)

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the runs this scheduler started have finished; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._running.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def start(self) -> None:
        """Start the scheduler thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="periodic", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 0.0) -> None:
        """Stop scheduling, and wait up to `timeout` seconds for the runs in progress."""
        self._stop.set()
        if timeout:
            self.wait(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(TICK):
            self.tick()
