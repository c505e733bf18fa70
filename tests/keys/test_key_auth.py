"""Authenticating with a key: both headers, the error codes, the cache (no database on the hot path),
rotation's grace window, rate limits and their headers, owners' roles and suspensions, CSRF."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from portal.admin import service as admin_service
from portal.extensions import db
from portal.keys import service, tokens
from portal.keys.auth import Refusal
from portal.keys.models import ApiKeySecret
from portal.models import utcnow
from portal.orgs import service as orgs_service
from portal.uow import unit_of_work
from tests.factories import MembershipFactory, OrgFactory, UserFactory, member

from .helpers import bearer, counted_queries, membership


def error_code(response) -> str:
    return response.json["error"]["code"]


def test_bearer_and_x_api_key_both_authenticate_as_the_owner(client, org, admin, make_key):
    _, secret = make_key(org, admin, scopes=["read"])
    for headers in (bearer(secret), {"Authorization": f"bearer {secret}"}, {"X-API-Key": secret}):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 200, headers
        assert response.json["email"] == "admin@keys.test"
    assert "Set-Cookie" not in response.headers  # a key never opens a session


def test_unknown_and_malformed_keys_are_401_invalid_key(client, org, admin, make_key):
    _, secret = make_key(org, admin)
    for raw in (tokens.generate(), secret[:-1], "vtr_short", "hello", ""):
        response = client.get("/api/v1/me", headers=bearer(raw))
        assert response.status_code == 401, raw
        assert error_code(response) == "invalid_key"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_checksum_is_refused_without_a_database_query(client, org, admin, make_key):
    _, secret = make_key(org, admin)
    typo = secret[:20] + ("a" if secret[20] != "a" else "b") + secret[21:]
    assert not tokens.well_formed(typo)
    with counted_queries() as statements:
        response = client.get("/api/v1/me", headers=bearer(typo))
    assert response.status_code == 401 and error_code(response) == "invalid_key"
    assert statements == []


def test_a_cached_key_is_verified_without_a_database_query(client, org, admin, make_key, clean_key_runtime, monkeypatch):
    # Without Redis (SQLite backend) cached keys are re-read every second so that another process's revoke
    # shows within one; a slow machine could cross that second during the loop, so this test lengthens it.
    monkeypatch.setattr(clean_key_runtime, "ttl", 3600.0)
    _, secret = make_key(org, admin, scopes=["read"])
    assert client.get("/api/v1/openapi.json", headers=bearer(secret)).status_code == 200  # loads the key once
    with counted_queries() as statements:
        for _ in range(5):
            assert client.get("/api/v1/openapi.json", headers=bearer(secret)).status_code == 200
    assert statements == []
    # /me runs the view's own queries; authenticating the key still reads none of the key tables
    with counted_queries() as statements:
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    assert statements and not [s for s in statements if "api_key" in s.lower()]


def test_a_revoked_key_is_401_revoked_key_at_once(client, org, admin, make_key):
    key, secret = make_key(org, admin)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200  # cached now
    service.revoke_key(org, membership(org, admin), key.public_id)
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 401 and error_code(response) == "revoked_key"


def test_an_expired_key_is_401_expired_key(client, org, admin, make_key):
    key, secret = make_key(org, admin, expires_at=utcnow() + timedelta(days=1))
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    key.expires_at = utcnow() - timedelta(seconds=1)  # as if the day had passed
    db.session.commit()
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 401 and error_code(response) == "expired_key"
    assert client.get(f"/api/v1/keys/{key.public_id}", headers=bearer(make_key(org, admin)[1])).json["status"] == "expired"


def test_rotation_keeps_the_old_key_working_for_the_grace_period_only(client, org, admin, make_key):
    key, old = make_key(org, admin, name="rotating", scopes=["read", "admin"])
    rotated = client.post(f"/api/v1/keys/{key.public_id}/rotate", headers=bearer(old), json={"grace_period": 3600})
    assert rotated.status_code == 200, rotated.json
    new = rotated.json["key"]
    assert new != old and tokens.well_formed(new) and rotated.json["id"] == key.public_id
    assert rotated.json["scopes"] == ["read", "admin"] and rotated.json["name"] == "rotating"
    assert rotated.json["masked"] == f"{new[:10]}…{new[-4:]}"
    # both work during the grace window, as the same key (one rate limit, one usage record)
    for secret in (old, new):
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    # the grace ends (its end moved to the past, as time would)
    previous = db.session.scalar(select(ApiKeySecret).where(ApiKeySecret.secret_hash == tokens.digest(old)))
    assert abs((previous.expires_at - utcnow()) - timedelta(hours=1)) < timedelta(minutes=1)
    previous.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.get("/api/v1/me", headers=bearer(old))
    assert response.status_code == 401 and error_code(response) == "expired_key"
    assert client.get("/api/v1/me", headers=bearer(new)).status_code == 200


def test_rotation_with_a_real_short_grace_period(client, org, admin, make_key):
    key, old = make_key(org, admin)
    new = client.post(f"/api/v1/keys/{key.public_id}/rotate", headers=bearer(old), json={"grace_period": 1}).json["key"]
    assert client.get("/api/v1/me", headers=bearer(old)).status_code == 200
    deadline = time.monotonic() + 10
    while client.get("/api/v1/me", headers=bearer(old)).status_code == 200:
        assert time.monotonic() < deadline, "the old key still works 10 s after a 1 s grace period"
        time.sleep(0.1)
    assert error_code(client.get("/api/v1/me", headers=bearer(old))) == "expired_key"
    assert client.get("/api/v1/me", headers=bearer(new)).status_code == 200


def test_rotation_without_grace_stops_the_old_key_at_once(client, org, admin, make_key):
    key, old = make_key(org, admin)
    new = client.post(f"/api/v1/keys/{key.public_id}/rotate", headers=bearer(old), json={"grace_period": 0}).json["key"]
    assert error_code(client.get("/api/v1/me", headers=bearer(old))) == "expired_key"
    assert client.get("/api/v1/me", headers=bearer(new)).status_code == 200
    revoked, revoked_secret = make_key(org, admin)
    service.revoke_key(org, membership(org, admin), revoked.public_id)
    refused = client.post(f"/api/v1/keys/{revoked.public_id}/rotate", headers=bearer(new), json={"grace_period": 0})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "key_revoked"


def test_rate_limit_answers_429_with_retry_after_and_ratelimit_headers_on_every_response(client, org, admin, make_key):
    _, secret = make_key(org, admin, rate_limit=3)
    remaining = []
    for _ in range(3):
        response = client.get("/api/v1/me", headers=bearer(secret))
        assert response.status_code == 200
        assert response.headers["RateLimit-Limit"] == "3"
        assert int(response.headers["RateLimit-Reset"]) >= 1
        remaining.append(int(response.headers["RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    limited = client.get("/api/v1/me", headers=bearer(secret))
    assert limited.status_code == 429 and error_code(limited) == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 20  # one request comes back every 20 s at 3 a minute
    assert limited.headers["RateLimit-Remaining"] == "0" and limited.headers["RateLimit-Limit"] == "3"
    # the headers come with errors too (here a 404), and other keys have their own limit
    _, other = make_key(org, admin, rate_limit=3)
    missing = client.get("/api/v1/keys/key_nope", headers=bearer(other))
    assert missing.status_code == 404 and missing.headers["RateLimit-Remaining"] == "2"


def test_the_limit_is_per_key_not_per_secret_during_a_rotation(client, org, admin, make_key):
    key, old = make_key(org, admin, rate_limit=2)
    _, manager = make_key(org, admin)
    new = client.post(f"/api/v1/keys/{key.public_id}/rotate", headers=bearer(manager), json={"grace_period": 600}).json["key"]
    assert client.get("/api/v1/me", headers=bearer(old)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(new)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(old)).status_code == 429


def test_a_key_never_grants_more_than_its_owners_role(client, org, admin, make_key):
    other_admin = member(org, "org_admin")
    key, secret = make_key(org, admin, scopes=["read", "write", "admin"])
    invite = {"email": "new@keys.test", "role": "user"}
    assert client.post(f"/api/v1/orgs/{org.slug}/invitations", headers=bearer(secret), json=invite).status_code == 201
    orgs_service.change_role(org, membership(org, admin).public_id, "user", by=other_admin)
    refused = client.post(f"/api/v1/orgs/{org.slug}/invitations", headers=bearer(secret), json={**invite, "email": "n2@keys.test"})
    assert refused.status_code == 403 and error_code(refused) == "forbidden"  # the role, not the scope
    # the owner now sees only their own keys
    assert [k["id"] for k in client.get("/api/v1/keys", headers=bearer(secret)).json["data"]] == [key.public_id]


def test_platform_roles_never_come_with_a_key(client, org, make_key):
    staff = UserFactory(platform_role="super_admin")
    member_staff = member(org, "org_admin", email="staff-member@keys.test")
    member_staff.platform_role = "super_admin"
    db.session.commit()
    _, secret = make_key(org, member_staff, scopes=["read"])
    assert client.get("/api/v1/me", headers=bearer(secret)).json["platform_role"] is None
    assert staff.platform_role == "super_admin"


def test_suspended_owner_or_org_suspends_the_key_and_restoring_brings_it_back(client, org, admin, make_key):
    root = UserFactory(platform_role="super_admin")
    _, secret = make_key(org, admin, scopes=["read"])
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    admin_service.set_user_suspended(admin.public_id, True, by=root)
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 403 and error_code(response) == "key_suspended"
    admin_service.set_user_suspended(admin.public_id, False, by=root)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    admin_service.set_org_suspended(org.public_id, True, by=root)
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 403 and error_code(response) == "key_suspended"
    admin_service.set_org_suspended(org.public_id, False, by=root)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200


def test_a_removed_members_keys_stop_working(client, org, admin, make_key):
    alice = member(org, "user", email="alice@keys.test")
    _, secret = make_key(org, alice, scopes=["read"])
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    orgs_service.remove_member(org, membership(org, alice).public_id, by=admin)
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 401 and error_code(response) == "revoked_key"


def test_the_key_is_bound_to_its_org_even_when_its_owner_belongs_to_another(client, org, admin, make_key):
    second = OrgFactory(slug="second-org")
    MembershipFactory(org=second, user=admin, role="org_admin")
    _, secret = make_key(org, admin)
    assert client.get(f"/api/v1/orgs/{org.slug}/members", headers=bearer(secret)).status_code == 200
    other = client.get(f"/api/v1/orgs/{second.slug}/members", headers=bearer(secret))
    assert other.status_code == 404 and error_code(other) == "not_found"
    assert client.get(f"/api/v1/keys?org={second.slug}", headers=bearer(secret)).status_code == 404


def test_key_writes_need_no_csrf_token_but_session_writes_still_do(client, login_as, org, admin, make_key, csrf_enabled):
    _, secret = make_key(org, admin)
    by_key = client.post("/api/v1/keys", headers=bearer(secret), json={"name": "no csrf needed", "scopes": ["read"]})
    assert by_key.status_code == 201, by_key.json
    login_as(admin)
    client.get(f"/o/{org.slug}/keys")  # the session holds a CSRF token the request below does not send
    by_session = client.post(f"/api/v1/keys?org={org.slug}", json={"name": "session", "scopes": ["read"]})
    assert by_session.status_code == 400 and error_code(by_session) == "csrf_failed"
    # a key does not authenticate pages: a page write with a key header still needs the token
    page = client.post(f"/o/{org.slug}/keys", headers=bearer(secret), data={"name": "page", "scopes": "read"})
    assert page.status_code == 400
    # an invalid key is refused even with a valid session: the key decides
    assert client.get("/api/v1/me", headers=bearer(tokens.generate())).status_code == 401


def test_a_key_wins_over_a_session_cookie(client, login_as, org, admin, make_key):
    alice = member(org, "user", email="alice@keys.test")
    _, alice_secret = make_key(org, alice, scopes=["read"])
    login_as(admin)
    assert client.get("/api/v1/me").json["email"] == "admin@keys.test"
    assert client.get("/api/v1/me", headers=bearer(alice_secret)).json["email"] == "alice@keys.test"


def test_with_redis_unreachable_keys_work_unlimited_and_a_revoke_still_shows_within_a_second(app, org, admin, make_key):
    """A second app whose Redis does not answer: the limiter fails open (no RateLimit headers) and cached
    keys are re-read every second, so a revoke made elsewhere still stops the key within one."""
    from portal import create_app
    from tests.conftest import free_port

    # The login limiter (Flask-Limiter) keeps its storage on the shared extension object: keep it on the
    # test app's storage, or every later test's logins would be limited in this app's dead Redis.
    down = create_app({
        "TESTING": True, "WTF_CSRF_ENABLED": False, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "RATELIMIT_STORAGE_URI": app.config["RATELIMIT_STORAGE_URI"],
    })
    client = down.test_client()
    key, secret = make_key(org, admin, rate_limit=1)
    try:
        for _ in range(3):  # a limit of 1 a minute, not enforced while Redis is away
            response = client.get("/api/v1/me", headers=bearer(secret))
            assert response.status_code == 200 and "RateLimit-Limit" not in response.headers
        with unit_of_work():  # committed here: the other app sees it through the database only
            service.revoke_key(org, membership(org, admin), key.public_id)
        revoked_at = time.monotonic()
        while client.get("/api/v1/me", headers=bearer(secret)).status_code == 200:
            assert time.monotonic() - revoked_at < 1.0, "the revoked key still works after a second"
            time.sleep(0.02)
        assert error_code(client.get("/api/v1/me", headers=bearer(secret))) == "revoked_key"
    finally:
        down.extensions["keys"].limiter.close()  # its counts can never reach the dead Redis: not left to an at-exit push
        with down.app_context():
            db.engine.dispose()


def test_a_refused_key_is_a_refusal_value_the_request_hook_renders_as_the_api_error(app, client, org, admin, make_key):
    _, secret = make_key(org, admin, scopes=["read"])
    with app.test_request_context("/api/v1/keys", method="POST"):  # matches the route, as a request does
        refusal = app.extensions["keys"].authenticate(secret)
    assert refusal == Refusal(403, "insufficient_scope", "This API key lacks the 'admin' scope this endpoint needs.", {}, {"scope": "admin"})
    response = client.post("/api/v1/keys", headers=bearer(secret), json={"name": "x", "scopes": ["read"]})
    assert response.status_code == 403
    assert response.json == {"error": {"code": "insufficient_scope", "message": refusal.message, "fields": {"scope": "admin"}}}
    with app.test_request_context("/api/v1/me"):
        malformed = app.extensions["keys"].authenticate("vtr_short")
    assert (malformed.status, malformed.code) == (401, "invalid_key")
    assert malformed.headers == {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="invalid_key"'}
