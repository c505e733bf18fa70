"""Job functions for the job-runner tests, registered on the test's app (`register_all`) and on the
worker process's (`flask --app 'tests.infra.jobs_fixtures:worker_app()' worker`): each leaves an effect
another process can see (a line in a file)."""

from __future__ import annotations

import json
import os
import threading
import time

from flask import current_app
from sqlalchemy import text

from portal import create_app
from portal.extensions import db
from portal.infra import jobs

GATE = threading.Event()  # in-process tests hold a job at `wait_for_gate` until they set it


def record(path: str, label: str) -> str:
    """Append a JSON line saying what ran, when, in which process and thread, and in which app."""
    line = {
        "label": label,
        "ran_at": time.time(),
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "app": current_app.config["BASE_URL"],  # raises outside an app context
        "db": db.session.execute(text("SELECT 1")).scalar(),
    }
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")
    return label


def fail(message: str) -> None:
    raise RuntimeError(message)


def wait_for_gate(path: str, label: str) -> str:
    if not GATE.wait(30):
        raise RuntimeError("the test never opened the gate")
    return record(path, label)


def record_then_enqueue(path: str, label: str, follow_up: str) -> str:
    """A job that enqueues another one, as a service called from a job would."""
    record(path, label)
    jobs.enqueue(record, path, follow_up)
    return label


def read_records(path) -> list[dict]:
    """The lines `record` wrote, oldest first (none when nothing ran)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def register_all(app):
    """Make this module's jobs runnable in app, as a domain's init_app does for its own."""
    jobs.register(app, record, fail, wait_for_gate, record_then_enqueue)
    return app


def worker_app():
    """The app a test's `flask worker` process runs: the portal plus these jobs."""
    return register_all(create_app())
