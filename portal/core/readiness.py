"""Readiness probes: does each outside service the portal needs answer right now?"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

from portal.extensions import db
from portal.infra import jobs
from portal.infra.storage import storage


def _check(name: str, probe: Callable[[], object]) -> dict:
    try:
        return {"name": name, "ok": bool(probe())}
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure instead of raising it
        return {"name": name, "ok": False, "error": type(exc).__name__}


def checks() -> list[dict]:
    """One result per dependency (database, job queue, storage): its name, ok, and the error's type when not."""
    return [
        _check("database", lambda: db.session.execute(text("SELECT 1")).scalar() == 1),
        _check(f"jobs:{jobs.runner().name}", jobs.runner().ping),
        _check(f"storage:{storage().name}", storage().ping),
    ]
