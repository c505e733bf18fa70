"""LangGraph's checkpointer on the app's own database: SqliteSaver or PostgresSaver, keyed by run id.

The savers create their tables with setup(), outside Alembic: they belong to LangGraph, not to the app's
metadata. They live apart from the app's tables so that Alembic (autogenerate, the schema drift test)
never sees them: in the `langgraph` schema on PostgreSQL, in a `<database>-checkpoints` file beside the
SQLite database.
"""

from __future__ import annotations

import sqlite3
import threading

from flask import Flask

_lock = threading.Lock()
SCHEMA = "langgraph"  # PostgreSQL schema of the checkpoint tables


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
            result = SqliteSaver(conn)
        else:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool

            class Saver(PostgresSaver):
                # CREATE INDEX CONCURRENTLY waits for every open transaction in the database, this
                # process's own idle ones included, and so can wait forever; the tables are new and
                # small when the indexes are made, so a plain CREATE INDEX is just as good.
                MIGRATIONS = [m.replace("INDEX CONCURRENTLY", "INDEX") for m in PostgresSaver.MIGRATIONS]

            dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
            # A checkpoint lost to a database crash means resuming from the one before it, so its commits
            # need not wait for the WAL flush.
            options = f"-c synchronous_commit=off -c search_path={SCHEMA}"
            kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row, "options": options}
            pool = ConnectionPool(dsn, min_size=1, max_size=4, kwargs=kwargs, open=True)
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
