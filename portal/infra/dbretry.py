"""Run a unit of work again when its database connection dropped (restart, failover, pg_terminate_backend).

A lost connection is not the job's fault: the server rolled the transaction back, so the whole unit can
run again from the start on a fresh connection. Anything else (an integrity or data error, a bug) is the
unit's own answer and is raised at once: running it again would only give the same answer.

Only the *whole* unit is retried, never a statement: a statement alone could land in a transaction that
no longer holds what came before it. Jobs that commit in steps stay safe because each of them claims its
rows with a conditional update (see infra/jobs.py): the run after a drop finds what the first one had
already committed, and does not do it twice.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from flask import has_app_context
from sqlalchemy import exc as sa_exc

from portal.extensions import db

log = logging.getLogger(__name__)

T = TypeVar("T")

try:  # the PostgreSQL driver; an install on SQLite alone may lack it
    from psycopg import OperationalError as _PsycopgOperationalError
except ImportError:  # pragma: no cover - psycopg is in requirements.txt
    _PsycopgOperationalError = None

# SQLSTATEs of a server that went away or is not up yet: admin shutdown (pg_terminate_backend),
# crash shutdown, "the database system is starting up". Class 08 is "connection exception".
_LOST_STATES = {"57P01", "57P02", "57P03"}
# Errors that say something about the data or the statement: a retry gives the same answer.
_NEVER = (sa_exc.IntegrityError, sa_exc.DataError, sa_exc.ProgrammingError, sa_exc.NotSupportedError)


def _driver_lost(err: BaseException | None) -> bool:
    """A psycopg error that means the connection is gone (or could not be made), not a refusal."""
    if _PsycopgOperationalError is None or not isinstance(err, _PsycopgOperationalError):
        return False
    state = getattr(err, "sqlstate", None)
    # No SQLSTATE: raised by the client itself (connection refused, server closed the connection).
    return state is None or state.startswith("08") or state in _LOST_STATES


def is_disconnect(err: BaseException) -> bool:
    """True when err, or the error it was raised while handling, is a lost database connection."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _NEVER):
            return False
        if isinstance(current, sa_exc.DBAPIError):
            # SQLAlchemy's verdict first (it has invalidated the connection); then the driver's error, for
            # a connect that failed while the server restarts (no connection yet to invalidate).
            return bool(current.connection_invalidated) or _driver_lost(current.orig)
        if _driver_lost(current):  # psycopg used directly (LangGraph's checkpointer)
            return True
        # A unit that caught the drop and then failed on the dead session (PendingRollbackError and the
        # like) failed because of the drop: look at what it was raised from.
        current = current.__cause__ or current.__context__
    return False


def _discard_session() -> None:
    """Roll back and close the current app context's session, so the next attempt gets a fresh connection.

    SQLAlchemy has already invalidated the dropped connection (the pool will not hand it out again) and
    marked the pool's older connections stale; pool_pre_ping catches the ones that died silently."""
    if not has_app_context():
        return
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is dead: there is nothing to roll back on the server
        log.debug("rollback after a lost connection failed", exc_info=True)
    db.session.remove()


def run(unit: Callable[[], T], *, attempts: int = 3, backoff: float = 0.1, name: str = "unit of work") -> T:
    """Call unit(); if it fails because the database connection dropped, roll back, drop the connection and
    call it again, at most `attempts` times in all, waiting backoff, 2*backoff, ... seconds (with jitter).

    unit must be a whole unit of work (it opens and commits its own transaction): what a failed attempt
    wrote was rolled back by the server, so running it again does it once.
    """
    dropped_at = 0.0  # when the first attempt lost its connection
    for attempt in range(1, max(attempts, 1) + 1):
        try:
            result = unit()
        except Exception as err:
            if attempt >= attempts or not is_disconnect(err):
                raise
            dropped_at = dropped_at or time.monotonic()
            _discard_session()
            delay = backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)  # jitter: workers do not reconnect in step
            log.warning("%s lost its database connection (%s: %s); attempt %d of %d in %.0f ms", name,
                        type(err).__name__, str(err).splitlines()[0] if str(err) else "", attempt + 1, attempts, delay * 1000)
            time.sleep(delay)
        else:
            if attempt > 1:
                log.warning("%s recovered on attempt %d, %.0f ms after its connection dropped", name, attempt, (time.monotonic() - dropped_at) * 1000)
            return result
    raise AssertionError("unreachable")  # the loop returns or raises
