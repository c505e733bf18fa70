"""Suspension from the platform console: suspended users are locked out, suspended orgs answer 403."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.extensions import db
from tests.factories import MembershipFactory, OrgFactory, UserFactory, member

from .helpers import log_in


@pytest.fixture
def org(app):
    return OrgFactory(slug="susp-org", name="Suspendable")


@pytest.fixture
def staff(app):
    return UserFactory(platform_role="super_admin", email="staff@platform.test")


@pytest.fixture
def console(app, staff):
    """A separate browser, logged in as a super_admin, on the admin console."""
    browser = app.test_client()
    with browser.session_transaction() as sess:
        sess["_user_id"] = staff.get_id()
    assert browser.get("/admin/users").status_code == 200
    return browser


def suspend_user(console, user, suspended: bool = True):
    response = console.post(f"/admin/users/{user.public_id}/suspend", data={"suspended": "1" if suspended else "0"}, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def suspend_org(console, org, suspended: bool = True):
    response = console.post(f"/admin/orgs/{org.public_id}/suspend", data={"suspended": "1" if suspended else "0"}, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


# ---------------------------------------------------------------------------------------------- users


def test_a_user_suspended_from_the_console_cannot_log_in_and_is_told_why(app, client, org, console):
    user = member(org, "user", email="sus@example.test")
    suspend_user(console, user)
    response = log_in(client, user.email)
    assert response.status_code == 403
    assert "This account is suspended" in response.get_data(as_text=True)
    with client.session_transaction() as sess:
        assert "_user_id" not in sess
    event = db.session.scalar(select(AuditEvent).filter_by(action="login.failed", target=user.email))
    assert event is not None and event.data == {"reason": "suspended"}


def test_a_wrong_password_for_a_suspended_user_does_not_reveal_the_suspension(app, client, org, console):
    user = member(org, "user", email="sus2@example.test")
    suspend_user(console, user)
    response = log_in(client, user.email, "Wrong-password-000")
    assert response.status_code == 401
    assert "suspended" not in response.get_data(as_text=True)


def test_suspending_a_user_ends_their_open_sessions_on_pages_and_api(app, client, login_as, org, console):
    user = member(org, "user", email="open@example.test")
    login_as(user)
    assert client.get("/o/susp-org/").status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    suspend_user(console, user)
    page = client.get("/o/susp-org/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    api = client.get("/api/v1/me")
    assert api.status_code == 401 and api.get_json()["error"]["code"] == "unauthenticated"


def test_a_restored_user_can_log_in_again(app, client, org, console):
    user = member(org, "user", email="back@example.test")
    suspend_user(console, user)
    suspend_user(console, user, suspended=False)
    assert log_in(client, user.email).status_code == 302
    assert client.get("/o/susp-org/").status_code == 200


def test_staff_cannot_suspend_themselves(app, console, staff):
    response = console.post(f"/admin/users/{staff.public_id}/suspend", data={"suspended": "1"})
    assert response.status_code == 400
    db.session.refresh(staff)
    assert staff.is_suspended is False


# ---------------------------------------------------------------------------------------------- orgs


def test_a_suspended_org_answers_403_with_a_clear_message_on_its_pages(app, client, login_as, org, console):
    admin = member(org, "org_admin")
    suspend_org(console, org)
    login_as(admin)
    for path in ("/o/susp-org/", "/o/susp-org/members", "/o/susp-org/audit"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "This organization is suspended" in response.get_data(as_text=True), path


def test_a_suspended_org_answers_403_json_on_its_api_and_writes_nothing(app, client, login_as, org, console, row_counts):
    admin = member(org, "org_admin")
    suspend_org(console, org)
    login_as(admin)
    before = row_counts()
    listing = client.get("/api/v1/orgs/susp-org/members")
    assert listing.status_code == 403
    error = listing.get_json()["error"]
    assert error["code"] == "forbidden" and "This organization is suspended" in error["message"]
    invite = client.post("/api/v1/orgs/susp-org/invitations", json={"email": "late@example.test", "role": "user"})
    assert invite.status_code == 403
    form = client.post("/o/susp-org/invitations", data={"email": "late@example.test", "role": "user"})
    assert form.status_code == 403
    assert row_counts() == before


def test_a_suspended_org_still_looks_missing_to_non_members(app, client, login_as, org, console):
    suspend_org(console, org)
    login_as(member(OrgFactory(), "org_admin"))
    assert client.get("/o/susp-org/").status_code == 404
    assert client.get("/api/v1/orgs/susp-org/members").status_code == 404


def test_suspending_one_org_leaves_the_members_other_orgs_working(app, client, login_as, org, console):
    other = OrgFactory(slug="other-org")
    user = member(org, "user")
    MembershipFactory(org=other, user=user, role="user")
    suspend_org(console, org)
    login_as(user)
    assert client.get("/o/other-org/").status_code == 200
    assert client.get("/o/susp-org/").status_code == 403


def test_a_restored_org_works_again(app, client, login_as, org, console):
    admin = member(org, "org_admin")
    suspend_org(console, org)
    suspend_org(console, org, suspended=False)
    login_as(admin)
    assert client.get("/o/susp-org/members").status_code == 200
    assert client.get("/api/v1/orgs/susp-org/members").status_code == 200
