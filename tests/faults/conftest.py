"""Fixtures of the fault tests: a second connection to the test database that holds locks and ends other
connections with pg_terminate_backend, as an operator, a failover or a crashed pgbouncer would."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from portal.extensions import db
from portal.workflows import service
from tests.factories import OrgFactory, member, on_plan
from tests.faults.usage_fixtures import key_secret, spare_limiter, spare_redis  # noqa: F401 - fixtures for this folder's tests


class Operator:
    """A connection of its own to the test database (outside the app's pool, which it kills)."""

    def __init__(self, url: str):
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.conn: Connection = self.engine.connect()
        self.pid: int = self.conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        self.locker: Connection | None = None

    def lock_rows(self, table: str, where: str) -> int:
        """Hold FOR UPDATE locks on the rows of table matching where, in an open transaction; the locker's pid."""
        self.locker = self.engine.connect().execution_options(isolation_level="READ COMMITTED")
        self.locker.begin()
        self.locker.execute(text(f'SELECT 1 FROM "{table}" WHERE {where} FOR UPDATE'))
        return self.locker.execute(text("SELECT pg_backend_pid()")).scalar_one()

    def release(self) -> None:
        """End the locking transaction: the statements it held up go on."""
        if self.locker is not None:
            self.locker.rollback()
            self.locker.close()
            self.locker = None

    def wait_blocked_by(self, pid: int, timeout: float = 20.0) -> int:
        """The backend pid of the first statement stuck behind pid's locks (a deadline, not a timed assertion)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.conn.execute(text("SELECT pid FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"), {"pid": pid}).scalars().first()
            if found is not None:
                return found
            time.sleep(0.02)
        raise AssertionError("no statement waited for the held lock")

    def terminate(self, pid: int) -> None:
        """End one backend, as `SELECT pg_terminate_backend(pid)` from a psql session would."""
        assert self.conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()

    def terminate_all(self) -> int:
        """End every other connection to this database (only this test run's database: never other runs')."""
        return len(self.conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")).all())

    def backend_count(self) -> int:
        return self.conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()

    def close(self) -> None:
        self.release()
        self.conn.close()
        self.engine.dispose()


@pytest.fixture
def operator(app) -> Iterator[Operator]:
    """A database operator on the test database's server."""
    op = Operator(db.engine.url.render_as_string(hide_password=False))
    yield op
    op.close()


@pytest.fixture
def org(app):
    return on_plan(OrgFactory(slug="fault-org", name="Fault Org"), "enterprise")


@pytest.fixture
def admin(org):
    return member(org, "org_admin", email="fault-admin@example.test", name="Fran Admin")


THREE_STEPS = {"name": "Three steps", "nodes": [
    {"id": "first", "type": "transform", "config": {"set": {"a": "{{ input.n }}"}}},
    {"id": "second", "type": "transform", "config": {"set": {"b": "{{ state.a }}-b"}}},
    {"id": "third", "type": "transform", "config": {"set": {"c": "{{ state.b }}-c"}}},
], "edges": [{"from": "START", "to": "first"}, {"from": "first", "to": "second"}, {"from": "second", "to": "third"}, {"from": "third", "to": "END"}]}


@pytest.fixture
def workflow(org, admin):
    """A committed three-node workflow of the fault org."""
    wf = service.create_workflow(org, THREE_STEPS, admin)
    db.session.commit()
    return wf
