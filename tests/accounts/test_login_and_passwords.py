from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.extensions import db
from tests.factories import PASSWORD, PASSWORD_HASH, OrgFactory, UserFactory, member


def test_login_with_right_password_lands_in_first_org(client):
    org = OrgFactory(name="Alpha")
    user = member(org, "user", email="al@example.test")
    response = client.post("/login", data={"email": "AL@example.test ", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/", follow_redirects=True).request.path == f"/o/{org.slug}/"
    assert db.session.scalar(select(AuditEvent).filter_by(action="login", actor_id=user.id)) is not None


def test_login_with_wrong_password_says_so_without_telling_which(client):
    UserFactory(email="al@example.test")
    wrong_password = client.post("/login", data={"email": "al@example.test", "password": "nope-nope-nope"})
    unknown_email = client.post("/login", data={"email": "ghost@example.test", "password": "nope-nope-nope"})
    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert "Email or password is wrong." in response.text
    assert db.session.scalar(select(AuditEvent).filter_by(action="login.failed", target="ghost@example.test"))


def test_logout_ends_the_session(client, login_as):
    login_as(UserFactory())
    assert client.get("/account").status_code == 200
    client.post("/logout")
    assert client.get("/account").status_code == 302


def test_password_reset_link_works_once(client, mailbox):
    UserFactory(email="rita@example.test")
    response = client.post("/password/forgot", data={"email": "rita@example.test"}, follow_redirects=True)
    assert "reset link is on its way" in response.text
    link = mailbox.link_in(mailbox.wait_for("rita@example.test")[0], "/password/reset/")
    assert client.get(link).status_code == 200
    done = client.post(link, data={"password": "new-lantern-oyster-44", "confirm": "new-lantern-oyster-44"})
    assert done.status_code == 302
    fresh = client.application.test_client()
    assert fresh.post("/login", data={"email": "rita@example.test", "password": "new-lantern-oyster-44"}).status_code == 302
    reused = fresh.get(link)
    assert reused.status_code == 400 and "already used" in reused.text


def test_password_reset_for_unknown_email_answers_the_same_and_sends_nothing(client, mailbox, wait_for_jobs):
    response = client.post("/password/forgot", data={"email": "nobody@example.test"}, follow_redirects=True)
    assert "reset link is on its way" in response.text
    wait_for_jobs()
    assert mailbox.to("nobody@example.test") == []


def test_password_reset_refuses_weak_and_mismatched_passwords(client, mailbox):
    UserFactory(email="rita@example.test")
    client.post("/password/forgot", data={"email": "rita@example.test"})
    link = mailbox.link_in(mailbox.wait_for("rita@example.test")[0], "/password/reset/")
    weak = client.post(link, data={"password": "qwertyuiop", "confirm": "qwertyuiop"})
    assert weak.status_code == 422 and "too common" in weak.text
    mismatch = client.post(link, data={"password": "new-lantern-oyster-44", "confirm": "other-lantern-oyster-44"})
    assert "The passwords differ." in mismatch.text
    # The link still works after refused attempts.
    assert client.get(link).status_code == 200


def test_expired_reset_link_is_refused(app, client, mailbox):
    UserFactory(email="rita@example.test")
    client.post("/password/forgot", data={"email": "rita@example.test"})
    link = mailbox.link_in(mailbox.wait_for("rita@example.test")[0], "/password/reset/")
    saved = app.config["TOKEN_MAX_AGE"]
    app.config["TOKEN_MAX_AGE"] = {**saved, "reset": -1}
    try:
        page = client.get(link)
    finally:
        app.config["TOKEN_MAX_AGE"] = saved
    assert page.status_code == 400 and "expired" in page.text


def test_change_password_needs_the_current_one(client, login_as):
    user = UserFactory()
    login_as(user)
    response = client.post(
        "/account/password",
        data={"pw-current_password": "wrong-one-here", "pw-password": "fresh-meadow-tulip-8", "pw-confirm": "fresh-meadow-tulip-8"},
    )
    assert response.status_code == 422
    assert "This is not your current password." in response.text
    db.session.refresh(user)
    assert user.password_hash == PASSWORD_HASH


def test_change_password_keeps_this_session(client, login_as):
    user = UserFactory()
    login_as(user)
    response = client.post(
        "/account/password",
        data={"pw-current_password": PASSWORD, "pw-password": "fresh-meadow-tulip-8", "pw-confirm": "fresh-meadow-tulip-8"},
    )
    assert response.status_code == 302
    assert client.get("/account").status_code == 200


def test_profile_saves_name_and_time_zone_and_rejects_unknown_zone(client, login_as):
    user = UserFactory()
    login_as(user)
    ok = client.post("/account", data={"name": "Renamed", "timezone": "Europe/Rome"})
    assert ok.status_code == 302
    db.session.refresh(user)
    assert (user.name, user.timezone) == ("Renamed", "Europe/Rome")
    bad = client.post("/account", data={"name": "Renamed", "timezone": "Mars/Olympus"})
    assert "Pick a time zone from the list." in bad.text
    db.session.refresh(user)
    assert user.timezone == "Europe/Rome"


def test_a_refused_login_keeps_its_audit_row_and_nothing_else(client, row_counts):
    user = UserFactory(email="paused@example.test", is_suspended=True)
    before = row_counts()
    response = client.post("/login", data={"email": "paused@example.test", "password": PASSWORD})
    assert response.status_code == 403 and "This account is suspended" in response.text
    [event] = db.session.scalars(select(AuditEvent).filter_by(action="login.failed", actor_id=user.id)).all()
    assert event.data == {"reason": "suspended"}
    assert row_counts() == {**before, "audit_event": before["audit_event"] + 1}
    db.session.refresh(user)
    assert user.last_login_at is None


def test_changing_the_password_ends_the_other_sessions(client, login_as, app):
    user = UserFactory()
    elsewhere = app.test_client()
    with elsewhere.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
    assert elsewhere.get("/account").status_code == 200
    login_as(user)
    response = client.post(
        "/account/password",
        data={"pw-current_password": PASSWORD, "pw-password": "fresh-meadow-tulip-8", "pw-confirm": "fresh-meadow-tulip-8"},
    )
    assert response.status_code == 302
    assert client.get("/account").status_code == 200  # this session was renewed
    assert elsewhere.get("/account").status_code == 302  # the other one ends
