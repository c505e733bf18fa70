"""Readiness probes: does each outside service the portal needs answer right now?"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

from portal.extensions import db
from portal.infra import jobs
from portal.infra.storage import storage

# What the admin console calls each adapter, in words (the probe's name stays the machine's: "jobs:rq", "storage:s3").
_ADAPTER_WORDS = {"rq": "RQ on Redis", "in-process": "in this process", "local": "local disk", "s3": "S3"}


def _in_words(adapter: str) -> str:
    return _ADAPTER_WORDS.get(adapter, adapter)


def _check(name: str, probe: Callable[[], object], required: bool = False, label: str = "") -> dict:
    # `required`: the web process cannot serve a page without it (only the database); the others
    # degrade the portal (jobs wait in the outbox, uploads fail) but pages are still served.
    try:
        ok, error = bool(probe()), None
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure instead of raising it
        ok, error = False, type(exc).__name__
    result = {"name": name, "label": label or name, "ok": ok, "required": required, "state": "ok" if ok else "down"}
    if error:
        result["error"] = error
    return result


def status(results: list[dict]) -> str:
    """'ok' when all answer, 'unavailable' when a required one does not, else 'degraded'."""
    if all(c["ok"] for c in results):
        return "ok"
    return "unavailable" if any(c["required"] and not c["ok"] for c in results) else "degraded"


def checks() -> list[dict]:
    """One result per dependency (database, job queue, storage): name, label (in words), ok, required, state, and the error's type."""
    return [
        _check("database", lambda: db.session.execute(text("SELECT 1")).scalar() == 1, required=True, label="Database"),
        _check(f"jobs:{jobs.runner().name}", jobs.runner().ping, label=f"Job queue ({_in_words(jobs.runner().name)})"),
        _check(f"storage:{storage().name}", storage().ping, label=f"File storage ({_in_words(storage().name)})"),
    ]
