"""An org admin creates a key owned by another member of the org, from the page (an owner select) and over
the API (an optional `owner`: user id, membership id or email). The key acts as its owner, its secret is
shown once to the admin who created it, and the audit log says who created it for whom. Anyone else's
user, or a plain member naming another owner, is refused with the `owner` field named."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.errors import ServiceError, ValidationFailed
from portal.extensions import db
from portal.keys import service, tokens
from portal.keys.models import ApiKey
from portal.orgs.models import Membership, Organization
from tests.factories import OrgFactory, member
from tests.security.helpers import tags

from .helpers import bearer, membership

HTMX = {"HX-Request": "true"}
KEY_IN_PAGE = re.compile(r"vtr_[0-9A-Za-z]{36}")


@pytest.fixture
def alice(org):
    return member(org, "user", email="alice@keys.test", name="Alice Member")


@pytest.fixture
def outsider():
    """An org admin of another organization, who is no member of this one."""
    other = OrgFactory(slug="elsewhere", name="Elsewhere")
    return member(other, "org_admin", email="outsider@elsewhere.test", name="Outsider")


def key_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(ApiKey.id)))


def owner_options(html: str) -> list[dict]:
    [select_tag] = [t for t in tags(html, "select") if t.get("name") == "owner"]
    assert select_tag["id"] == "owner"
    return [t for t in tags(html, "option") if (t.get("value") or "").startswith("usr_")]


# ---------------------------------------------------------------- the page


def test_the_admins_new_key_form_lists_the_orgs_members_with_themselves_selected(client, login_as, org, admin, alice, outsider):
    suspended = member(org, "user", email="gone@keys.test", is_suspended=True)
    login_as(admin)
    for headers in (HTMX, {}):
        html = client.get(f"/o/{org.slug}/keys/new", headers=headers).get_data(as_text=True)
        options = owner_options(html)
        assert [o["value"] for o in options] == [admin.public_id, alice.public_id]  # the admin first, then by name
        assert [o["value"] for o in options if "selected" in o] == [admin.public_id]
        assert "alice@keys.test" in html and outsider.email not in html and suspended.email not in html


def test_an_admin_creates_a_key_for_a_member_on_the_page_and_only_the_admin_sees_it_once(client, login_as, org, admin, alice):
    login_as(admin)
    response = client.post(f"/o/{org.slug}/keys", headers=HTMX,
                           data={"name": "alice's laptop", "scopes": ["read", "write"], "owner": alice.public_id})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    [secret] = set(KEY_IN_PAGE.findall(html))
    assert 'id="new-key-owner"' in html and "Alice Member (alice@keys.test)" in html  # hand it over
    key = db.session.scalar(select(ApiKey).filter_by(name="alice's laptop"))
    assert (key.user_id, key.created_by_id, key.scopes) == (alice.id, admin.id, ["read", "write"])
    # the key acts as its owner
    assert client.get("/api/v1/me", headers=bearer(secret)).json["email"] == "alice@keys.test"
    # the owner sees the key, who created it, and never its secret
    login_as(alice)
    listing = client.get(f"/o/{org.slug}/keys").get_data(as_text=True)
    page = client.get(f"/o/{org.slug}/keys/{key.public_id}").get_data(as_text=True)
    assert "alice&#39;s laptop" in listing and secret not in listing
    assert secret not in page and f"by {admin.display_name}" in page
    # the audit log says who created it for whom, on the org's audit page too
    [event] = db.session.scalars(select(AuditEvent).filter_by(action="key.created", target=key.public_id)).all()
    assert event.actor_id == admin.id and event.data["owner"] == alice.public_id and event.data["owner_email"] == "alice@keys.test"
    assert secret not in repr(event.data)
    login_as(admin)
    audit_page = client.get(f"/o/{org.slug}/audit").get_data(as_text=True)
    assert f"{admin.display_name} created the API key \u201calice&#39;s laptop\u201d (read, write) for Alice Member" in audit_page


def test_an_admins_own_key_is_the_default_and_needs_no_handing_over(client, login_as, org, admin, alice):
    login_as(admin)
    response = client.post(f"/o/{org.slug}/keys", headers=HTMX, data={"name": "mine", "scopes": ["read"]})
    assert response.status_code == 200 and 'id="new-key-owner"' not in response.get_data(as_text=True)
    key = db.session.scalar(select(ApiKey).filter_by(name="mine"))
    assert key.user_id == key.created_by_id == admin.id


def test_the_form_refuses_an_owner_outside_the_org_next_to_the_field(client, login_as, org, admin, outsider):
    suspended = member(org, "user", email="gone@keys.test", is_suspended=True)
    login_as(admin)
    for owner in (outsider.public_id, outsider.email, suspended.public_id, "nobody@keys.test"):
        response = client.post(f"/o/{org.slug}/keys", headers=HTMX, data={"name": "x", "scopes": ["read"], "owner": owner})
        assert response.status_code == 422, owner
        html = response.get_data(as_text=True)
        assert 'id="owner-error"' in html and outsider.email not in html, owner
        assert owner_options(html)  # the select is back, with the org's members
    assert key_count() == 0


def test_a_plain_member_gets_no_owner_select_and_the_form_refuses_another_owner(client, login_as, org, admin, alice):
    login_as(alice)
    html = client.get(f"/o/{org.slug}/keys/new", headers=HTMX).get_data(as_text=True)
    assert not [t for t in tags(html, "select") if t.get("name") == "owner"]
    refused = client.post(f"/o/{org.slug}/keys", headers=HTMX, data={"name": "for the boss", "scopes": ["read"], "owner": admin.public_id})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "Only org admins can create keys for other members" in text and not KEY_IN_PAGE.search(text)
    assert key_count() == 0
    # naming themselves is no problem
    mine = client.post(f"/o/{org.slug}/keys", headers=HTMX, data={"name": "mine", "scopes": ["read"], "owner": "ALICE@keys.test"})
    assert mine.status_code == 200
    assert db.session.scalar(select(ApiKey).filter_by(name="mine")).user_id == alice.id


# ---------------------------------------------------------------- the API


def test_an_admin_creates_a_key_for_a_member_over_the_api_by_user_id_membership_id_or_email(client, org, admin, alice, make_key):
    _, admin_secret = make_key(org, admin)
    for i, owner in enumerate((alice.public_id, membership(org, alice).public_id, " Alice@Keys.test ")):
        response = client.post("/api/v1/keys", headers=bearer(admin_secret), json={"name": f"for alice {i}", "scopes": ["read"], "owner": owner})
        assert response.status_code == 201, (owner, response.json)
        body = response.json
        assert body["owner"] == {"id": alice.public_id, "email": "alice@keys.test", "name": "Alice Member"}
        assert body["created_by"]["id"] == admin.public_id and response.headers["Cache-Control"] == "no-store"
        assert client.get("/api/v1/me", headers=bearer(body["key"])).json["email"] == "alice@keys.test"
        event = db.session.scalar(select(AuditEvent).filter_by(action="key.created", target=body["id"]))
        assert event.actor_id == admin.id and event.data["owner"] == alice.public_id
    # the owner sees the keys (masked) and never their secrets; null owner means the caller
    session_keys = service.list_keys(org, membership(org, alice)).items
    assert {k.name for k in session_keys} == {"for alice 0", "for alice 1", "for alice 2"}
    own = client.post("/api/v1/keys", headers=bearer(admin_secret), json={"name": "own", "owner": None}).json
    assert own["owner"]["id"] == own["created_by"]["id"] == admin.public_id


def test_the_owner_sees_a_key_made_for_them_masked_only(client, org, admin, alice, make_key, login_as, row_counts):
    _, admin_secret = make_key(org, admin)
    # a key never carries more than its owner's role: the admin scope for a plain member is refused (issue 11)
    before = row_counts()
    refused = client.post("/api/v1/keys", headers=bearer(admin_secret),
                          json={"name": "too strong", "scopes": ["read", "write", "admin"], "owner": alice.public_id})
    assert refused.status_code == 422 and "scopes" in refused.json["error"]["fields"]
    assert row_counts() == before
    created = client.post("/api/v1/keys", headers=bearer(admin_secret),
                          json={"name": "handed over", "scopes": ["read", "write"], "owner": alice.public_id}).json
    # the owner sees it in their session: still masked, never the secret
    login_as(alice)
    listing = client.get("/api/v1/keys")
    single = client.get(f"/api/v1/keys/{created['id']}")
    assert listing.status_code == 200 and [k["id"] for k in listing.json["data"]] == [created["id"]]
    assert created["key"] not in listing.get_data(as_text=True) and created["key"] not in single.get_data(as_text=True)
    assert single.json["created_by"]["email"] == "admin@keys.test" and single.json["owner"]["email"] == "alice@keys.test"


def test_an_owner_outside_the_org_is_a_422_naming_the_owner_field(client, org, admin, outsider, make_key):
    _, admin_secret = make_key(org, admin)
    suspended = member(org, "user", email="gone@keys.test", is_suspended=True)
    other_org_membership = db.session.scalar(select(Membership).filter_by(user_id=outsider.id))
    before = key_count()
    for owner in (outsider.public_id, outsider.email, other_org_membership.public_id, "nobody@keys.test", "usr_doesnotexist0000000",
                  "someone", suspended.public_id, 5, ["admin@keys.test"]):
        response = client.post("/api/v1/keys", headers=bearer(admin_secret), json={"name": "x", "scopes": ["read"], "owner": owner})
        assert response.status_code == 422, (owner, response.json)
        error = response.json["error"]
        assert list(error["fields"]) == ["owner"] and error["code"] == "validation_failed", (owner, error)
        assert outsider.email not in error["fields"]["owner"]
    assert key_count() == before
    # the same answer for another org's user as for nobody: their existence does not leak
    answers = {client.post("/api/v1/keys", headers=bearer(admin_secret), json={"name": "x", "owner": o}).json["error"]["fields"]["owner"]
               for o in (outsider.email, "nobody@keys.test", outsider.public_id)}
    assert len(answers) == 1


def test_the_other_orgs_admin_cannot_give_this_orgs_member_a_key_of_theirs(client, org, alice, outsider, make_key):
    other = db.session.scalar(select(Organization).filter_by(slug="elsewhere"))
    _, outsider_secret = make_key(other, outsider)
    response = client.post("/api/v1/keys", headers=bearer(outsider_secret), json={"name": "plant", "owner": alice.public_id})
    assert response.status_code == 422 and "owner" in response.json["error"]["fields"]
    assert db.session.scalar(select(ApiKey).filter_by(user_id=alice.id)) is None


def test_a_plain_member_naming_another_owner_over_the_api_is_403(client, login_as, org, admin, alice, make_key):
    service.save_policy(org, None, ["read", "write", "admin"], by=admin)  # so that alice's key may call /keys at all
    _, alice_secret = make_key(org, alice, scopes=["admin"])
    before = key_count()
    for owner in (admin.public_id, admin.email, "nobody@keys.test"):
        refused = client.post("/api/v1/keys", headers=bearer(alice_secret), json={"name": "x", "scopes": ["read"], "owner": owner})
        assert refused.status_code == 403, (owner, refused.json)
        assert refused.json["error"]["code"] == "forbidden" and "owner" in refused.json["error"]["fields"]
    assert key_count() == before
    own = client.post("/api/v1/keys", headers=bearer(alice_secret), json={"name": "own", "scopes": ["admin"], "owner": alice.public_id})
    assert own.status_code == 201 and own.json["owner"]["id"] == alice.public_id
    login_as(alice)  # a session is refused the same way
    by_session = client.post(f"/api/v1/keys?org={org.slug}", json={"name": "x", "owner": admin.email})
    assert by_session.status_code == 403 and "owner" in by_session.json["error"]["fields"]


def test_the_service_checks_the_owner_for_every_caller(org, admin, alice, outsider):
    by_admin, by_alice = membership(org, admin), membership(org, alice)
    assert service.resolve_owner(org, by_admin, None) is by_admin
    assert service.resolve_owner(org, by_admin, "  ") is by_admin
    assert service.resolve_owner(org, by_admin, alice.email).user_id == alice.id
    assert service.resolve_owner(org, by_alice, alice.public_id) is by_alice
    with pytest.raises(ServiceError) as forbidden:
        service.resolve_owner(org, by_alice, admin.public_id)
    assert forbidden.value.status == 403 and "owner" in forbidden.value.fields
    with pytest.raises(ValidationFailed) as unknown:
        service.resolve_owner(org, by_admin, outsider.public_id)
    assert "owner" in unknown.value.fields
    key, secret = service.create_key(org, by_admin, name="svc", scopes=["read"], owner=alice.email)
    assert key.owner.id == alice.id and key.created_by.id == admin.id and tokens.well_formed(secret)
