from sqlalchemy import select

from portal.extensions import db
from portal.orgs.models import Invitation, Membership
from tests.factories import OrgFactory, UserFactory, member


def _invite(client, org, email="newbie@example.test", role="user"):
    return client.post(f"/o/{org.slug}/invitations", data={"email": email, "role": role}, headers={"HX-Request": "true"})


def test_invited_person_signs_up_from_the_link_and_joins_with_the_role(client, login_as, mailbox, app):
    org = OrgFactory(name="Invite Co")
    login_as(member(org, "org_admin"))
    response = _invite(client, org, role="billing_admin")
    assert response.status_code == 200
    assert "Invitation sent to newbie@example.test" in response.text
    link = mailbox.link_in(mailbox.wait_for("newbie@example.test")[0], "/invite/")
    stranger = app.test_client()
    page = stranger.get(link)
    assert "Join Invite Co" in page.text and "Billing admin" in page.text
    joined = stranger.post(link, data={"name": "New Bie", "password": "velvet-harbor-crane-7"})
    assert joined.status_code == 302 and joined.headers["Location"] == f"/o/{org.slug}/"
    membership = db.session.scalar(select(Membership).filter_by(org_id=org.id, role="billing_admin"))
    assert membership.user.email == "newbie@example.test" and membership.user.is_verified
    assert stranger.get(f"/o/{org.slug}/").status_code == 200
    # The link is single-use.
    again = app.test_client().get(link)
    assert again.status_code == 400 and "already accepted" in again.text


def test_existing_user_accepts_while_logged_in(client, login_as, mailbox, app):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    invitee = UserFactory(email="known@example.test")
    _invite(client, org, "known@example.test")
    link = mailbox.link_in(mailbox.wait_for("known@example.test")[0], "/invite/")
    other = app.test_client()
    assert "Log in" in other.get(link).text  # they have an account: asked to log in, not to sign up
    with other.session_transaction() as sess:
        sess["_user_id"] = invitee.get_id()
    assert other.post(link).status_code == 302
    assert db.session.scalar(select(Membership).filter_by(org_id=org.id, user_id=invitee.id)).role == "user"


def test_accepting_with_another_account_is_refused(client, login_as, mailbox, app, row_counts):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    _invite(client, org, "target@example.test")
    link = mailbox.link_in(mailbox.wait_for("target@example.test")[0], "/invite/")
    intruder = UserFactory(email="intruder@example.test")
    other = app.test_client()
    with other.session_transaction() as sess:
        sess["_user_id"] = intruder.get_id()
    before = row_counts()
    response = other.post(link)
    assert response.status_code == 422
    assert "This invitation is for target@example.test" in response.text
    assert row_counts() == before


def test_withdrawn_and_expired_invitations_are_refused(client, login_as, mailbox, app):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    _invite(client, org, "late@example.test")
    link = mailbox.link_in(mailbox.wait_for("late@example.test")[0], "/invite/")
    invitation = db.session.scalar(select(Invitation).filter_by(email="late@example.test"))
    client.post(f"/o/{org.slug}/invitations/{invitation.public_id}/revoke", headers={"HX-Request": "true"})
    withdrawn = app.test_client().get(link)
    assert withdrawn.status_code == 400 and "withdrawn" in withdrawn.text

    _invite(client, org, "late2@example.test")
    link2 = mailbox.link_in(mailbox.wait_for("late2@example.test")[0], "/invite/")
    saved = app.config["TOKEN_MAX_AGE"]
    app.config["TOKEN_MAX_AGE"] = {**saved, "invite": -1}
    try:
        expired = app.test_client().get(link2)
    finally:
        app.config["TOKEN_MAX_AGE"] = saved
    assert expired.status_code == 400 and "expired" in expired.text


def test_inviting_a_current_member_is_a_field_error(client, login_as, row_counts):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    existing = member(org, "user", email="already@example.test")
    before = row_counts()
    response = _invite(client, org, existing.email)
    assert response.status_code == 422
    assert "already@example.test is already a member." in response.text
    assert row_counts() == before


def test_inviting_with_a_bad_email_is_a_field_error(client, login_as, row_counts):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    before = row_counts()
    response = _invite(client, org, "not-an-email")
    assert response.status_code == 422 and 'aria-invalid="true"' in response.text
    assert row_counts() == before


def test_a_plain_user_cannot_invite(client, login_as, row_counts):
    org = OrgFactory()
    login_as(member(org, "user"))
    before = row_counts()
    assert _invite(client, org).status_code == 403
    assert row_counts() == before


def test_a_new_invitation_replaces_the_pending_one(client, login_as, mailbox):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    _invite(client, org, "twice@example.test", "user")
    _invite(client, org, "twice@example.test", "org_admin")
    invitations = db.session.scalars(select(Invitation).filter_by(email="twice@example.test")).all()
    assert sorted(i.status for i in invitations) == ["pending", "revoked"]
