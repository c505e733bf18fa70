"""VetrAI Portal: the application factory.

Wiring is explicit: each domain's `wiring.init_app(app)` registers its blueprint, API routes, CLI group,
jobs and periodic jobs, and `create_app` calls them in order. Nothing registers itself on import.
"""

from __future__ import annotations

import logging
import sqlite3

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import cli, errors_http, inputs, security, uow, web
from portal.accounts import wiring as accounts
from portal.admin import wiring as admin
from portal.api import wiring as api
from portal.audit import wiring as audit
from portal.billing import wiring as billing
from portal.config import INSTANCE, ROOT, load_config
from portal.core import wiring as core
from portal.extensions import csrf, db, htmx, limiter, login_manager, migrate
from portal.infra import jobs, mail, periodic, sms, storage
from portal.keys import wiring as keys
from portal.notifications import wiring as notifications
from portal.orgs import wiring as orgs
from portal.support import wiring as support
from portal.themes import wiring as themes
from portal.workflows import wiring as workflows

# In order: the domains' API modules attach to /api/v1 as they are imported, so `api` comes last.
DOMAINS = (core, accounts, orgs, audit, admin, notifications, keys, support, workflows, themes, billing, api)


def create_app(config: dict | None = None) -> Flask:
    """Build the app from the environment, with `config` overriding it (tests)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(INSTANCE),
    )
    app.config.update(load_config())
    if config:
        app.config.update(config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if app.config["PRODUCTION"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    register_extensions(app)
    for port in (jobs, mail, sms, storage):
        port.init_app(app)
    for domain in DOMAINS:
        domain.init_app(app)
    errors_http.register(app)
    web.register(app)
    cli.register(app)
    start_periodic_jobs_with_first_request(app)
    return app


def start_periodic_jobs_with_first_request(app: Flask) -> None:
    """With the in-process runner the web process runs the periodic jobs (with RQ, `flask worker` does).
    Started on the first request, so CLI commands such as `flask db upgrade` never start it."""
    if not isinstance(app.extensions["jobs"], jobs.InProcessRunner) or app.config.get("TESTING"):
        return
    scheduler = periodic.Scheduler(app, jobs.enqueue)
    app.extensions["periodic"] = scheduler

    @app.before_request
    def _start_scheduler():
        scheduler.start()


def register_extensions(app: Flask) -> None:
    """Bind the extensions in portal.extensions to this app, and the unit of work to its requests."""
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # Redis unreachable: login throttling goes on in this process's memory (Flask-Limiter logs the
    # switch) instead of answering 500; short timeouts so a dead Redis costs a login one second at most.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1})
    limiter.init_app(app)
    login_manager.init_app(app)
    security.init_app(app)
    inputs.init_app(app)
    uow.init_app(app)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite: enforce foreign keys, and let background jobs write while a request reads (WAL)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()
