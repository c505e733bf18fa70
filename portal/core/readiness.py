"""Readiness probes: does each outside service the portal needs answer right now?"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

from portal.extensions import db
from portal.infra import jobs
from portal.infra.storage import storage


def _check(name: str, probe: Callable[[], object], required: bool = False) -> dict:
    # `required`: the web process cannot serve a page without it (only the database); the others
    # degrade the portal (jobs wait in the outbox, uploads fail) but pages are still served.
    try:
        ok, error = bool(probe()), None
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure instead of raising it
        ok, error = False, type(exc).__name__
    result = {"name": name, "ok": ok, "required": required, "state": "ok" if ok else "down"}
    if error:
        result["error"] = error
    return result


def status(results: list[dict]) -> str:
    """'ok' when all answer, 'unavailable' when a required one does not, else 'degraded'."""
    if all(c["ok"] for c in results):
        return "ok"
    return "unavailable" if any(c["required"] and not c["ok"] for c in results) else "degraded"


def checks() -> list[dict]:
    """One result per dependency (database, job queue, storage): name, ok, required, state, and the error's type."""
    return [
        _check("database", lambda: db.session.execute(text("SELECT 1")).scalar() == 1, required=True),
        _check(f"jobs:{jobs.runner().name}", jobs.runner().ping),
        _check(f"storage:{storage().name}", storage().ping),
    ]
