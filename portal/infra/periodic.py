"""Periodic jobs (reconcilers, usage flushes, reminders): registered per app, run through the job runner.

Domains call `every(app, seconds, fn)` from their init_app. A scheduler thread enqueues each job when
it is due: inside the web process for the in-process runner, inside `flask worker` for RQ. With several
workers, the runner's claim on each job and period makes sure only one of them enqueues it.
The scheduler is handed the `enqueue` function, so this module imports no other port.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask

log = logging.getLogger(__name__)


def every(app: Flask, seconds: int, fn: Callable) -> None:
    """Run job function fn every `seconds` in app (registering twice keeps the last interval)."""
    app.extensions.setdefault("periodic_jobs", {})[fn] = seconds


def schedule(app: Flask) -> dict[Callable, int]:
    """The app's periodic jobs and their intervals in seconds."""
    return dict(app.extensions.get("periodic_jobs", {}))


class Scheduler:
    """Enqueues the app's periodic jobs when due; `tick()` is one pass, the thread calls it each second."""

    def __init__(self, app: Flask, enqueue: Callable[..., str]):
        self.app = app
        self._enqueue = enqueue
        self._last: dict[Callable, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _claim(self, fn: Callable, seconds: int, now: float) -> bool:
        slot = int(now // seconds)
        name = f"periodic:{fn.__module__}.{fn.__qualname__}:{slot}"
        return self.app.extensions["jobs"].claim(name, max(seconds * 2, 10))

    def tick(self, now: float | None = None) -> list[Callable]:
        """Enqueue every job whose interval has passed; returns the functions enqueued."""
        now = time.time() if now is None else now
        started = []
        for fn, seconds in schedule(self.app).items():
            if now - self._last.get(fn, 0) < seconds:
                continue
            self._last[fn] = now
            try:
                with self.app.app_context():
                    if self._claim(fn, seconds, now):
                        self._enqueue(fn, queue="low")
                        started.append(fn)
            except Exception:  # noqa: BLE001 - Redis down: try again next period
                log.exception("could not enqueue periodic job %s", fn.__qualname__)
        return started

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="periodic", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self.tick()
