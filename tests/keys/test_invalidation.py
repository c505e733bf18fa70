"""Which commits drop cached keys: the columns each model declares next to its own (KEY_AUTH_FIELDS), inserts
and deletes of those models; once per transaction, after the commit, and never for a rolled-back change."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from portal.accounts.models import User
from portal.extensions import db
from portal.keys.models import ApiKey, ApiKeySecret
from portal.models import utcnow
from portal.orgs.models import Membership, Organization

from .helpers import bearer, membership


@pytest.mark.parametrize("model", [User, Membership, Organization, ApiKey, ApiKeySecret])
def test_every_declared_key_auth_field_is_a_column_of_its_model(model):
    columns = {attr.key for attr in inspect(model).column_attrs}
    assert model.KEY_AUTH_FIELDS and set(model.KEY_AUTH_FIELDS) <= columns, set(model.KEY_AUTH_FIELDS) - columns


def cached(client, secret: str, runtime) -> int:
    """Call with the key once (so that it is cached, whatever the answer) and return how many entries the cache holds."""
    client.get("/api/v1/me", headers=bearer(secret))
    return len(runtime.cache)


def test_a_committed_change_to_a_declared_column_drops_cached_keys_once_and_other_changes_keep_them(
        client, org, admin, make_key, clean_key_runtime, monkeypatch):
    _, secret = make_key(org, admin)
    assert cached(client, secret, clean_key_runtime) == 1
    announced = []
    changed = clean_key_runtime.changed
    monkeypatch.setattr(clean_key_runtime, "changed", lambda: (announced.append(1), changed()))

    admin.last_login_at = utcnow()  # not declared: a login must not empty every process's cache
    db.session.commit()
    assert len(clean_key_runtime.cache) == 1 and announced == []

    admin.timezone = "Europe/Paris"  # declared, but rolled back: nothing to announce
    db.session.flush()
    db.session.rollback()
    assert len(clean_key_runtime.cache) == 1 and announced == []

    admin.timezone = "Europe/Paris"
    db.session.flush()
    admin.name = "Renamed"  # a second flush of the same transaction
    db.session.flush()
    assert len(clean_key_runtime.cache) == 1 and announced == []  # not before the commit
    db.session.commit()
    assert len(clean_key_runtime.cache) == 0 and announced == [1]  # once per transaction


def test_a_suspended_org_or_a_changed_role_drops_cached_keys(client, org, admin, make_key, clean_key_runtime):
    _, secret = make_key(org, admin)
    changes = (lambda: setattr(org, "is_suspended", True), lambda: setattr(org, "is_suspended", False),
               lambda: setattr(membership(org, admin), "role", "billing_admin"))
    for change in changes:
        assert cached(client, secret, clean_key_runtime) == 1
        change()
        db.session.commit()
        assert len(clean_key_runtime.cache) == 0
