"""One unit of work per request or job: services flush, the boundary commits once or rolls back.

- A request commits when it answers below 400 and nothing was refused; any error, or a refusal a view
  caught and showed (`refused()`), rolls it back, so a refused request changes nothing.
- A job or CLI command runs inside `unit_of_work()`.
- `after_commit(fn)` runs fn once the transaction has committed (enqueue a job, drop a cache) and
  never for a rolled-back one. It runs outside the transaction: it must not touch the database session.
  A hook that fails is logged, not raised: the change it follows is already committed, and the rows it
  would have dispatched are found again by the domain's reconciler (the database holds the truth).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, Response, g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from portal.errors import NotFound, ServiceError
from portal.extensions import db

log = logging.getLogger(__name__)

_HOOKS = "portal.after_commit"
_WROTE = "portal.wrote"  # session.info: the transaction flushed changes or sent a statement that is not a SELECT


def after_commit(fn: Callable[[], object]) -> None:
    """Run fn after the current transaction commits; forget it if the transaction rolls back."""
    db.session.info.setdefault(_HOOKS, []).append(fn)


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit what the block did, or roll all of it back if it raises (jobs, CLI commands, tests)."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def refused(exc: ServiceError) -> ServiceError:
    """A view caught exc to show it: undo what the request wrote before it (unless exc keeps its changes).

    NotFound is raised again: an object that isn't there (or is another organization's) is a 404, never
    a message on the page the person came from.
    """
    if isinstance(exc, NotFound):
        raise exc
    if exc.persist:
        db.session.commit()
    else:
        db.session.rollback()
        if has_request_context():
            g.uow_refused = True
    return exc


def _run_hooks(session: Session) -> None:
    hooks = session.info.pop(_HOOKS, None) or []
    for fn in hooks:
        try:
            fn()
        except Exception:  # noqa: BLE001 - committed already; the reconcilers pick up what this missed
            log.exception("after-commit hook %r failed", fn)


def _drop_hooks(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without a commit (rolled back or closed): its hooks never run.
    if transaction.parent is None:
        session.info.pop(_HOOKS, None)
        session.info.pop(_WROTE, None)


def _only_read(session: Session) -> bool:
    """The transaction wrote nothing, holds nothing unflushed and has no after-commit work: there is nothing to commit."""
    return not (session.info.get(_WROTE) or session.info.get(_HOOKS) or session.new or session.deleted or session.dirty)


def _note_flush(session: Session, _flush_context) -> None:
    session.info[_WROTE] = True  # a flush with nothing to write sends no event


def _note_statement(state: ORMExecuteState) -> None:
    # Every Session.execute(): Core and ORM DML, text() alike. Lazy loads and get() are selects.
    if not state.is_select:
        state.session.info[_WROTE] = True


def init_app(app: Flask) -> None:
    """Hook the unit of work into the session's commits and into every request."""
    # The listeners sit on the session class the extension makes: once for every app of the process.
    if not event.contains(db.session, "after_commit", _run_hooks):
        event.listen(db.session, "after_commit", _run_hooks)
        event.listen(db.session, "after_transaction_end", _drop_hooks)
        event.listen(db.session, "after_flush", _note_flush)
        event.listen(db.session, "do_orm_execute", _note_statement)

    @app.after_request
    def commit_or_roll_back(response: Response) -> Response:
        # A request that never used the database (health checks, static files) has nothing to end:
        # creating a session just to commit it cost /health half its CPU.
        if not db.session.registry.has():
            return response
        session = db.session()
        if not session.in_transaction() and not session.info.get(_HOOKS):
            return response
        if _only_read(session):
            # The session's close at teardown ends the transaction (the pool rolls it back): committing nothing
            # cost a read-only page 0.4 ms of CPU (bench/uow_cost.py).
            return response
        if response.status_code < 400 and not g.get("uow_refused"):
            db.session.commit()
        else:
            db.session.rollback()
        return response
