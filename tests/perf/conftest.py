"""Query-count fixtures: every SQL statement the engine sends while a request runs, counted and kept for the message."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from portal.extensions import db


class Statements:
    """The SQL statements sent to the database by this thread inside `recording()`.

    Only this thread's: the test client answers in the test's thread, while the in-process job runner's
    threads (a workflow run, a notification) use the same engine at the same time.
    """

    def __init__(self):
        self.sql: list[str] = []
        self._thread: int | None = None

    def __call__(self, _conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if self._thread == threading.get_ident():
            self.sql.append(" ".join(statement.split()))

    @contextmanager
    def recording(self):
        self.sql.clear()
        self._thread = threading.get_ident()
        try:
            yield self
        finally:
            self._thread = None

    def __len__(self) -> int:
        return len(self.sql)

    def listing(self) -> str:
        return "\n".join(f"{i + 1:3}. {s[:220]}" for i, s in enumerate(self.sql))


@pytest.fixture
def statements(app):
    """Counts what the app's engine executes (the request's own session and connection included)."""
    recorder = Statements()
    event.listen(db.engine, "before_cursor_execute", recorder)
    yield recorder
    event.remove(db.engine, "before_cursor_execute", recorder)


@pytest.fixture
def count_get(client, statements, wait_for_jobs):
    """GET path as the logged-in client; returns (response, statements sent while answering it)."""

    def get(path: str, **kwargs):
        wait_for_jobs(90)  # the set-up's jobs (30 runs, notices, emails) are done: they change nothing during the count
        client.get(path, **kwargs)  # warm: the first request of a test may fill per-process caches
        with statements.recording():
            response = client.get(path, **kwargs)
        return response, list(statements.sql)

    return get
