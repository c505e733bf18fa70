import pytest
from sqlalchemy import select

from portal.accounts import service
from portal.accounts.models import User
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.orgs.models import Membership
from portal.uow import unit_of_work

GOOD = {
    "name": "Nina New",
    "email": "Nina@Example.test",
    "password": "plum-tractor-quietly-91",
    "org_name": "Nina's Lab",
    "org_slug": "ninas-lab",
}


def test_signup_creates_user_and_org_with_user_as_org_admin(client):
    response = client.post("/signup", data=GOOD)
    assert response.status_code == 302
    user = db.session.scalar(select(User).filter_by(email="nina@example.test"))
    assert user is not None and not user.is_verified
    membership = db.session.scalar(select(Membership).filter_by(user_id=user.id))
    assert membership.role == "org_admin" and membership.org.slug == "ninas-lab"
    # The new user is logged in and lands in their organization.
    assert "Nina&#39;s Lab" in client.get("/", follow_redirects=True).text


def test_verification_email_link_verifies_once(client, mailbox):
    client.post("/signup", data=GOOD)
    [msg] = mailbox.wait_for("nina@example.test")
    assert msg.get_body(preferencelist=("html",)) is not None  # multipart: text and HTML
    link = mailbox.link_in(msg, "/verify/")
    first = client.get(link, follow_redirects=True)
    assert "Your email address is verified." in first.text
    assert db.session.scalar(select(User).filter_by(email="nina@example.test")).is_verified
    again = client.get(link, follow_redirects=True)
    assert "already verified" in again.text


def test_expired_verification_link_says_so(app, client, mailbox):
    client.post("/signup", data=GOOD)
    link = mailbox.link_in(mailbox.wait_for("nina@example.test")[0], "/verify/")
    saved = app.config["TOKEN_MAX_AGE"]
    app.config["TOKEN_MAX_AGE"] = {**saved, "verify": -1}
    try:
        page = client.get(link, follow_redirects=True)
    finally:
        app.config["TOKEN_MAX_AGE"] = saved
    assert "This link has expired" in page.text
    assert not db.session.scalar(select(User).filter_by(email="nina@example.test")).is_verified


def test_tampered_verification_link_is_refused(client, mailbox):
    client.post("/signup", data=GOOD)
    link = mailbox.link_in(mailbox.wait_for("nina@example.test")[0], "/verify/")
    page = client.get(link[:-3] + "xyz", follow_redirects=True)
    assert "This link is not valid" in page.text


def test_signup_with_taken_email_shows_field_error_and_writes_nothing(client, row_counts):
    client.post("/signup", data=GOOD)
    other = client.application.test_client()
    before = row_counts()
    response = other.post("/signup", data={**GOOD, "email": "nina@example.test", "org_slug": "another-slug"})
    assert response.status_code == 422
    assert "An account with this email already exists" in response.text
    assert row_counts() == before


def test_signup_with_weak_password_is_refused_and_keeps_typed_values(client, row_counts):
    before = row_counts()
    response = client.post("/signup", data={**GOOD, "password": "password123"})
    assert response.status_code == 422
    assert "too common or too easy to guess" in response.text
    assert 'value="Nina&#39;s Lab"' in response.text or "value=\"Nina's Lab\"" in response.text
    assert row_counts() == before


def test_signup_with_short_password_names_the_minimum(client):
    response = client.post("/signup", data={**GOOD, "password": "Xk9#2"})
    assert "Use at least 10 characters." in response.text


def test_signup_with_bad_or_taken_slug_is_refused(client, row_counts):
    for slug, message in [
        ("Bad Slug!", "lowercase letters, digits and dashes"),
        ("admin", "reserved"),
        ("-x", "lowercase letters"),
    ]:
        before = row_counts()
        response = client.post("/signup", data={**GOOD, "org_slug": slug})
        assert response.status_code == 422, slug
        assert message in response.text, slug
        assert row_counts() == before
    client.post("/signup", data=GOOD)
    response = client.application.test_client().post("/signup", data={**GOOD, "email": "x@example.test", "org_slug": "ninas-lab"})
    assert "This address is taken" in response.text


def test_resend_verification_sends_a_new_link(client, mailbox):
    client.post("/signup", data=GOOD)
    mailbox.wait_for("nina@example.test")
    client.post("/verify/resend")
    assert len(mailbox.wait_for("nina@example.test", count=2)) == 2


def test_signup_checks_the_organization_before_it_writes_the_user(app, row_counts):
    before = row_counts()
    for slug in ("admin", "Not A Slug"):
        with pytest.raises(ValidationFailed) as refused:
            service.signup(GOOD["email"], GOOD["password"], GOOD["name"], GOOD["org_name"], slug)
        assert set(refused.value.fields) == {"org_slug"}
        # Refused before the first write: no user was ever added, not merely rolled back afterwards.
        assert not db.session.new and service.find_user(GOOD["email"]) is None
        db.session.rollback()
    with pytest.raises(ValidationFailed) as both:
        service.signup(GOOD["email"], "password123", GOOD["name"], "", "ninas-lab")
    assert set(both.value.fields) == {"password", "org_name"}  # every problem at once, not the first one found
    db.session.rollback()
    assert row_counts() == before


def test_signup_sends_the_verification_email_only_once_committed(app, mailbox, wait_for_jobs):
    with pytest.raises(RuntimeError), unit_of_work():
        service.signup("undone@example.test", GOOD["password"], "Undone", "Undone Lab", "undone-lab")
        raise RuntimeError("the request failed after the sign-up")
    wait_for_jobs()
    assert mailbox.to("undone@example.test") == [] and service.find_user("undone@example.test") is None
    with unit_of_work():
        service.signup("done@example.test", GOOD["password"], "Done", "Done Lab", "done-lab")
    assert len(mailbox.wait_for("done@example.test")) == 1
