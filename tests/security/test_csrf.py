"""CSRF: forms, HTMX requests and session-authenticated API writes all need the session's token."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.orgs.models import Invitation
from tests.factories import OrgFactory, member

from .helpers import meta_csrf_token
from .routes import (
    CSRF_EXEMPT,
    WRITE_METHODS,
    build_path,
    changed_tables,
    coverage_problems,
    db_snapshot,
    is_api,
    methods_of,
    send,
    values_for,
    write_rules,
)


@pytest.fixture
def admin(app):
    org = OrgFactory(slug="csrf-org")
    return member(org, "org_admin", email="admin@csrf.test")


def invitations() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(Invitation.email)))


def test_form_post_without_csrf_token_is_refused_with_400_and_writes_nothing(app, client, login_as, admin, csrf_enabled, row_counts):
    login_as(admin)
    before = row_counts()
    response = client.post("/o/csrf-org/invitations", data={"email": "new@csrf.test", "role": "user"})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert row_counts() == before


def test_form_post_with_a_forged_csrf_token_is_refused(app, client, login_as, admin, csrf_enabled, row_counts):
    login_as(admin)
    client.get("/o/csrf-org/members")  # the session now holds a real token; the form sends another
    before = row_counts()
    response = client.post("/o/csrf-org/invitations", data={"email": "new@csrf.test", "role": "user", "csrf_token": "forged"})
    assert response.status_code == 400
    assert row_counts() == before


def test_htmx_post_with_the_token_from_the_page_meta_tag_works(app, client, login_as, admin, csrf_enabled, wait_for_jobs):
    login_as(admin)
    token = meta_csrf_token(client.get("/o/csrf-org/members").get_data(as_text=True))
    response = client.post(
        "/o/csrf-org/invitations",
        data={"email": "new@csrf.test", "role": "user"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert invitations() == ["new@csrf.test"]
    wait_for_jobs()


def test_htmx_post_without_the_header_is_refused(app, client, login_as, admin, csrf_enabled, row_counts):
    login_as(admin)
    client.get("/o/csrf-org/members")
    before = row_counts()
    response = client.post("/o/csrf-org/invitations", data={"email": "new@csrf.test", "role": "user"}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert row_counts() == before


def test_session_api_write_without_csrf_header_gets_400_json_csrf_failed(app, client, login_as, admin, csrf_enabled, row_counts):
    login_as(admin)
    client.get("/o/csrf-org/members")
    before = row_counts()
    response = client.post("/api/v1/orgs/csrf-org/invitations", json={"email": "api@csrf.test", "role": "user"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert row_counts() == before


def test_session_api_write_with_csrf_header_from_the_page_is_created(app, client, login_as, admin, csrf_enabled, wait_for_jobs):
    login_as(admin)
    token = meta_csrf_token(client.get("/o/csrf-org/members").get_data(as_text=True))
    response = client.post("/api/v1/orgs/csrf-org/invitations", json={"email": "api@csrf.test", "role": "user"}, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["email"] == "api@csrf.test"
    assert invitations() == ["api@csrf.test"]
    wait_for_jobs()


def test_a_token_from_another_session_is_refused(app, client, login_as, admin, csrf_enabled, row_counts):
    """A token is bound to its session: an attacker's own valid token does not work in the victim's session."""
    attacker = app.test_client()
    with attacker.session_transaction() as sess:
        sess["_user_id"] = member(OrgFactory(), "org_admin").get_id()
    stolen = meta_csrf_token(attacker.get("/account").get_data(as_text=True))
    login_as(admin)
    client.get("/o/csrf-org/members")
    before = row_counts()
    response = client.post("/api/v1/orgs/csrf-org/invitations", json={"email": "api@csrf.test"}, headers={"X-CSRFToken": stolen})
    assert response.status_code == 400
    assert row_counts() == before


def test_every_write_route_refuses_a_request_without_csrf_token_and_writes_nothing(app, client, login_as, world, csrf_enabled, row_counts):
    """Walks app.url_map: a new POST/PUT/PATCH/DELETE route is covered the day it lands (CSRF_EXEMPT lists exceptions)."""
    assert not coverage_problems(app), "fix test_every_route_is_covered_by_the_security_walks first"
    login_as(world.admin_a)  # org A's own admin: only the missing token stands in the way
    client.get("/o/acme-secret/members")  # the session holds a real token; the requests below do not send it
    counts, snapshot = row_counts(), db_snapshot()
    failures, tried = [], 0
    for rule in write_rules(app):
        if rule.endpoint in CSRF_EXEMPT:
            continue
        path = build_path(rule, values_for(world, rule, app))
        for method in sorted(set(methods_of(rule)) & WRITE_METHODS):
            response = send(client, rule, method, path)
            tried += 1
            if response.status_code != 400:
                failures.append(f"{method} {path} [{rule.endpoint}] answered {response.status_code}, expected 400")
            elif is_api(path) and response.get_json()["error"]["code"] != "csrf_failed":
                failures.append(f"{method} {path} [{rule.endpoint}] answered {response.get_json()}, expected code csrf_failed")
    assert tried >= 10
    assert not failures, "Writes accepted without a CSRF token:\n- " + "\n- ".join(failures)
    assert row_counts() == counts
    assert not changed_tables(snapshot, db_snapshot())
