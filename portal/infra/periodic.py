"""Periodic jobs (reconcilers, usage flushes, reminders): registered by path, run through the job runner.

`every(seconds, path)` registers a job. A scheduler thread enqueues each job when it is due: inside
the web process for the in-process runner, inside `flask worker` for RQ. With several workers, a
Redis lock per job and period makes sure only one of them enqueues it.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

log = logging.getLogger(__name__)

SCHEDULE: dict[str, int] = {}


def every(seconds: int, path: str) -> None:
    """Run the job at dotted `path` every `seconds` (registering twice keeps the last interval)."""
    SCHEDULE[path] = seconds


class Scheduler:
    """Enqueues registered periodic jobs when due; `tick()` is one pass, the thread calls it each second."""

    def __init__(self, app: Flask):
        self.app = app
        self._last: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _claim(self, path: str, seconds: int, now: float) -> bool:
        runner = self.app.extensions["jobs"]
        redis = getattr(runner, "redis", None)
        if redis is None:
            return True
        slot = int(now // seconds)
        return bool(redis.set(f"vetrai:periodic:{path}:{slot}", "1", nx=True, ex=max(seconds * 2, 10)))

    def tick(self, now: float | None = None) -> list[str]:
        """Enqueue every job whose interval has passed; returns the paths enqueued."""
        from portal.infra.jobs import enqueue

        now = time.time() if now is None else now
        started = []
        for path, seconds in list(SCHEDULE.items()):
            if now - self._last.get(path, 0) < seconds:
                continue
            self._last[path] = now
            try:
                with self.app.app_context():
                    if self._claim(path, seconds, now):
                        enqueue(path, queue="low")
                        started.append(path)
            except Exception:  # noqa: BLE001 - Redis down: try again next period
                log.exception("could not enqueue periodic job %s", path)
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
