"""The keys pages: list (page or HTMX fragment), the create dialog that shows a key once, the key page
with its usage chart and last use, rotate and revoke with confirmation, the org's key policy."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.extensions import db
from portal.keys import service, tasks, tokens
from portal.keys.models import ApiKey
from tests.factories import member
from tests.security.helpers import tags

from .helpers import bearer

HTMX = {"HX-Request": "true"}
KEY_IN_PAGE = re.compile(r"vtr_[0-9A-Za-z]{36}")


def test_list_is_a_page_for_browsers_and_a_fragment_for_htmx(client, login_as, org, admin, make_key):
    key, _ = make_key(org, admin, name="billing sync")
    login_as(admin)
    page = client.get(f"/o/{org.slug}/keys").get_data(as_text=True)
    assert "<html" in page and "billing sync" in page and key.masked in page
    assert f'href="/o/{org.slug}/keys"' in page  # the nav link
    fragment = client.get(f"/o/{org.slug}/keys?status=active", headers=HTMX).get_data(as_text=True)
    assert "<html" not in fragment and fragment.lstrip().startswith('<div id="keys-table"') and "billing sync" in fragment
    assert "billing sync" not in client.get(f"/o/{org.slug}/keys?status=revoked", headers=HTMX).get_data(as_text=True)


def test_the_create_dialog_shows_the_key_once_with_a_copy_button(client, login_as, org, admin):
    login_as(admin)
    dialog = client.get(f"/o/{org.slug}/keys/new", headers=HTMX).get_data(as_text=True)
    assert dialog.lstrip().startswith('<dialog open id="key-dialog"')
    response = client.post(f"/o/{org.slug}/keys", headers=HTMX, data={"name": "nightly export", "scopes": ["read", "write"], "rate_limit": "60"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    [secret] = set(KEY_IN_PAGE.findall(html))
    assert tokens.well_formed(secret)
    [field] = [t for t in tags(html, "input") if t.get("id") == "new-key-value"]
    assert field["value"] == secret and "readonly" in field
    assert any(t.get("data-copy-target") == "new-key-value" for t in tags(html, "button"))
    assert 'id="keys-table" class="table-wrap" hx-swap-oob="true"' in html  # the list behind updates too
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    key = db.session.scalar(select(ApiKey).filter_by(name="nightly export"))
    assert key.scopes == ["read", "write"] and key.rate_limit == 60
    # never again
    for path in (f"/o/{org.slug}/keys", f"/o/{org.slug}/keys/{key.public_id}"):
        assert secret not in client.get(path).get_data(as_text=True)


def test_the_copy_script_is_served_from_the_keys_blueprint_under_the_csp(client, login_as, org, admin):
    login_as(admin)
    page = client.get(f"/o/{org.slug}/keys")
    [script] = [t for t in tags(page.get_data(as_text=True), "script") if "keys.js" in (t.get("src") or "")]
    assert script.get("nonce")
    js = client.get(script["src"])
    assert js.status_code == 200 and "clipboard" in js.get_data(as_text=True)
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]


def test_create_errors_are_shown_next_to_the_fields(client, login_as, org, admin):
    login_as(admin)
    response = client.post(f"/o/{org.slug}/keys", headers=HTMX, data={"name": "", "scopes": ["read"], "expires_at": "2001-01-01"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="name-error"' in html and 'id="expires_at-error"' in html and "Choose a time in the future." in html
    assert db.session.scalar(select(db.func.count(ApiKey.id))) == 0


def test_the_key_page_shows_usage_chart_and_last_use(client, login_as, org, admin, make_key):
    key, secret = make_key(org, admin, name="reporting", rate_limit=2)
    for _ in range(3):  # two pass, one is limited
        client.get("/api/v1/me", headers=bearer(secret), environ_base={"REMOTE_ADDR": "198.51.100.7"})
    tasks.flush_usage()
    login_as(admin)
    html = client.get(f"/o/{org.slug}/keys/{key.public_id}").get_data(as_text=True)
    assert "<svg" in html and "3 requests in 30 days" in html
    rects = [t for t in tags(html, "rect") if t.get("fill") in ("#2e7d32", "#ef6c00") and t.get("x")]
    assert {r["fill"] for r in rects} == {"#2e7d32", "#ef6c00"}  # 2xx and 429 bars, today
    assert "198.51.100.7" in html and "GET /api/v1/me" in html
    assert key.masked in html and secret not in html
    assert "style=" not in html  # the CSP allows no style attributes


def test_rotate_and_revoke_ask_for_confirmation_and_work_from_the_page(client, login_as, org, admin, make_key):
    key, old = make_key(org, admin, name="rotate me")
    login_as(admin)
    html = client.get(f"/o/{org.slug}/keys/{key.public_id}").get_data(as_text=True)
    forms = {t.get("id"): t for t in tags(html, "form")}
    assert forms["rotate-form"]["hx-confirm"] and forms["revoke-form"]["hx-confirm"]
    rotated = client.post(f"/o/{org.slug}/keys/{key.public_id}/rotate", headers=HTMX, data={"grace_period": "3600"})
    assert rotated.status_code == 200 and rotated.headers["Cache-Control"] == "no-store"
    [new] = set(KEY_IN_PAGE.findall(rotated.get_data(as_text=True)))
    assert new != old and "previous key works until" in rotated.get_data(as_text=True)
    assert client.get("/api/v1/me", headers=bearer(old)).status_code == 200  # in its grace hour
    assert client.get("/api/v1/me", headers=bearer(new)).status_code == 200
    revoked = client.post(f"/o/{org.slug}/keys/{key.public_id}/revoke", headers=HTMX)
    assert revoked.status_code == 200 and "is revoked" in revoked.get_data(as_text=True)
    for secret in (old, new):
        assert client.get("/api/v1/me", headers=bearer(secret)).json["error"]["code"] == "revoked_key"
    browser = client.post(f"/o/{org.slug}/keys/{key.public_id}/revoke")
    assert browser.status_code == 303


def test_settings_form_changes_the_key(client, login_as, org, admin, make_key):
    key, _ = make_key(org, admin, name="before", scopes=["read"])
    login_as(admin)
    response = client.post(f"/o/{org.slug}/keys/{key.public_id}", headers=HTMX,
                           data={"name": "after", "scopes": ["read", "write"], "rate_limit": "42", "expires_at": "2099-01-01"})
    assert response.status_code == 200 and "Key settings saved." in response.get_data(as_text=True)
    db.session.refresh(key)
    assert (key.name, key.scopes, key.rate_limit, key.expires_at.year) == ("after", ["read", "write"], 42, 2099)
    bad = client.post(f"/o/{org.slug}/keys/{key.public_id}", headers=HTMX, data={"name": "x", "scopes": ["root"]})
    assert bad.status_code == 422 and 'id="scopes-error"' in bad.get_data(as_text=True)


def test_members_see_their_own_keys_only(client, login_as, org, admin, make_key):
    alice = member(org, "user", email="alice@keys.test")
    admins_key, _ = make_key(org, admin, name="admin key")
    make_key(org, alice, name="alice key", scopes=["read"])
    login_as(alice)
    listing = client.get(f"/o/{org.slug}/keys").get_data(as_text=True)
    assert "alice key" in listing and "admin key" not in listing
    assert client.get(f"/o/{org.slug}/keys/{admins_key.public_id}").status_code == 404
    assert client.post(f"/o/{org.slug}/keys/{admins_key.public_id}/revoke").status_code == 404
    assert client.get(f"/o/{org.slug}/keys/policy").status_code == 403
    # the default policy lets members create read and write keys, not admin ones
    refused = client.post(f"/o/{org.slug}/keys", headers=HTMX, data={"name": "mine", "scopes": ["admin"]})
    assert refused.status_code == 422 and "read, write" in refused.get_data(as_text=True)


def test_org_admins_set_the_key_policy(client, login_as, org, admin):
    login_as(admin)
    assert client.get(f"/o/{org.slug}/keys/policy").status_code == 200
    saved = client.post(f"/o/{org.slug}/keys/policy", data={"max_lifetime_days": "90", "user_scopes": ["read"]})
    assert saved.status_code == 303
    policy = service.policy_for(org)
    assert (policy.max_lifetime_days, policy.user_scopes) == (90, ["read"])
    bad = client.post(f"/o/{org.slug}/keys/policy", data={"max_lifetime_days": "0", "user_scopes": ["read"]})
    assert bad.status_code == 422
    assert "within 90 days" in client.get(f"/o/{org.slug}/keys/new").get_data(as_text=True)


def test_rotating_a_key_revoked_meanwhile_says_why_on_its_page_and_changes_nothing(client, login_as, org, admin, make_key):
    key, _ = make_key(org, admin, name="stale page")
    login_as(admin)
    client.post(f"/o/{org.slug}/keys/{key.public_id}/revoke", headers=HTMX)  # in another tab, say
    key_page = f"/o/{org.slug}/keys/{key.public_id}"
    browser = client.post(f"{key_page}/rotate", data={"grace_period": "3600"})
    assert browser.status_code == 303 and browser.headers["Location"].endswith(key_page)
    assert "only active keys can be rotated" in client.get(key_page).get_data(as_text=True)
    swapped = client.post(f"{key_page}/rotate", headers=HTMX, data={"grace_period": "3600"})
    assert swapped.status_code == 204 and swapped.headers["HX-Redirect"].endswith(key_page)
    db.session.expire_all()
    assert [s.expires_at for s in db.session.get(ApiKey, key.id).secrets] == [None]  # no new secret, no grace end
