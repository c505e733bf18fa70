"""An organization's own login, forgot-password and invitation pages wear its published theme (Keycloak's
per-realm login), log its members into it, and give nothing away to anyone else."""

from __future__ import annotations

import re

from portal.orgs import service as orgs
from portal.themes import service
from tests.factories import PASSWORD, MembershipFactory, member


def _publish(studio, **values):
    service.update_draft(studio.org, values, by=studio.admin)
    return service.publish(studio.org, by=studio.admin)


def _stylesheet(html: str) -> str | None:
    found = re.search(r'<link rel="stylesheet" href="([^"]+)" id="theme-css">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_org_login_page_shows_its_name_and_published_colours_to_a_visitor(studio, client):
    _publish(studio, primary="#aa0000")
    page = client.get("/o/acme/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Log in to Acme" in html
    link = _stylesheet(html)
    assert link == client.get("/api/v1/themes/acme").json["css_url"]
    css = client.get(link)  # public: the visitor is not signed in
    assert css.status_code == 200 and "--portal-primary: #aa0000" in css.get_data(as_text=True)


def test_the_platform_login_page_keeps_the_platform_look(studio, client):
    _publish(studio, primary="#aa0000")
    html = client.get("/login").get_data(as_text=True)
    assert _stylesheet(html) is None and "Log in to" not in html


def test_an_unknown_org_login_page_is_404(client, app):
    assert client.get("/o/nowhere/login").status_code == 404


def test_a_member_logging_in_on_the_org_page_lands_on_its_dashboard(studio, client):
    user = member(studio.org, "user", email="both@acme.test")
    MembershipFactory(org=studio.other_org, role="user", user=user)  # "/" alone would pick Acme, the first by name
    response = client.post("/o/bravo/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/o/bravo/"


def test_someone_from_another_org_logging_in_there_goes_home_not_inside(studio, client):
    response = client.post("/o/acme/login", data={"email": studio.other_admin.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/o/acme/").status_code == 404


def test_a_wrong_password_on_the_org_page_answers_401_on_the_themed_page(studio, client):
    _publish(studio, primary="#aa0000")
    page = client.post("/o/acme/login", data={"email": studio.member.email, "password": "nope-nope-nope"})
    html = page.get_data(as_text=True)
    assert page.status_code == 401 and "Email or password is wrong." in html and _stylesheet(html)


def test_forgot_password_from_the_org_page_keeps_the_theme_and_returns_there(studio, client):
    _publish(studio, primary="#aa0000")
    login = client.get("/o/acme/login").get_data(as_text=True)
    assert 'href="/password/forgot?org=acme"' in login
    forgot = client.get("/password/forgot?org=acme").get_data(as_text=True)
    assert _stylesheet(forgot) and "Back to log in" in forgot
    sent = client.post("/password/forgot?org=acme", data={"email": studio.member.email})
    assert sent.status_code == 302 and sent.headers["Location"] == "/o/acme/login"


def test_the_invitation_page_wears_the_inviting_orgs_theme(studio, client):
    _publish(studio, primary="#aa0000")
    invitation = orgs.invite(studio.org, "newcomer@example.test", "user", by=studio.admin)
    html = client.get(f"/invite/{orgs.invitation_token(invitation)}").get_data(as_text=True)
    assert _stylesheet(html) == client.get("/api/v1/themes/acme").json["css_url"]


def test_a_suspended_orgs_login_page_is_404(studio, client):
    studio.org.is_suspended = True
    assert client.get("/o/acme/login").status_code == 404
