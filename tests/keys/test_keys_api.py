"""The /api/v1/keys endpoints: create (the key once), list (masked), get, change, revoke, usage, rotate;
bad input named by field; org policy; another org's key is a 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.keys import service, tasks, tokens
from portal.keys.models import ApiKey, ApiKeySecret
from portal.models import utcnow
from tests.factories import MembershipFactory, OrgFactory, member

from .helpers import bearer, membership


def test_create_answers_201_with_id_and_the_full_key_once(client, org, admin, make_key):
    _, secret = make_key(org, admin)
    response = client.post("/api/v1/keys", headers=bearer(secret), json={"name": "CI deploys", "scopes": ["read", "write"], "rate_limit": 120})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["id"].startswith("key_") and tokens.well_formed(body["key"])
    assert body["masked"] == f"{body['key'][:10]}…{body['key'][-4:]}"
    assert body["scopes"] == ["read", "write"] and body["rate_limit"] == 120 and body["status"] == "active"
    assert body["owner"]["email"] == "admin@keys.test"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Location"].endswith(f"/api/v1/keys/{body['id']}")
    # stored as SHA-256 only
    stored = db.session.scalar(select(ApiKeySecret).join(ApiKey).where(ApiKey.public_id == body["id"]))
    assert stored.secret_hash == tokens.digest(body["key"])
    # never shown again: not in the list, not in the key's own page of the API
    listing = client.get("/api/v1/keys", headers=bearer(secret))
    single = client.get(f"/api/v1/keys/{body['id']}", headers=bearer(secret))
    assert body["key"] not in listing.get_data(as_text=True) and body["key"] not in single.get_data(as_text=True)
    assert body["masked"] in [k["masked"] for k in listing.json["data"]] and single.json["masked"] == body["masked"]


def test_the_new_key_works_at_once(client, org, admin, make_key):
    _, secret = make_key(org, admin)
    new = client.post("/api/v1/keys", headers=bearer(secret), json={"name": "n", "scopes": ["read"]}).json["key"]
    me = client.get("/api/v1/me", headers={"X-API-Key": new})
    assert me.status_code == 200 and me.json["email"] == "admin@keys.test"


def test_list_shows_last_use_and_30_day_usage_totals_in_the_same_answer(client, org, admin, make_key):
    key, secret = make_key(org, admin, name="busy")
    idle, _ = make_key(org, admin, name="idle")
    for _ in range(3):
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    client.get("/api/v1/orgs/no-such-org/members", headers=bearer(secret))  # a 404
    tasks.flush_usage()
    data = {k["name"]: k for k in client.get("/api/v1/keys", headers=bearer(secret)).json["data"]}
    assert data["busy"]["usage_30d"]["2xx"] == 3 and data["busy"]["usage_30d"]["4xx"] == 1
    assert data["busy"]["usage_30d"]["total"] == 4  # the listing itself is counted at the next flush
    assert data["busy"]["last_used_at"] is not None and data["busy"]["last_used_ip"] == "127.0.0.1"
    assert data["idle"]["last_used_at"] is None and data["idle"]["usage_30d"]["total"] == 0
    assert all("key" not in k for k in data.values())


def test_get_put_and_delete_one_key(client, org, admin, make_key):
    _, secret = make_key(org, admin)
    target, _ = make_key(org, admin, name="old name", scopes=["read"])
    url = f"/api/v1/keys/{target.public_id}"
    assert client.get(url, headers=bearer(secret)).json["name"] == "old name"
    expiry = (utcnow() + timedelta(days=10)).replace(microsecond=0)
    changed = client.put(url, headers=bearer(secret), json={"name": "new name", "scopes": ["read", "write"], "expires_at": expiry.isoformat(), "rate_limit": 30})
    assert changed.status_code == 200, changed.json
    assert changed.json["name"] == "new name" and changed.json["scopes"] == ["read", "write"] and changed.json["rate_limit"] == 30
    assert changed.json["expires_at"].startswith(expiry.strftime("%Y-%m-%dT%H:%M:%S"))
    # only what is sent changes; an explicit null removes the expiry
    cleared = client.put(url, headers=bearer(secret), json={"expires_at": None})
    assert cleared.json["expires_at"] is None and cleared.json["name"] == "new name"
    revoked = client.delete(url, headers=bearer(secret))
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked" and revoked.json["revoked_at"]
    assert client.put(url, headers=bearer(secret), json={"name": "x"}).status_code == 409


def test_create_rotate_and_revoke_land_in_the_audit_log(client, org, admin, make_key):
    _, secret = make_key(org, admin)
    created = client.post("/api/v1/keys", headers=bearer(secret), json={"name": "audited", "scopes": ["read"]}).json
    client.post(f"/api/v1/keys/{created['id']}/rotate", headers=bearer(secret), json={"grace_period": 60})
    client.delete(f"/api/v1/keys/{created['id']}", headers=bearer(secret))
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.target == created["id"]).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["key.created", "key.rotated", "key.revoked"]
    assert all(e.org_id == org.id and e.actor_id == admin.id and e.ip == "127.0.0.1" for e in events)
    assert events[1].data["grace_period"] == 60
    assert created["key"] not in repr([e.data for e in events])


def test_bad_input_is_a_4xx_json_error_naming_the_field(client, org, admin, make_key):
    _, secret = make_key(org, admin)
    cases = [
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "   ", "scopes": ["read"]}, "name"),
        ({"name": "x", "scopes": ["read", "superuser"]}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "expires_at": (utcnow() - timedelta(hours=1)).isoformat()}, "expires_at"),
        ({"name": "x", "expires_at": "yesterday-ish"}, "expires_at"),
        ({"name": "x", "rate_limit": 0}, "rate_limit"),
        ({"name": "x", "rate_limit": "fast"}, "rate_limit"),
        ({"scopes": ["read"]}, "name"),
        ({"name": "x", "owner": "someone"}, "owner"),
    ]
    before = db.session.scalar(select(db.func.count(ApiKey.id)))
    for body, field in cases:
        response = client.post("/api/v1/keys", headers=bearer(secret), json=body)
        assert 400 <= response.status_code < 500, (body, response.status_code)
        error = response.json["error"]
        assert field in error["fields"], (body, error)
        assert error["code"] and error["message"]
    assert db.session.scalar(select(db.func.count(ApiKey.id))) == before
    key_url = f"/api/v1/keys/{service.list_keys(org, membership(org, admin)).items[0].public_id}"
    assert "name" in client.put(key_url, headers=bearer(secret), json={"name": ""}).json["error"]["fields"]
    assert "scopes" in client.put(key_url, headers=bearer(secret), json={"scopes": ["root"]}).json["error"]["fields"]
    assert "rate_limit" in client.put(key_url, headers=bearer(secret), json={"rate_limit": None}).json["error"]["fields"]
    for grace in (-1, 86_401, "soon"):
        response = client.post(f"{key_url}/rotate", headers=bearer(secret), json={"grace_period": grace})
        assert response.status_code == 422 and "grace_period" in response.json["error"]["fields"], grace
    bad_json = client.post("/api/v1/keys", headers={**bearer(secret), "Content-Type": "application/json"}, data="{nope")
    assert bad_json.status_code == 400 and bad_json.json["error"]["code"] == "bad_json"


def test_another_orgs_key_gets_404_for_this_orgs_keys(client, org, admin, make_key):
    ours, _ = make_key(org, admin, name="ours")
    other = OrgFactory(slug="other-org")
    _, foreign = make_key(other, member(other, "org_admin"), name="theirs")
    for method, path in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/usage"), ("POST", "/rotate")):
        response = client.open(f"/api/v1/keys/{ours.public_id}{path}", method=method, headers=bearer(foreign), json={} if method != "GET" else None)
        assert response.status_code == 404, (method, path, response.json)
        assert response.json["error"]["code"] == "not_found"
    # naming this org explicitly does not help: a key is bound to its own org
    listing = client.get(f"/api/v1/keys?org={org.slug}", headers=bearer(foreign))
    assert listing.status_code == 404
    theirs = client.get("/api/v1/keys", headers=bearer(foreign)).json["data"]
    assert [k["name"] for k in theirs] == ["theirs"]
    db.session.refresh(ours)
    assert ours.status == "active" and ours.name == "ours"


def test_members_see_only_their_own_keys_and_admins_see_all(client, org, admin, make_key):
    alice = member(org, "user", email="alice@keys.test")
    bob = member(org, "user", email="bob@keys.test")
    alice_key, alice_secret = make_key(org, alice, name="alice's", scopes=["read", "write"])
    # a plain member's key needs the admin scope to manage keys, which the default policy does not give
    assert client.get("/api/v1/keys", headers=bearer(alice_secret)).json["error"]["code"] == "insufficient_scope"
    policy_admin = membership(org, admin)
    service.save_policy(org, None, ["read", "write", "admin"], by=policy_admin.user)
    _, alice_admin = make_key(org, alice, name="alice admin", scopes=["admin"])
    bob_key, bob_secret = make_key(org, bob, name="bob's", scopes=["admin"])
    assert {k["name"] for k in client.get("/api/v1/keys", headers=bearer(alice_admin)).json["data"]} == {"alice's", "alice admin"}
    assert client.get(f"/api/v1/keys/{bob_key.public_id}", headers=bearer(alice_admin)).status_code == 404
    assert client.delete(f"/api/v1/keys/{bob_key.public_id}", headers=bearer(alice_admin)).status_code == 404
    _, admin_secret = make_key(org, admin)
    names = {k["name"] for k in client.get("/api/v1/keys", headers=bearer(admin_secret)).json["data"]}
    assert {"alice's", "alice admin", "bob's"} <= names
    assert client.delete(f"/api/v1/keys/{alice_key.public_id}", headers=bearer(admin_secret)).json["status"] == "revoked"


def test_policy_limits_plain_members_scopes_and_caps_lifetime(client, org, admin, make_key):
    alice = member(org, "user", email="alice@keys.test")
    service.save_policy(org, 30, ["read"], by=admin)
    for scopes in (["write"], ["read", "admin"]):
        with pytest.raises(ValidationFailed) as refused:
            make_key(org, alice, scopes=scopes)
        assert "scopes" in refused.value.fields
    key, _ = make_key(org, alice, scopes=["read"])  # no expiry given: the cap applies
    assert key.expires_at is not None and timedelta(days=29) < key.expires_at - utcnow() <= timedelta(days=30)
    _, admin_secret = make_key(org, admin)
    too_long = client.post("/api/v1/keys", headers=bearer(admin_secret), json={"name": "x", "expires_at": (utcnow() + timedelta(days=45)).isoformat()})
    assert too_long.status_code == 422 and "30 days" in too_long.json["error"]["fields"]["expires_at"]
    forever = client.put(f"/api/v1/keys/{key.public_id}", headers=bearer(admin_secret), json={"expires_at": None})
    assert forever.status_code == 422 and "expires_at" in forever.json["error"]["fields"]
    # org admins are not limited to the members' scopes
    assert client.post("/api/v1/keys", headers=bearer(admin_secret), json={"name": "ops", "scopes": ["admin"]}).status_code == 201


def test_a_key_cannot_mint_a_stronger_key(client, org, admin, make_key):
    _, secret = make_key(org, admin, scopes=["admin"])
    response = client.post("/api/v1/keys", headers=bearer(secret), json={"name": "escalate", "scopes": ["read", "write", "admin"]})
    assert response.status_code == 422 and "scopes" in response.json["error"]["fields"]
    assert client.post("/api/v1/keys", headers=bearer(secret), json={"name": "same", "scopes": ["admin"]}).status_code == 201


def test_session_callers_name_the_org_and_use_the_same_endpoints(client, login_as, org, admin):
    login_as(admin)
    created = client.post(f"/api/v1/keys?org={org.slug}", json={"name": "from the browser", "scopes": ["read"]})
    assert created.status_code == 201, created.json
    assert client.get("/api/v1/keys").json["total"] == 1  # the caller's only org
    second = OrgFactory(slug="second")
    MembershipFactory(org=second, user=admin, role="org_admin")
    ambiguous = client.get("/api/v1/keys")
    assert ambiguous.status_code == 400 and ambiguous.json["error"]["code"] == "org_required"
    assert client.get("/api/v1/keys?org=second").json["total"] == 0


def test_usage_endpoint_counts_per_day_by_outcome_and_endpoint(client, org, admin, make_key):
    key, secret = make_key(org, admin, rate_limit=3)
    for _ in range(4):  # 3 pass, the 4th is rate limited
        client.get("/api/v1/me", headers=bearer(secret))
    client.get("/api/v1/keys/key_doesnotexist00000000", headers=bearer(secret))
    tasks.flush_usage()
    _, reader = make_key(org, admin, rate_limit=600)
    usage = client.get(f"/api/v1/keys/{key.public_id}/usage", headers=bearer(reader)).json
    assert usage["key_id"] == key.public_id and len(usage["days"]) == 30
    today = usage["days"][-1]
    assert today["date"] == utcnow().date().isoformat()
    assert today["total"] == 5 and today["outcomes"] == {"2xx": 3, "4xx": 0, "402": 0, "429": 2, "5xx": 0}
    assert today["endpoints"]["GET /api/v1/me"] == {"2xx": 3, "4xx": 0, "402": 0, "429": 1, "5xx": 0}
    assert today["endpoints"]["GET /api/v1/keys/<key_id>"]["429"] == 1
    assert usage["totals"]["total"] == 5 and all(d["total"] == 0 for d in usage["days"][:-1])


def test_cli_creates_a_key_and_prints_it_as_the_last_line(app, client, org, admin):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["keys", "create", "--org", org.slug, "--email", "ADMIN@keys.test", "--scopes", "read,write,admin", "--name", "provisioned"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert tokens.well_formed(secret)
    assert client.get("/api/v1/me", headers=bearer(secret)).json["email"] == "admin@keys.test"
    key = db.session.scalar(select(ApiKey).filter_by(name="provisioned"))
    assert key.scopes == ["read", "write", "admin"] and key.org_id == org.id
    stranger = runner.invoke(args=["keys", "create", "--org", org.slug, "--email", "nobody@keys.test", "--name", "x"])
    assert stranger.exit_code != 0 and "not a member" in stranger.output
    bad_scope = runner.invoke(args=["keys", "create", "--org", org.slug, "--email", "admin@keys.test", "--scopes", "read,root", "--name", "x"])
    assert bad_scope.exit_code != 0 and "scopes" in bad_scope.output
    revoked = runner.invoke(args=["keys", "revoke", "--org", org.slug, key.public_id])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/me", headers=bearer(secret)).json["error"]["code"] == "revoked_key"


def test_openapi_documents_the_keys_endpoints_and_both_key_headers(client):
    spec = client.get("/api/v1/openapi.json").json
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer" and schemes["apiKey"]["name"] == "X-API-Key"
    assert {"post", "get"} <= set(spec["paths"]["/api/v1/keys"])
    assert {"get", "put", "delete"} <= set(spec["paths"]["/api/v1/keys/{key_id}"])
    assert "post" in spec["paths"]["/api/v1/keys/{key_id}/rotate"] and "get" in spec["paths"]["/api/v1/keys/{key_id}/usage"]
