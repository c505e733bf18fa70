"""/login?next=... follows only same-site paths, read the way a browser reads a Location header."""

from __future__ import annotations

import pytest

from tests.factories import OrgFactory, member

from .helpers import browser_target, is_off_site, log_in

OFF_SITE = [
    "https://evil.example/",
    "http://evil.example/o/x/",
    "//evil.example",
    "//evil.example/o/x/",
    "///evil.example",
    "/\\evil.example",  # browsers read "\" as "/": /\evil.example is //evil.example
    "\\\\evil.example",
    "/\t/evil.example",  # browsers drop tabs and newlines
    "/\n/evil.example",
    " //evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
]


@pytest.fixture
def user(app):
    return member(OrgFactory(slug="redir-org"), "user", email="redirect@example.test")


def test_the_browser_reading_helper_spots_the_tricks(app):
    """The judge of the tests below: what a browser does with each Location value."""
    assert browser_target("/\\evil.example") == "http://evil.example"
    assert browser_target("/\t/evil.example") == "http://evil.example"
    assert browser_target("/%5Cevil.example") == "http://localhost/%5Cevil.example"  # an escaped "\" stays a path
    assert all(is_off_site(url) for url in OFF_SITE)
    assert not is_off_site("/o/redir-org/members?page=2")


def test_login_never_redirects_off_site(app):
    """A real password login per target (scrypt is slow on purpose: the classic three; the next test tries them all)."""
    failures = []
    for n, target in enumerate(["https://evil.example/", "//evil.example", "/\\evil.example"]):
        user = member(OrgFactory(), "user")  # one account and address each: the login rate limits stay out of the way
        response = log_in(app.test_client(), user.email, next_url=target, ip=f"10.1.0.{n + 1}")
        location = response.headers.get("Location", "")
        if response.status_code != 302 or is_off_site(location):
            failures.append(f"next={target!r}: {response.status_code} to {location!r}, which a browser opens as {browser_target(location)}")
    assert not failures, "\n".join(failures)


def test_an_already_logged_in_visit_to_login_never_redirects_off_site(app, client, login_as, user):
    """The same _safe_next answers a visitor who is already logged in: every trick, without a password check each."""
    login_as(user)
    failures = []
    for target in OFF_SITE:
        response = client.get("/login", query_string={"next": target})
        location = response.headers.get("Location", "")
        if response.status_code != 302 or is_off_site(location):
            failures.append(f"next={target!r}: {response.status_code} to {location!r}, which a browser opens as {browser_target(location)}")
    assert not failures, "\n".join(failures)


def test_login_follows_a_same_site_next_path(app, client, user):
    response = log_in(client, user.email, next_url="/o/redir-org/members?page=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/o/redir-org/members?page=2"


def test_the_login_form_keeps_next_without_turning_it_into_markup(app, client):
    page = client.get("/login", query_string={"next": '/o/x/"><script>alert(1)</script>'}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
