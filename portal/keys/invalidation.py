"""Which committed changes make cached API keys stale, and the announcement that drops them everywhere.

Keys authenticate from a per-process cache (portal.keys.auth) holding the key, its secret, its owner's
user row, the owner's membership, the org's suspension and its billing account's plan (whose ceiling caps
the key's rate limit). Each of those models declares, next to its columns, the ones the cache depends on:
`KEY_AUTH_FIELDS`. A flush that inserts or deletes such a row,
or changes one of those columns, arranges (`uow.after_commit`) for the commit to drop this process's
cache and bump the epoch that tells every other process (within 0.2 s, see portal.infra.ratelimit); a
rolled-back change announces nothing.
"""

from __future__ import annotations

from itertools import chain

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.uow import after_commit

_NOTED = "keys.invalidation.noted"  # session.info: the transaction whose commit already announces


def depends_on(obj: object, new_or_deleted: bool) -> bool:
    """True when writing obj (inserting or deleting it, or changing a declared column) can make a cached key stale."""
    fields = getattr(type(obj), "KEY_AUTH_FIELDS", None)
    if fields is None:
        return False
    if new_or_deleted:
        return True
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in fields)


def announce() -> None:
    """After a commit that mattered: forget this process's cached keys and tell the other processes."""
    if has_app_context() and "keys" in current_app.extensions:
        current_app.extensions["keys"].changed()


def _note_key_changes(session: Session, _flush_context) -> None:
    transaction = session.get_transaction()
    if transaction is None or session.info.get(_NOTED) is transaction:
        return
    if any(depends_on(o, True) for o in chain(session.new, session.deleted)) or any(depends_on(o, False) for o in session.dirty):
        session.info[_NOTED] = transaction  # once per transaction, however many flushes it makes
        after_commit(announce)


def init_app(app: Flask) -> None:
    """Watch the flushes of the app's sessions (installed once per process: the session class is shared)."""
    if not event.contains(db.session, "after_flush", _note_key_changes):
        event.listen(db.session, "after_flush", _note_key_changes)
