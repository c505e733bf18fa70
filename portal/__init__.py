"""VetrAI Portal: the application factory."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from portal.config import INSTANCE, ROOT, load_config


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
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    register_extensions(app)
    register_infra(app)
    register_blueprints(app)
    from portal import cli, errors_http, web

    errors_http.register(app)
    web.register(app)
    cli.register(app)
    start_periodic_jobs_with_first_request(app)
    return app


def start_periodic_jobs_with_first_request(app: Flask) -> None:
    """With the in-process runner the web process runs the periodic jobs (with RQ, `flask worker` does).
    Started on the first request, so CLI commands such as `flask db upgrade` never start it."""
    from portal.infra.jobs import InProcessRunner
    from portal.infra.periodic import Scheduler

    if not isinstance(app.extensions["jobs"], InProcessRunner) or app.config.get("TESTING"):
        return
    scheduler = Scheduler(app)
    app.extensions["periodic"] = scheduler

    @app.before_request
    def _start_scheduler():
        scheduler.start()


def register_extensions(app: Flask) -> None:
    """Bind the extensions in portal.extensions to this app."""
    from portal import security
    from portal.extensions import csrf, db, htmx, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter.init_app(app)
    login_manager.init_app(app)
    security.init_app(app)


def register_infra(app: Flask) -> None:
    """Pick an adapter for each outside service."""
    from portal.infra import jobs, mail, sms, storage

    for port in (jobs, mail, sms, storage):
        port.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Import each domain's views and API (which attach routes to the blueprints), then register them."""
    import importlib
    import importlib.util

    domains = ("core", "accounts", "orgs", "audit", "admin", "notifications", "keys", "support", "workflows", "api")
    for name in domains:
        module = importlib.import_module(f"portal.{name}")
        importlib.import_module(f"portal.{name}.views")
        if name != "api" and importlib.util.find_spec(f"portal.{name}.api"):
            importlib.import_module(f"portal.{name}.api")  # attaches to the /api/v1 blueprint
        app.register_blueprint(module.bp)
    from portal.api import docs, docs_bp  # noqa: F401  (docs attaches the viewers to docs_bp)

    app.register_blueprint(docs_bp)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite: enforce foreign keys, and let background jobs write while a request reads (WAL)."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()
