"""Test fixtures: every test that uses `app` runs twice, on SQLite with the in-process job runner and
on PostgreSQL with a real RQ worker process on Redis. Mail goes to a real SMTP server (aiosmtpd) on
loopback, so the worker process's emails are caught too.

In CI (CI=true) PostgreSQL and Redis are required: a missing one fails the run instead of skipping.
"""

from __future__ import annotations

import contextvars
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import redis as redis_lib
from aiosmtpd.controller import Controller
from flask.globals import _cv_app
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

# Browser fixtures (one Chromium per session) serve every folder: a domain's browser test uses them
# without importing them, which would start a second Playwright in the same thread.
pytest_plugins = ["tests.browser.fixtures"]

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ARTIFACTS = ROOT / "tests" / "artifacts"


def service_missing(what: str, how: str) -> None:
    """Fail in CI, skip with a how-to on a laptop."""
    message = f"{what} is not reachable; {how}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# ---------------------------------------------------------------- SMTP: a real server on loopback


class Mailbox:
    """Collects every message the SMTP server accepts."""

    def __init__(self):
        self.messages = []
        self._defer = 0

    def defer_next(self, count: int) -> None:
        """Answer the next `count` recipients with 451 (try again later), as a busy server does."""
        self._defer = count

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "reject" in address:
            return "550 5.1.1 No such user here"
        if self._defer > 0:
            self._defer -= 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        msg.envelope_rcpt = list(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 OK"

    def clear(self) -> None:
        self.messages.clear()
        self._defer = 0

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["To"]]

    def wait_for(self, address: str, count: int = 1, timeout: float = 15.0) -> list:
        """Messages to address, once at least `count` have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} message(s) to {address}, got {len(self.to(address))}\n{_mail_diagnosis()}")

    @staticmethod
    def text_of(msg) -> str:
        return msg.get_body(preferencelist=("plain",)).get_content()

    def link_in(self, msg, path_fragment: str) -> str:
        """The first URL in the message's text part that contains path_fragment, as a path."""
        import re

        for url in re.findall(r"https?://\S+", self.text_of(msg)):
            if path_fragment in url:
                return "/" + url.split("/", 3)[3]
        raise AssertionError(f"no link with {path_fragment!r} in: {self.text_of(msg)}")


def _mail_diagnosis() -> str:
    """What the email deliveries in the database say and the worker's last log lines: why a message is missing."""
    from flask import has_app_context

    lines = []
    if has_app_context():
        from sqlalchemy import select

        from portal.extensions import db
        from portal.notifications.models import Delivery

        db.session.rollback()  # read what the app and its worker committed
        for d in db.session.scalars(select(Delivery).where(Delivery.channel == "email")):
            lines.append(f"delivery {d.id} to {d.to_address}: {d.status}, {d.attempts} attempt(s), {d.last_error or ''}")
    logs = sorted(ARTIFACTS.glob(f"worker-{os.getpid()}.log"))
    if logs:
        lines += ["worker log, last lines:", *logs[0].read_text(errors="replace").splitlines()[-25:]]
    return "\n".join(lines) or "no email deliveries recorded"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPServer:
    """aiosmtpd on a fixed loopback port that tests can stop (connections refused) and start again."""

    def __init__(self, box: Mailbox):
        self.box, self.hostname, self.port = box, "127.0.0.1", free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        # A stopped Controller can't be restarted (its loop is closed): each start makes a new one.
        self._controller = Controller(self.box, hostname=self.hostname, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture(scope="session")
def smtp_server():
    box = Mailbox()
    server = SMTPServer(box)
    server.start()
    yield server, box
    server.stop()


@pytest.fixture(scope="session")
def twilio_server():
    """A Twilio-protocol HTTP endpoint on loopback; the backends' apps and workers send SMS to it."""
    from tests.infra.twilio_server import TwilioServer

    server = TwilioServer("AC" + secrets.token_hex(16), secrets.token_hex(16)).start()
    yield server
    server.stop()


@pytest.fixture
def twilio(twilio_server):
    """The Twilio endpoint, with this test's messages only."""
    twilio_server.messages.clear()
    twilio_server.requests.clear()
    return twilio_server


# ---------------------------------------------------------------- backends


@contextmanager
def claimed_redis_db():
    """A Redis database number no other test run on this machine is using (runs may overlap)."""
    try:
        admin = redis_lib.Redis.from_url(REDIS_BASE_URL + "/0", socket_timeout=2)
        admin.ping()
    except redis_lib.RedisError:
        service_missing("Redis at " + REDIS_BASE_URL, "start it or set TEST_REDIS_URL.")
    token = secrets.token_hex(8)
    for number in range(15, 0, -1):
        if admin.set(f"vetrai:test-db-claim:{number}", token, nx=True, ex=3600):
            break
    else:
        pytest.fail("every Redis test database (1-15) is claimed by another test run")
    url = f"{REDIS_BASE_URL}/{number}"
    redis_lib.Redis.from_url(url).flushdb()
    try:
        yield url
    finally:
        redis_lib.Redis.from_url(url).flushdb()
        if admin.get(f"vetrai:test-db-claim:{number}") == token.encode():
            admin.delete(f"vetrai:test-db-claim:{number}")


@contextmanager
def scratch_app(tmp_path, backend_name: str):
    """An app on a new, empty database of its own (a SQLite file or a fresh PostgreSQL database): for tests that
    migrate step by step (data migrations), away from the session's schema."""
    from portal import create_app

    def app_on(url: str):
        return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {}, "REDIS_URL": None})

    if backend_name == "sqlite":
        yield app_on(f"sqlite:///{tmp_path / 'scratch.db'}")
        return
    with fresh_postgres_db() as url:
        app = app_on(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            yield app
        finally:
            with app.app_context():
                from portal.extensions import db

                db.session.remove()
                db.engine.dispose()  # the database is dropped next: no connection may hold it


@contextmanager
def fresh_postgres_db():
    """A new, empty PostgreSQL database for this run, dropped afterwards."""
    name = f"vetrai_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means "missing"
        service_missing(f"PostgreSQL at {PG_ADMIN_URL} ({type(exc).__name__})", "start it or set TEST_DATABASE_URL.")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def start_worker(env: dict) -> subprocess.Popen:
    """A real `flask worker` process (RQ) with the test environment."""
    log = open(ARTIFACTS / f"worker-{os.getpid()}.log", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    """Stop a worker started by `start_worker` (warm: it finishes its job), unless it is dead already."""
    if proc.poll() is None:
        proc.terminate()
    proc.wait(10)


class OwnWorker:
    """A test's own `flask worker`, on a Redis database of its own: the suite's shared worker never sees its jobs."""

    def __init__(self, proc: subprocess.Popen, redis_url: str):
        self.proc, self.redis_url = proc, redis_url

    @contextmanager
    def takes_jobs(self, app):
        """Meanwhile, the jobs the app enqueues go to this worker's Redis database (and to no other worker)."""
        from portal.infra.jobs import RQRunner

        shared = app.extensions["jobs"]
        own = RQRunner(self.redis_url, app.config["RQ_QUEUES"])
        app.extensions["jobs"] = own
        try:
            yield own
        finally:
            app.extensions["jobs"] = shared
            own.redis.close()


@contextmanager
def own_worker(env: dict):
    """Start a worker of the caller's own, as `session_app` starts the shared one but on a claimed Redis database;
    stop it (if a test has not killed it) and free the database on exit."""
    with claimed_redis_db() as redis_url:
        proc = start_worker({**env, "REDIS_URL": redis_url})
        try:
            yield OwnWorker(proc, redis_url)
        finally:
            stop_worker(proc)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request, smtp_server, twilio_server, tmp_path_factory):
    """Environment for one backend: SQLite + in-process jobs, or PostgreSQL + RQ on Redis."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    controller, _box = smtp_server
    tmp = tmp_path_factory.mktemp(request.param)
    env = {
        "SECRET_KEY": "test-" + secrets.token_hex(16),
        "SMTP_URL": f"smtp://{controller.hostname}:{controller.port}",
        "MAIL_FROM": "VetrAI Test <no-reply@vetrai.test>",
        "BASE_URL": "http://portal.test",
        "STORAGE_DIR": str(tmp / "storage"),
        "VETRAI_ENV": "test",
        # Retries in a fraction of a second instead of 30 s, so reliability tests run quickly.
        "NOTIFY_RETRY_BASE_SECONDS": "0.3",
        "TWILIO_ACCOUNT_SID": twilio_server.account_sid,
        "TWILIO_AUTH_TOKEN": twilio_server.auth_token,
        "TWILIO_FROM_NUMBER": "+15005550006",
        "TWILIO_API_BASE": twilio_server.base_url,
    }
    if request.param == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp / 'portal.db'}"
        yield {"name": "sqlite", "env": env}
        return
    with fresh_postgres_db() as db_url, claimed_redis_db() as redis_url:
        env.update(DATABASE_URL=db_url, REDIS_URL=redis_url)
        yield {"name": "postgres", "env": env}


@pytest.fixture(scope="session")
def session_app(backend):
    """One app per backend, its schema built by the Alembic migrations (the schema's only source)."""
    from flask_migrate import upgrade

    saved = {k: os.environ.get(k) for k in backend["env"]}
    os.environ.update(backend["env"])
    from portal import create_app

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    worker = start_worker(backend["env"]) if backend["name"] == "postgres" else None
    app.backend = backend["name"]
    app.worker = worker  # the shared RQ worker process (None on SQLite): a test must never stop or kill it
    app.test_client_class = IsolatedClient
    try:
        yield app
    finally:
        if worker is not None:
            stop_worker(worker)
        with app.app_context():
            from portal.extensions import db

            db.engine.dispose()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class IsolatedClient(FlaskClient):
    """A test client whose every request gets its own app context, as in production.

    The `app` fixture keeps an app context pushed for factories and queries; without this, Flask would
    reuse it for requests, sharing `g` (the logged-in user, the current org) and the database session
    between the test and every request it makes.
    """

    def open(self, *args, **kwargs):
        # What the test set up through services is its own unit of work: commit it before the request,
        # as the request that made it would have in production (and run its after-commit hooks).
        # Without expiring what the test holds: it reads its objects as they were, as it did before.
        if _cv_app.get(None) is not None:
            from portal.extensions import db

            session = db.session()
            session.expire_on_commit = False
            try:
                session.commit()
            finally:
                session.expire_on_commit = True

        def isolated():
            _cv_app.set(None)
            return super(IsolatedClient, self).open(*args, **kwargs)

        return contextvars.copy_context().run(isolated)


def _truncate_all(app) -> None:
    from portal.extensions import db

    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if db.engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{t}"' for t in tables)
            db.session.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                db.session.execute(text(f'DELETE FROM "{t}"'))
        db.session.commit()


@pytest.fixture
def app(session_app, smtp_server):
    """The app for one test, with an empty database, an empty mailbox and fresh rate limits."""
    from portal.extensions import limiter

    if smtp_server[0]._controller is None:  # a test stopped it and failed before starting it again
        smtp_server[0].start()
    _truncate_all(session_app)
    smtp_server[1].clear()
    with session_app.app_context():
        limiter.reset()
    session_app.config["WTF_CSRF_ENABLED"] = False
    ctx = session_app.app_context()
    ctx.push()
    yield session_app
    from portal.extensions import db

    db.session.remove()
    ctx.pop()
    session_app.extensions["jobs"].wait(15)


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:
    return smtp_server[1]


@pytest.fixture
def wait_for_jobs(app):
    """Block until every background job has run (in-process threads or the RQ worker)."""

    def wait(timeout: float = 15.0) -> None:
        from portal.extensions import db

        db.session.commit()  # what the test set up is committed, and its jobs enqueued, before waiting
        assert app.extensions["jobs"].wait(timeout), "background jobs did not finish in time"

    return wait


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login_as(client):
    """Log the test client in as user, the way Flask-Login's session does, without a password round trip."""

    def login(user):
        with client.session_transaction() as sess:
            sess.clear()
            sess["_user_id"] = user.get_id()
            sess["_fresh"] = True
        return client

    return login


@pytest.fixture
def csrf_enabled(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def row_counts(app):
    """A function that counts rows in every table: compare before and after to prove nothing was written."""
    from portal.extensions import db

    def counts() -> dict[str, int]:
        db.session.expire_all()
        return {t.name: db.session.execute(text(f'SELECT COUNT(*) FROM "{t.name}"')).scalar() for t in db.metadata.sorted_tables}

    return counts


@pytest.fixture
def tmp_dir():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)
