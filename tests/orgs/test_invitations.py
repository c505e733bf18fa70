import pytest
from sqlalchemy import select

from portal.accounts import service as accounts
from portal.audit.models import AuditEvent
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import utcnow
from portal.orgs.models import Invitation, Membership
from portal.uow import unit_of_work
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


def _invitation_link(client, login_as, mailbox, org, email):
    login_as(member(org, "org_admin"))
    _invite(client, org, email)
    return mailbox.link_in(mailbox.wait_for(email)[0], "/invite/")


def _token(link: str) -> str:
    return link.rsplit("/invite/", 1)[1]


def test_signing_up_through_a_withdrawn_or_expired_invitation_writes_and_sends_nothing(
    client, login_as, mailbox, app, row_counts, wait_for_jobs
):
    org = OrgFactory()
    link = _invitation_link(client, login_as, mailbox, org, "gone@example.test")
    invitation = db.session.scalar(select(Invitation).filter_by(email="gone@example.test"))
    client.post(f"/o/{org.slug}/invitations/{invitation.public_id}/revoke", headers={"HX-Request": "true"})
    late = _invitation_link(client, login_as, mailbox, org, "late@example.test")
    before = row_counts()
    withdrawn = app.test_client().post(link, data={"name": "Gone Girl", "password": "velvet-harbor-crane-7"})
    assert withdrawn.status_code == 400 and "withdrawn" in withdrawn.text
    saved = app.config["TOKEN_MAX_AGE"]
    app.config["TOKEN_MAX_AGE"] = {**saved, "invite": -1}
    try:
        expired = app.test_client().post(late, data={"name": "Late Larry", "password": "velvet-harbor-crane-7"})
    finally:
        app.config["TOKEN_MAX_AGE"] = saved
    assert expired.status_code == 400 and "expired" in expired.text
    wait_for_jobs()
    assert row_counts() == before  # no user, no membership, no audit event, no notification
    assert len(mailbox.to("gone@example.test")) == len(mailbox.to("late@example.test")) == 1  # the invitations only


def test_signing_up_through_an_invitation_with_a_weak_password_writes_nothing(client, login_as, mailbox, app, row_counts):
    org = OrgFactory()
    link = _invitation_link(client, login_as, mailbox, org, "weak@example.test")
    before = row_counts()
    response = app.test_client().post(link, data={"name": "Weak Will", "password": "password123"})
    assert response.status_code == 422 and "too common or too easy to guess" in response.text
    assert row_counts() == before
    # The invitation still works afterwards.
    assert app.test_client().post(link, data={"name": "Weak Will", "password": "velvet-harbor-crane-7"}).status_code == 302


def _refused_before_any_write(call) -> ServiceError:
    """call() raises a ServiceError and had added or changed nothing in the session when it did."""
    with pytest.raises(ServiceError) as refused:
        call()
    assert not db.session.new and not db.session.dirty and not db.session.deleted
    db.session.rollback()
    return refused.value


def test_signup_from_an_invitation_checks_everything_before_the_first_write(client, login_as, mailbox, app, row_counts):
    org = OrgFactory()
    link = _invitation_link(client, login_as, mailbox, org, "checked@example.test")
    known = _invitation_link(client, login_as, mailbox, org, "known@example.test")
    UserFactory(email="known@example.test")
    withdrawn = _invitation_link(client, login_as, mailbox, org, "withdrawn@example.test")
    invitation = db.session.scalar(select(Invitation).filter_by(email="withdrawn@example.test"))
    invitation.revoked_at = utcnow()
    db.session.commit()
    before = row_counts()

    good = "velvet-harbor-crane-7"
    assert _refused_before_any_write(lambda: accounts.signup_from_invitation(_token(link), "Checked", "qwertyuiop")).fields["password"]
    assert _refused_before_any_write(lambda: accounts.signup_from_invitation(_token(known), "Known", good)).code == "account_exists"
    assert _refused_before_any_write(lambda: accounts.signup_from_invitation(_token(withdrawn), "Withdrawn", good)).code == "token_invalid"
    saved = app.config["TOKEN_MAX_AGE"]
    app.config["TOKEN_MAX_AGE"] = {**saved, "invite": -1}
    try:
        assert _refused_before_any_write(lambda: accounts.signup_from_invitation(_token(link), "Checked", good)).code == "token_expired"
    finally:
        app.config["TOKEN_MAX_AGE"] = saved
    assert row_counts() == before

    # The same invitation, valid and with a good password: the account and the membership in one change.
    with unit_of_work():
        membership = accounts.signup_from_invitation(_token(link), "Checked In", good)
    user = accounts.find_user("checked@example.test")
    assert (membership.org_id, membership.user_id, membership.role) == (org.id, user.id, "user") and user.is_verified
    assert db.session.scalar(select(AuditEvent).filter_by(action="member.joined", actor_id=user.id)).org_id == org.id
