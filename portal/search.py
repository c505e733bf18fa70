"""The search box of every list (members, organizations, users, the audit log's actor): one matching rule."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, func, or_

MAX_QUERY = 100  # longer search text is cut: no one types more, and LIKE patterns stay cheap


def _pattern(text: str) -> str:
    # Typed % and _ are letters to look for, not LIKE wildcards.
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains(text: str, *columns: ColumnElement) -> ColumnElement:
    """A condition: one of columns contains text, ignoring case (on SQLite and PostgreSQL alike)."""
    like = _pattern(text.strip().lower()[:MAX_QUERY])
    return or_(*(func.lower(column).like(like, escape="\\") for column in columns))


def search(query: Select, text: str | None, *columns: ColumnElement) -> Select:
    """query narrowed to rows where one of columns contains text; unchanged when text is blank."""
    if not text or not text.strip():
        return query
    return query.where(contains(text, *columns))
