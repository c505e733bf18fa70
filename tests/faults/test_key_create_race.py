"""A double click on "Create key": the second post arrives while the first is still being written.

The first click is a transaction on a connection of its own that has inserted the form's key and not committed (the
state a first request is in between its insert and its commit). The second click's post, in a thread, cannot see
that key yet, so it goes on to insert its own: PostgreSQL makes that insert wait on the unique (org, form token)
index. When the first commits, the second's insert fails, the view rolls back and shows "already created": one key.
"""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.keys import tokens
from portal.keys.models import ApiKey, ApiKeySecret
from portal.models import utcnow
from tests.security.helpers import tags

pytestmark = pytest.mark.postgres_only  # SQLite has one writer at a time: a second insert cannot be in flight


def _keys(org) -> int:
    return db.session.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.org_id == org.id))


def _first_click_in_flight(operator, org, admin, token: str):
    """A transaction that has written the key this form makes, uncommitted; returns (connection, its backend pid)."""
    conn = operator.engine.connect().execution_options(isolation_level="READ COMMITTED")
    conn.begin()
    secret = tokens.generate()
    key = ApiKey(org_id=org.id, user_id=admin.id, created_by_id=admin.id, name="deploy bot", scopes=["read"], rate_limit=60,
                 prefix=tokens.display_prefix(secret), last4=tokens.last4(secret), created_at=utcnow(), form_token=token)
    key.secrets.append(ApiKeySecret(secret_hash=tokens.digest(secret), prefix=key.prefix, last4=key.last4))
    session = Session(bind=conn)
    session.add(key)
    session.flush()
    return conn, session, conn.execute(select(func.pg_backend_pid())).scalar_one()


def test_a_second_post_of_the_form_while_the_first_is_being_written_makes_no_second_key(app, client, login_as, operator, org, admin):
    login_as(admin)
    html = client.get(f"/o/{org.slug}/keys/new").get_data(as_text=True)
    [token] = [t["value"] for t in tags(html, "input") if t.get("name") == "submit_token"]
    first, first_session, first_pid = _first_click_in_flight(operator, org, admin, token)
    answers = []
    second = threading.Thread(target=lambda: answers.append(
        client.post(f"/o/{org.slug}/keys", data={"submit_token": token, "name": "deploy bot", "scopes": ["read"], "rate_limit": "60"})))
    second.start()
    try:
        operator.wait_blocked_by(first_pid)  # the second click's insert waits on the form token's index entry
    finally:
        first_session.close()
        first.commit()
        first.close()
    second.join(timeout=30)
    [answer] = answers
    assert answer.status_code == 200
    assert "already created the key deploy bot" in answer.text and "No second key was made" in answer.text
    assert not re.search(r"vtr_[0-9A-Za-z]{36}", answer.text)  # the first click showed the secret; this one cannot
    assert _keys(org) == 1
