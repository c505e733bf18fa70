"""Bad input on the sign-up form: errors appear next to the fields and what was typed stays."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def test_signup_shows_inline_errors_and_keeps_typed_values(page, live_server, app, screenshot):
    UserFactory(email="taken@example.test", name="Already Here")
    page.goto(live_server("/signup"))
    form = page.locator("#signup-form")
    form.get_by_label("Your name").fill("Tess Typo")
    form.get_by_label("Email", exact=True).fill("Taken@Example.test")
    form.get_by_label("Password", exact=True).fill("password1")
    form.get_by_label("Organization name").fill("Typo Farm")
    form.get_by_label("Organization address").fill("Typo Farm!")
    with page.expect_response(live_server("/signup")) as answer:
        form.get_by_role("button", name="Create account").click()
    assert answer.value.status == 422

    # Each problem sits next to its field, which is marked invalid and points at its message.
    email = form.get_by_label("Email", exact=True)
    password = form.get_by_label("Password", exact=True)
    slug = form.get_by_label("Organization address")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description("An account with this email already exists. Log in or reset your password.")
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description("Use at least 10 characters.")
    expect(slug).to_have_attribute("aria-invalid", "true")
    expect(slug).to_have_accessible_description(
        "Use 3 to 40 lowercase letters, digits and dashes, starting and ending with a letter or digit."
    )
    expect(form.get_by_label("Your name")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_have_count(3)

    # What the person typed is still there, except the password, which is never sent back.
    expect(form.get_by_label("Your name")).to_have_value("Tess Typo")
    expect(email).to_have_value("Taken@Example.test")
    expect(password).to_have_value("")
    expect(form.get_by_label("Organization name")).to_have_value("Typo Farm")
    expect(slug).to_have_value("Typo Farm!")
    screenshot(page, "08-signup-errors")

    # A long but guessable password gets the strength message; fixed fields lose their errors.
    email.fill("tess@example.test")
    password.fill("passwordpassword")
    slug.fill("typo-farm")
    form.get_by_role("button", name="Create account").click()
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#password-error")).to_contain_text("too common or too easy to guess")
    expect(email).not_to_have_attribute("aria-invalid", "true")
    expect(slug).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_have_count(1)
    expect(page).to_have_url(live_server("/signup"))
    assert page.errors == []
