"""Security headers, the session cookie, session fixation, session revocation, password storage, log hygiene."""

from __future__ import annotations

import logging
import os
import re
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.extensions import db
from tests.factories import PASSWORD, OrgFactory, member

from .helpers import log_in, tags

NEW_PASSWORD = "Quartz-lantern-91-orbit"
WORKER_LOG = Path(__file__).resolve().parents[1] / "artifacts" / f"worker-{os.getpid()}.log"


def csp_of(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    assert header, "no Content-Security-Policy header"
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in (p.strip() for p in header.split(";")) if d}


@pytest.fixture
def user(app):
    return member(OrgFactory(slug="hdr-org"), "org_admin", email="hdr@example.test")


# ---------------------------------------------------------------------------------------------- headers


def get(client, login_as, user, path):
    """/login is read anonymously (a logged-in visitor is redirected); the rest as the org's admin."""
    if path != "/login":
        login_as(user)
    return client.get(path)


@pytest.mark.parametrize("path", ["/login", "/o/hdr-org/members", "/api/docs", "/o/no-such-org/"])
def test_every_script_tag_carries_the_csp_nonce_of_its_response(app, client, login_as, user, path):
    response = get(client, login_as, user, path)
    policy = csp_of(response)
    nonces = re.findall(r"'nonce-([^']+)'", policy["script-src"])
    assert len(nonces) == 1, policy["script-src"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    scripts = tags(response.get_data(as_text=True), "script")
    assert scripts, f"{path} has no <script> tag to check"
    assert [s.get("nonce") for s in scripts] == [nonces[0]] * len(scripts)


def test_the_csp_nonce_is_new_on_every_response(app, client):
    first = re.findall(r"'nonce-([^']+)'", csp_of(client.get("/login"))["script-src"])
    second = re.findall(r"'nonce-([^']+)'", csp_of(client.get("/login"))["script-src"])
    assert first and second and first != second


@pytest.mark.parametrize("path", ["/login", "/o/hdr-org/", "/api/v1/me", "/api/docs"])
def test_responses_forbid_framing_sniffing_and_full_referrers(app, client, login_as, user, path):
    response = get(client, login_as, user, path)
    assert response.status_code == 200
    policy = csp_of(response)
    assert policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("strict-origin-when-cross-origin", "same-origin", "no-referrer", "strict-origin")
    assert response.headers["X-Frame-Options"] == "DENY"


# ---------------------------------------------------------------------------------------------- session


def session_cookie(response) -> SimpleCookie:
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if "session" in cookie:
            return cookie
    raise AssertionError(f"no session cookie set: {response.headers.getlist('Set-Cookie')}")


def test_session_cookie_is_httponly_and_samesite_lax(app, client, user):
    response = log_in(client, user.email)
    assert response.status_code == 302
    morsel = session_cookie(response)["session"]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"


def test_remember_me_cookie_is_httponly_and_samesite_lax(app, client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    cookies = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        cookies.load(header)
    assert "remember_token" in cookies, response.headers.getlist("Set-Cookie")
    morsel = cookies["remember_token"]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax", f"remember_token is sent without SameSite: {response.headers.getlist('Set-Cookie')}"


def test_logging_in_clears_what_the_session_held_before(app, client, user):
    with client.session_transaction() as sess:
        sess["planted"] = "by-an-attacker"
        sess["csrf_token"] = "fixed-by-an-attacker"
    response = log_in(client, user.email)
    assert response.status_code == 302
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("csrf_token") != "fixed-by-an-attacker"
        assert sess["_user_id"] == user.get_id()


def test_changing_password_logs_out_the_users_other_sessions_but_keeps_this_one(app, client, user):
    other = app.test_client()
    assert log_in(client, user.email).status_code == 302
    assert log_in(other, user.email).status_code == 302
    assert other.get("/account").status_code == 200
    response = client.post(
        "/account/password", data={"pw-current_password": PASSWORD, "pw-password": NEW_PASSWORD, "pw-confirm": NEW_PASSWORD}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert client.get("/account").status_code == 200
    stale = other.get("/account")
    assert stale.status_code == 302 and stale.headers["Location"].startswith("/login")
    assert other.get("/api/v1/me").status_code == 401
    assert log_in(app.test_client(), user.email, NEW_PASSWORD).status_code == 302


def test_resetting_the_password_by_email_logs_out_every_other_session(app, client, user, mailbox, wait_for_jobs):
    other = app.test_client()
    assert log_in(other, user.email).status_code == 302
    assert client.post("/password/forgot", data={"email": user.email}).status_code == 302
    wait_for_jobs()
    link = mailbox.link_in(mailbox.wait_for(user.email)[0], "/password/reset/")
    assert client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert client.get("/account").status_code == 200
    assert other.get("/account").status_code == 302
    # and the link is single-use
    assert client.post("/logout").status_code == 302
    assert client.get(link).status_code == 400


# ---------------------------------------------------------------------------------------------- passwords


def test_passwords_are_stored_as_scrypt_hashes(app, client, user, wait_for_jobs):
    response = client.post(
        "/signup",
        data={"name": "Sam", "email": "sam@example.test", "password": NEW_PASSWORD, "org_name": "Sam Co", "org_slug": "sam-co"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    stored = db.session.scalar(select(User.password_hash).filter_by(email="sam@example.test"))
    assert stored.startswith("scrypt:") and NEW_PASSWORD not in stored
    wait_for_jobs()


# ---------------------------------------------------------------------------------------------- logs


def worker_log_from(offset: int) -> str:
    if not WORKER_LOG.exists():
        return ""
    with WORKER_LOG.open("rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def test_no_password_or_token_reaches_the_logs_during_signup_login_and_reset(app, client, mailbox, wait_for_jobs, caplog):
    caplog.set_level(logging.DEBUG)
    worker_offset = WORKER_LOG.stat().st_size if WORKER_LOG.exists() else 0
    email, first, second = "logs@example.test", "Violet-harbor-38-engine", "Copper-meadow-57-signal"

    signup = client.post("/signup", data={"name": "Lo", "email": email, "password": first, "org_name": "Logs", "org_slug": "logs-co"})
    assert signup.status_code == 302
    wait_for_jobs()
    verify_link = mailbox.link_in(mailbox.wait_for(email)[0], "/verify/")
    assert client.get(verify_link).status_code == 302
    client.post("/logout")
    assert log_in(client, email, "Wrong-password-0000").status_code == 401
    assert log_in(client, email, first).status_code == 302
    client.post("/logout")

    assert client.post("/password/forgot", data={"email": email}).status_code == 302
    wait_for_jobs()
    reset_link = mailbox.link_in(mailbox.wait_for(email, 2)[-1], "/password/reset/")
    reset = client.post(reset_link, data={"password": second, "confirm": second})
    assert reset.status_code == 302, reset.get_data(as_text=True)[:500]
    wait_for_jobs()

    secrets = {
        "signup password": first,
        "new password": second,
        "wrong password": "Wrong-password-0000",
        "verification token": verify_link.rsplit("/", 1)[1],
        "reset token": reset_link.rsplit("/", 1)[1],
    }
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records) + worker_log_from(worker_offset)
    found = [name for name, value in secrets.items() if value in logged]
    assert not found, f"these appear in the logs: {found}"
