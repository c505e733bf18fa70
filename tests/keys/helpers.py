"""Helpers the API key tests share."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, select

from portal.extensions import db
from portal.orgs.models import Membership


def membership(org, user) -> Membership:
    return db.session.scalar(select(Membership).filter_by(org_id=org.id, user_id=user.id))


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@contextmanager
def counted_queries():
    """Collects the SQL statements sent to the database while the block runs."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
