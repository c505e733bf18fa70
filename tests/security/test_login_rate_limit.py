"""Login throttling: per account (whatever the IP), per IP (whatever the account), shared through Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from limits import parse
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.config import load_config
from portal.extensions import db
from tests.factories import OrgFactory, member

from .helpers import log_in

ROOT = Path(__file__).resolve().parents[2]
WRONG = "not-the-password-123"


def allowed(app, setting: str) -> int:
    """How many attempts a limit such as "5 per minute" lets through."""
    return parse(app.config[setting]).amount


def failed_logins(target: str) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEvent).filter_by(action="login.failed", target=target))


@pytest.fixture
def user(app):
    return member(OrgFactory(), "user", email="victim@example.test")


def test_failed_logins_for_one_account_get_429_after_the_account_limit_even_from_different_ips(app, client, user):
    limit = allowed(app, "LOGIN_RATE_LIMIT_ACCOUNT")
    statuses = [log_in(client, user.email, WRONG, ip=f"10.0.0.{n}").status_code for n in range(1, limit + 1)]
    assert statuses == [401] * limit
    blocked = log_in(client, user.email, WRONG, ip="10.0.1.1")
    assert blocked.status_code == 429
    # the right password does not get through either while the account is throttled, whatever the email's case
    assert log_in(client, " Victim@Example.TEST ", ip="10.0.1.2").status_code == 429
    # another account from the same address is not affected
    other = member(OrgFactory(), "user")
    assert log_in(client, other.email, ip="10.0.1.1").status_code == 302


def test_failed_logins_land_in_the_audit_log(app, client, user):
    log_in(client, user.email, WRONG, ip="10.0.0.1")
    log_in(client, "nobody@example.test", WRONG, ip="10.0.0.2")
    assert failed_logins(user.email) == 1
    assert failed_logins("nobody@example.test") == 1
    event = db.session.scalar(select(AuditEvent).filter_by(action="login.failed", target=user.email))
    assert event.actor_id == user.id
    assert event.ip == "10.0.0.1"
    assert WRONG not in json.dumps(event.data)


def test_the_default_limits_are_5_a_minute_per_account_and_20_per_ip():
    config = load_config({"SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    assert parse(config["LOGIN_RATE_LIMIT_ACCOUNT"]) == parse("5 per minute")
    assert parse(config["LOGIN_RATE_LIMIT_IP"]) == parse("20 per minute")


def test_failed_logins_from_one_ip_get_429_after_the_ip_limit_across_accounts(app, client, monkeypatch):
    # Each failed login burns a real scrypt check: a lower IP limit keeps this quick, and the limiter reads it per request.
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_IP", "7 per minute")
    limit = allowed(app, "LOGIN_RATE_LIMIT_IP")
    assert limit > allowed(app, "LOGIN_RATE_LIMIT_ACCOUNT")
    statuses = [log_in(client, f"guess{n}@example.test", WRONG, ip="192.0.2.7").status_code for n in range(limit)]
    assert statuses == [401] * limit
    assert log_in(client, "one-more@example.test", WRONG, ip="192.0.2.7").status_code == 429
    assert log_in(client, "one-more@example.test", WRONG, ip="192.0.2.8").status_code == 401


SECOND_INSTANCE = """
import json, sys
from portal import create_app

app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True})
client = app.test_client()
out = {"storage": app.config["RATELIMIT_STORAGE_URI"], "statuses": {}}
for email in sys.argv[1:]:
    response = client.post("/login", data={"email": email, "password": "not-the-password-123"}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    out["statuses"][email] = response.status_code
print(json.dumps(out))
"""


def test_on_redis_the_account_limit_is_shared_with_another_app_instance(app, client, user):
    if app.backend != "postgres":
        assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
        pytest.skip("the SQLite backend runs without Redis: the limiter keeps counts in memory")
    assert app.config["RATELIMIT_STORAGE_URI"] == os.environ["REDIS_URL"]
    assert app.config["RATELIMIT_STORAGE_URI"].startswith("redis://")
    limit = allowed(app, "LOGIN_RATE_LIMIT_ACCOUNT")
    for n in range(limit):
        assert log_in(client, user.email, WRONG, ip=f"10.0.0.{n + 1}").status_code == 401
    # A second app built by create_app from the same environment, in its own process (so nothing in memory is shared).
    done = subprocess.run(
        [sys.executable, "-c", SECOND_INSTANCE, user.email, "fresh@example.test"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    second = json.loads(done.stdout.strip().splitlines()[-1])
    assert second["storage"] == app.config["RATELIMIT_STORAGE_URI"]
    assert second["statuses"] == {user.email: 429, "fresh@example.test": 401}
