"""A new organization's address is filled in from its name as it is typed, until the person edits the address."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def test_signup_fills_the_address_from_the_name_until_the_address_is_edited(page, live_server, screenshot):
    page.goto(live_server("/signup"))
    form = page.locator("#signup-form")
    name, address = form.get_by_label("Organization name"), form.get_by_label("Organization address")
    name.press_sequentially("Happy Paws Clinic")
    expect(address).to_have_value("happy-paws-clinic")
    name.fill("Café Zoë & Co.")
    expect(address).to_have_value("cafe-zoe-co")
    address.fill("zoe")
    name.fill("Something else")
    expect(address).to_have_value("zoe")  # the person's own choice stays
    screenshot(page, "signup-address-from-name")


def test_a_new_organization_gets_its_address_from_its_name_and_is_created(page, live_server, log_in):
    UserFactory(email="nora@example.test", name="Nora New")
    log_in(page, "nora@example.test")
    page.goto(live_server("/orgs/new"))
    page.get_by_label("Organization name").press_sequentially("Kennel Club North")
    expect(page.get_by_label("Address")).to_have_value("kennel-club-north")
    page.get_by_role("button", name="Create organization").click()
    expect(page).to_have_url(live_server("/o/kennel-club-north/"))
    expect(page.get_by_text("Kennel Club North is ready.")).to_be_visible()
