"""LangGraph's checkpointer on the app's own database: SqliteSaver or PostgresSaver, keyed by run id.

The savers create their tables with setup(), outside Alembic: they belong to LangGraph, not to the app's
metadata. They live apart from the app's tables so that Alembic (autogenerate, the schema drift test)
never sees them: in the `langgraph` schema on PostgreSQL, in a `<database>-checkpoints` file beside the
SQLite database.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any

from flask import Flask

_lock = threading.Lock()
SCHEMA = "langgraph"  # PostgreSQL schema of the checkpoint tables

# The thread id (run public id) of a run that starts for the first time in this context: it has no
# checkpoint yet, so the read LangGraph makes before the first step can be answered without a query.
fresh_thread: ContextVar[str | None] = ContextVar("workflow_fresh_thread", default=None)

# (saver, connection, lock) of the run going on in this context: PostgreSQL checkpoints go through one connection
# per run, checked out of the saver's pool (and checked) once, instead of once per checkpoint (see held_connection).
_held: ContextVar[tuple[Any, Any, Any] | None] = ContextVar("workflow_saver_connection", default=None)


def held_connection(app: Flask):
    """A context in which the app's PostgreSQL saver writes a run's checkpoints through one connection of its pool
    (a no-op on SQLite): a checkpoint after each step then costs one round trip, not two (the pool's check)."""
    existing = saver(app)
    holding = getattr(existing, "holding", None)
    return holding() if holding is not None else nullcontext()


class RunSaver:
    """A saver mixin that spares the database two kinds of writes a run does not need (measured with the bench):

    - get_tuple() of a fresh run's thread is None, without a query: it has no checkpoint yet;
    - put_writes() of a step's plain channel writes is skipped: LangGraph saves the next checkpoint, which holds
      them, right after the step (durability "sync": before the next step starts), and a run's steps run one at a
      time (no fan-out), so they would only matter to a crash in between, and then the step runs again, as after
      a crash during it. Writes to LangGraph's own channels ("__error__", "__interrupt__", "__resume__", ...)
      are saved as ever: retry, approval and resume read them.
    """

    def get_tuple(self, config):
        """The latest checkpoint of a thread (None, unread, for the thread of a run starting for the first time)."""
        conf = config.get("configurable") or {}
        if conf.get("thread_id") is not None and conf.get("thread_id") == fresh_thread.get() and not conf.get("checkpoint_id"):
            return None
        return super().get_tuple(config)

    def put_writes(self, config, writes, task_id, task_path=""):
        """Save a step's writes to LangGraph's own channels; plain channel writes go with the next checkpoint."""
        if writes and all(not str(channel).startswith("__") for channel, _value in writes):
            return None
        return super().put_writes(config, writes, task_id, task_path)


def saver(app: Flask):
    """This app's checkpointer (one per process and app; thread-safe)."""
    existing = app.extensions.get("workflow_saver")
    if existing is not None:
        return existing
    with _lock:
        existing = app.extensions.get("workflow_saver")
        if existing is not None:
            return existing
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        if url.startswith("sqlite"):
            from langgraph.checkpoint.sqlite import SqliteSaver

            path = url.split("///", 1)[1] if "///" in url else ":memory:"
            if path not in ("", ":memory:"):
                path = f"{path}-checkpoints"
            conn = sqlite3.connect(path, check_same_thread=False, timeout=15)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=15000")
            result = type("Saver", (RunSaver, SqliteSaver), {})(conn)
        else:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool

            class Saver(RunSaver, PostgresSaver):
                # CREATE INDEX CONCURRENTLY waits for every open transaction in the database, this
                # process's own idle ones included, and so can wait forever; the tables are new and
                # small when the indexes are made, so a plain CREATE INDEX is just as good.
                MIGRATIONS = [m.replace("INDEX CONCURRENTLY", "INDEX") for m in PostgresSaver.MIGRATIONS]

                @contextmanager
                def holding(self) -> Iterator[None]:
                    """Check one connection out of the pool (tested as ever) for the checkpoints written in this context."""
                    with self.conn.connection() as conn:
                        token = _held.set((self, conn, threading.Lock()))
                        try:
                            yield
                        finally:
                            _held.reset(token)

                @contextmanager
                def _cursor(self, *, pipeline: bool = False) -> Iterator[Any]:
                    held = _held.get()
                    if held is None or held[0] is not self:
                        with super()._cursor(pipeline=pipeline) as cur:
                            yield cur
                        return
                    _saver, conn, lock = held
                    # As PostgresSaver._cursor does with a pool's connection, on the run's own one (and its own lock:
                    # LangGraph may save from a background thread of the run).
                    with lock:
                        if pipeline and self.supports_pipeline:
                            with conn.pipeline(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                                yield cur
                        elif pipeline:
                            with conn.transaction(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                                yield cur
                        else:
                            with conn.cursor(binary=True, row_factory=dict_row) as cur:
                                yield cur

            dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
            # A checkpoint lost to a database crash means resuming from the one before it, so its commits
            # need not wait for the WAL flush.
            options = f"-c synchronous_commit=off -c search_path={SCHEMA}"
            kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row, "options": options}
            # check: each connection is tested as it is handed out, so one killed while idle in the pool (a
            # database restart, a failover, pg_terminate_backend) is replaced instead of failing a run's step.
            pool = ConnectionPool(dsn, min_size=1, max_size=4, kwargs=kwargs, open=True, check=ConnectionPool.check_connection)
            result = Saver(pool)
            with pool.connection() as conn:  # one process at a time runs the saver's migrations
                conn.execute("SELECT pg_advisory_lock(7243001)")
                try:
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
                    result.setup()
                finally:
                    conn.execute("SELECT pg_advisory_unlock(7243001)")
            app.extensions["workflow_saver"] = result
            return result
        result.setup()
        app.extensions["workflow_saver"] = result
        return result
