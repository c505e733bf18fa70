"""Sending the create form again (Reload on "Key created", or Back and resend) makes no second key and shows no
secret: the form's one-time token, stored with the key it created, names it. A fresh form creates another key as
before. (Two posts in flight at once, a double click: tests/faults/test_key_create_race.py.)"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from portal.extensions import db
from portal.keys.models import ApiKey
from tests.factories import member
from tests.security.helpers import tags

HTMX = {"HX-Request": "true"}
KEY_IN_PAGE = re.compile(r"vtr_[0-9A-Za-z]{36}")


def _fresh_form(client, org, headers=None) -> dict:
    """The fields of an empty create form, as the browser would post them."""
    html = client.get(f"/o/{org.slug}/keys/new", headers=headers or {}).get_data(as_text=True)
    [token] = [t["value"] for t in tags(html, "input") if t.get("name") == "submit_token"]
    return {"submit_token": token, "name": "deploy bot", "scopes": ["read"], "rate_limit": "60"}


def _keys(org) -> int:
    return db.session.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.org_id == org.id))


def test_posting_the_same_form_twice_leaves_one_key_and_no_second_secret(client, login_as, org, admin):
    login_as(admin)
    form = _fresh_form(client, org)
    first = client.post(f"/o/{org.slug}/keys", data=form)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    [secret] = set(KEY_IN_PAGE.findall(first.text))
    assert "You won't see this key again" in first.text and 'data-copy-target="new-key-value"' in first.text
    assert _keys(org) == 1

    again = client.post(f"/o/{org.slug}/keys", data=form)  # Reload
    assert again.status_code == 200 and again.headers["Cache-Control"] == "no-store"
    assert _keys(org) == 1
    assert not KEY_IN_PAGE.search(again.text) and secret not in again.text and "new-key-value" not in again.text
    assert "already created the key deploy bot" in again.text and "No second key was made" in again.text
    assert '<h1 id="key-created-title">Key already created</h1>' in again.text and ">Key created<" not in again.text
    assert "shown once, when it was created" in again.text and "rotate the key" in again.text
    key = db.session.scalar(select(ApiKey).where(ApiKey.org_id == org.id))
    assert f"/o/{org.slug}/keys/{key.public_id}" in again.text


def test_the_same_holds_for_the_htmx_dialog_and_the_secret_never_enters_the_session(client, login_as, org, admin):
    login_as(admin)
    form = _fresh_form(client, org, HTMX)
    first = client.post(f"/o/{org.slug}/keys", data=form, headers=HTMX)
    [secret] = set(KEY_IN_PAGE.findall(first.text))
    with client.session_transaction() as sess:
        remembered = dict(sess)
    assert secret not in repr(remembered) and secret[-8:] not in repr(remembered)
    again = client.post(f"/o/{org.slug}/keys", data=form, headers=HTMX)
    assert again.text.lstrip().startswith('<dialog open id="key-dialog"') and "No second key was made" in again.text
    assert not KEY_IN_PAGE.search(again.text) and _keys(org) == 1


def test_a_fresh_form_creates_another_key_normally(client, login_as, org, admin):
    login_as(admin)
    client.post(f"/o/{org.slug}/keys", data=_fresh_form(client, org))
    second = client.post(f"/o/{org.slug}/keys", data=_fresh_form(client, org))
    assert second.status_code == 200 and len(set(KEY_IN_PAGE.findall(second.text))) == 1
    assert "No second key was made" not in second.text
    assert _keys(org) == 2


def test_the_token_is_kept_with_the_key_not_in_the_session_so_any_number_of_forms_are_known(client, login_as, org, admin):
    login_as(admin)
    forms = [_fresh_form(client, org) for _ in range(7)]
    for form in forms:
        client.post(f"/o/{org.slug}/keys", data=form)
    again = client.post(f"/o/{org.slug}/keys", data=forms[0])  # the oldest of seven: the session kept only five
    assert "No second key was made" in again.text and _keys(org) == 7
    with client.session_transaction() as sess:
        assert not any(form["submit_token"] in repr(value) for value in sess.values() for form in forms)


def test_another_members_form_token_creates_nothing_and_says_to_open_a_new_form(client, login_as, org, admin):
    login_as(admin)
    form = _fresh_form(client, org)
    client.post(f"/o/{org.slug}/keys", data=form)
    colleague = member(org, "org_admin", email="colleague@example.test")
    login_as(colleague)
    refused = client.post(f"/o/{org.slug}/keys", data={**form, "name": "copied form"})
    assert refused.status_code == 409 and "This form was already sent. Open a new one" in refused.text
    assert _keys(org) == 1 and not KEY_IN_PAGE.search(refused.text)
