"""A member's colour scheme: System (the default, follows the device), Light or Dark, chosen in the profile,
kept in the database and rendered as <html data-theme> on every page; anonymous pages follow the device."""

from __future__ import annotations

import re

from portal.accounts.models import User
from portal.extensions import db
from tests.factories import OrgFactory, UserFactory, member


def html_tag(html: str) -> str:
    return re.search(r"<html[^>]*>", html).group(0)


def save(client, scheme: str, name: str = "Ada", timezone: str = "UTC"):
    return client.post("/account", data={"name": name, "timezone": timezone, "color_scheme": scheme})


def test_a_new_member_follows_the_device_so_pages_carry_no_data_theme(client, login_as):
    org = OrgFactory(slug="acme")
    user = member(org, "user")
    assert user.color_scheme == "system"
    login_as(user)
    profile = client.get("/account").get_data(as_text=True)
    assert html_tag(profile) == '<html lang="en">'
    assert re.search(r'<option selected value="system">System \(follow this device\)</option>', profile)
    assert "data-theme" not in html_tag(client.get("/o/acme/").get_data(as_text=True))


def test_choosing_dark_persists_and_every_page_renders_data_theme_dark(client, login_as):
    org = OrgFactory(slug="acme")
    user = member(org, "user", name="Ada")
    login_as(user)
    response = save(client, "dark")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).color_scheme == "dark"
    assert html_tag(client.get("/o/acme/").get_data(as_text=True)) == '<html lang="en" data-theme="dark">'
    profile = client.get("/account").get_data(as_text=True)
    assert re.search(r'<option selected value="dark">Dark</option>', profile)

    save(client, "light")
    assert html_tag(client.get("/o/acme/").get_data(as_text=True)) == '<html lang="en" data-theme="light">'
    save(client, "system")
    assert html_tag(client.get("/o/acme/").get_data(as_text=True)) == '<html lang="en">'


def test_an_unknown_scheme_is_named_next_to_the_field_and_nothing_changes(client, login_as):
    user = UserFactory(name="Ada")
    login_as(user)
    response = save(client, "sepia", name="Ada Lovelace")
    assert response.status_code == 422
    assert 'id="color_scheme-error"' in response.text and "Pick System, Light or Dark." in response.text
    db.session.expire_all()
    saved = db.session.get(User, user.id)
    assert (saved.color_scheme, saved.name) == ("system", "Ada")


def test_a_profile_post_without_the_field_keeps_the_scheme(client, login_as):
    user = UserFactory(name="Ada")
    login_as(user)
    save(client, "dark")
    assert client.post("/account", data={"name": "Ada L", "timezone": "Europe/Rome"}).status_code == 302
    db.session.expire_all()
    saved = db.session.get(User, user.id)
    assert (saved.color_scheme, saved.name, saved.timezone) == ("dark", "Ada L", "Europe/Rome")


def test_a_dark_members_choice_does_not_reach_anonymous_pages(client, login_as):
    user = UserFactory()
    login_as(user)
    save(client, "dark")
    client.post("/logout")
    assert html_tag(client.get("/login").get_data(as_text=True)) == '<html lang="en">'
