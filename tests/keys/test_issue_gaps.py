"""Lines of the API keys issue that the other tests left unchecked: a bounded cache, 5xx counted as such,
the status filter for expired keys, the edges of the grace period and of a changed expiry, and the CLI's
revoke in the audit log (also for a key whose owner has left)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort
from sqlalchemy import select

from portal import create_app
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.keys import service, tasks
from portal.keys.auth import CachedKey, KeyCache
from portal.keys.models import ApiKeyUsage
from portal.models import utcnow
from portal.orgs import service as orgs_service
from tests.factories import member

from .helpers import bearer, membership


def _entry(n: int) -> CachedKey:
    return CachedKey(secret_hash=f"{n:064x}", key_pk=n, public_id=f"key_{n}", org_id=1, user_id=1, scopes=frozenset({"read"}),
                     rate_limit=60, expires_at=None, secret_expires_at=None, revoked=False, owner_problem=None, owner_gone=False, user={})


def test_the_key_cache_is_bounded_and_forgets_the_least_recently_used_first():
    cache = KeyCache(size=3)
    for n in range(3):
        cache.put(f"{n:064x}", _entry(n))
    assert cache.get(f"{0:064x}").key_pk == 0  # 0 is now the most recently used
    cache.put(f"{3:064x}", _entry(3))
    assert len(cache) == 3
    assert cache.get(f"{1:064x}") is None  # the least recently used went
    assert {cache.get(f"{n:064x}").key_pk for n in (0, 2, 3)} == {0, 2, 3}


def test_the_key_cache_takes_its_bound_from_the_apps_config(app):
    sized = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": app.config["RATELIMIT_STORAGE_URI"], "API_KEY_CACHE_SIZE": 7,
    })
    try:
        assert sized.extensions["keys"].cache.size == 7
    finally:
        with sized.app_context():
            db.engine.dispose()


def test_a_server_error_is_counted_as_5xx_in_the_usage(app, org, admin, make_key):
    """A second app on the same database with one extra API route that fails: the request is counted as 5xx."""
    boom = create_app({
        "TESTING": True, "WTF_CSRF_ENABLED": False, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": None, "RATELIMIT_STORAGE_URI": app.config["RATELIMIT_STORAGE_URI"],
    })
    boom.add_url_rule("/api/v1/test-boom", "test_boom", lambda: abort(500))
    key, secret = make_key(org, admin, scopes=["read"])
    try:
        client = boom.test_client()
        assert client.get("/api/v1/test-boom", headers=bearer(secret)).status_code == 500
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
        with boom.app_context():
            tasks.flush_usage()
    finally:
        with boom.app_context():
            db.engine.dispose()
    db.session.expire_all()
    rows = {(r.endpoint, r.outcome): r.count for r in db.session.scalars(select(ApiKeyUsage).filter_by(key_id=key.id))}
    assert rows == {("GET /api/v1/test-boom", "5xx"): 1, ("GET /api/v1/me", "2xx"): 1}
    assert service.usage(key)["totals"]["5xx"] == 1


def test_the_list_filters_expired_keys_on_the_page_and_in_the_api(client, login_as, org, admin, make_key):
    lapsed, _ = make_key(org, admin, name="lapsed", expires_at=utcnow() + timedelta(days=1))
    lapsed.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    make_key(org, admin, name="current")
    _, secret = make_key(org, admin, name="caller")
    expired = client.get("/api/v1/keys?status=expired", headers=bearer(secret)).json["data"]
    assert [(k["name"], k["status"]) for k in expired] == [("lapsed", "expired")]
    assert "lapsed" not in {k["name"] for k in client.get("/api/v1/keys?status=active", headers=bearer(secret)).json["data"]}
    bad = client.get("/api/v1/keys?status=old", headers=bearer(secret))
    assert bad.status_code == 422 and "status" in bad.json["error"]["fields"]
    login_as(admin)
    fragment = client.get(f"/o/{org.slug}/keys?status=expired", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "lapsed" in fragment and "current" not in fragment


def test_the_grace_period_takes_both_ends_of_its_range(client, org, admin, make_key):
    _, manager = make_key(org, admin)
    for grace in (0, 86_400):
        key, _ = make_key(org, admin, name=f"grace {grace}")
        response = client.post(f"/api/v1/keys/{key.public_id}/rotate", headers=bearer(manager), json={"grace_period": grace})
        assert response.status_code == 200, (grace, response.json)
        until = response.json["previous_expires_at"]
        assert abs(datetime.fromisoformat(until) - (utcnow() + timedelta(seconds=grace))) < timedelta(minutes=1)


def test_changing_a_key_to_expire_in_the_past_is_a_422_naming_expires_at(client, org, admin, make_key):
    key, secret = make_key(org, admin)
    response = client.put(f"/api/v1/keys/{key.public_id}", headers=bearer(secret),
                          json={"expires_at": (utcnow() - timedelta(hours=1)).isoformat()})
    assert response.status_code == 422 and "expires_at" in response.json["error"]["fields"]
    db.session.refresh(key)
    assert key.expires_at is None and key.status == "active"


def test_a_cli_revoke_lands_in_the_audit_log_even_when_the_owner_has_left(app, client, org, admin, make_key):
    alice = member(org, "user", email="alice@keys.test")
    stays, _ = make_key(org, admin, name="stays")
    orphan, _ = make_key(org, alice, name="orphan", scopes=["read"])
    orgs_service.remove_member(org, membership(org, alice).public_id, by=admin)
    runner = app.test_cli_runner()
    for key in (stays, orphan):
        result = runner.invoke(args=["keys", "revoke", "--org", org.slug, key.public_id])
        assert result.exit_code == 0, result.output
        db.session.refresh(key)
        assert key.status == "revoked"
        [event] = db.session.scalars(select(AuditEvent).filter_by(action="key.revoked", target=key.public_id)).all()
        assert event.org_id == org.id and event.actor_id is None and event.data["via"] == "cli" and event.data["name"] == key.name
    again = runner.invoke(args=["keys", "revoke", "--org", org.slug, stays.public_id])  # revoking twice changes nothing
    assert again.exit_code == 0
    assert db.session.scalar(select(db.func.count(AuditEvent.id)).filter_by(action="key.revoked", target=stays.public_id)) == 1
    missing = runner.invoke(args=["keys", "revoke", "--org", org.slug, "key_nosuchkey0000000000"])
    assert missing.exit_code != 0 and "No key" in missing.output
