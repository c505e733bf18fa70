"""The path a new customer walks: sign up, verify, invite a colleague, who joins; then re-role them in place."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import OrgFactory, member

pytestmark = pytest.mark.browser

MARKER = "window.__noReload"


def set_marker(page) -> None:
    """A value on window that only survives while no full page load happens."""
    page.evaluate(f"{MARKER} = 'still here'")


def marker(page):
    return page.evaluate(f"{MARKER} || null")


def test_signup_verify_invite_accept_and_change_role(page, new_context, live_server, mailbox, screenshot):
    # Sign up: a user and their organization.
    page.goto(live_server("/signup"))
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    form = page.locator("#signup-form")
    form.get_by_label("Your name").fill("Olga Owner")
    form.get_by_label("Email", exact=True).fill("olga@example.test")
    form.get_by_label("Password", exact=True).fill("plum-tractor-sunrise-42")
    form.get_by_label("Organization name").fill("Kennel Club")
    form.get_by_label("Organization address").fill("kennel-club")
    screenshot(page, "01-signup-filled")
    form.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(live_server("/o/kennel-club/"))
    expect(page.get_by_role("heading", name="Kennel Club")).to_be_visible()
    banner = page.get_by_text("Please verify your email address")
    expect(banner).to_be_visible()
    expect(page.get_by_text("We sent a verification link to olga@example.test")).to_be_visible()
    screenshot(page, "02-dashboard-unverified")

    # The verification email arrives through the real SMTP server; its link verifies the address.
    (verify_msg,) = mailbox.wait_for("olga@example.test")
    page.goto(live_server(mailbox.link_in(verify_msg, "/verify/")))
    expect(page.get_by_text("Your email address is verified.")).to_be_visible()
    expect(banner).to_have_count(0)

    # Invite a colleague through the HTMX form: the panel swaps, the page does not reload.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    expect(page).to_have_url(live_server("/o/kennel-club/members"))
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    set_marker(page)
    invite = page.locator("#invite-form")
    invite.get_by_label("Email").fill("vera@example.test")
    invite.get_by_label("Role").select_option(label="User")
    with page.expect_response(lambda r: r.url.endswith("/invitations") and r.request.method == "POST") as sent:
        invite.get_by_role("button", name="Send invitation").click()
    assert sent.value.status == 200
    panel = page.locator("#invite-panel")
    expect(panel.get_by_role("status")).to_have_text("Invitation sent to vera@example.test.")
    expect(panel.get_by_role("listitem").filter(has_text="vera@example.test")).to_be_visible()
    expect(page.locator("#invite-form").get_by_label("Email")).to_have_value("")
    assert marker(page) == "still here", "the invitation reloaded the page"
    screenshot(page, "03-members-invited")

    # The invitee opens the emailed link in their own browser and creates their account.
    (invite_msg,) = mailbox.wait_for("vera@example.test")
    accept_path = mailbox.link_in(invite_msg, "/invite/")
    invitee = new_context().new_page()
    invitee.goto(live_server(accept_path))
    expect(invitee.get_by_role("heading", name="Join Kennel Club")).to_be_visible()
    screenshot(invitee, "04-accept-invitation")
    invitee.get_by_label("Your name").fill("Vera Vet")
    invitee.get_by_label("Password", exact=True).fill("lantern-otter-harbor-19")
    invitee.get_by_role("button", name="Accept invitation").click()
    expect(invitee).to_have_url(live_server("/o/kennel-club/"))
    expect(invitee.get_by_text("Welcome to Kennel Club.")).to_be_visible()
    expect(invitee.get_by_text("Your role: User")).to_be_visible()
    expect(invitee.get_by_text("Please verify your email address")).to_have_count(0)
    screenshot(invitee, "05-invitee-dashboard")

    # The owner re-roles the new member from the members table: only the row is swapped.
    page.reload()
    row = page.locator("#members-table tbody tr").filter(has_text="vera@example.test")
    expect(row).to_contain_text("Vera Vet")
    set_marker(page)
    role_select = row.get_by_label("Role of vera@example.test")
    expect(role_select).to_have_value("user")
    with page.expect_response(re.compile(r"/members/mem_[^/]+/role$")) as changed:
        role_select.select_option("billing_admin")
    assert changed.value.status == 200
    expect(row.get_by_label("Role of vera@example.test")).to_have_value("billing_admin")
    assert marker(page) == "still here", "changing a role reloaded the page"
    screenshot(page, "06-members-role-changed")

    page.reload()
    expect(page.locator("#members-table").get_by_label("Role of vera@example.test")).to_have_value("billing_admin")
    assert page.errors == []


@pytest.fixture
def admin_of_org(app):
    org = OrgFactory(name="Hoof & Paw", slug="hoof-paw")
    return org, member(org, "org_admin", name="Hana Admin")


def test_invite_form_shows_errors_in_place(page, live_server, log_in, admin_of_org):
    org, admin = admin_of_org
    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/members"))
    set_marker(page)
    invite = page.locator("#invite-form")
    invite.get_by_label("Email").fill("not-an-address")
    with page.expect_response(re.compile(r"/invitations$")) as answer:
        invite.get_by_role("button", name="Send invitation").click()
    assert answer.value.status == 422
    email = page.locator("#invite-form").get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_value("not-an-address")
    expect(page.locator("#invite-form .field-error")).to_be_visible()

    # Inviting someone who is already a member is refused next to the field too.
    email.fill(admin.email)
    page.locator("#invite-form").get_by_role("button", name="Send invitation").click()
    expect(page.locator("#invite-form .field-error")).to_have_text(f"{admin.email} is already a member.")
    assert marker(page) == "still here"
    assert page.errors == []

    # CSRF is on: the same POST without the token that htmx sends from <body hx-headers> is refused.
    refused = page.request.post(live_server(f"/o/{org.slug}/invitations"), form={"email": "x@example.test", "role": "user"})
    assert refused.status == 400


def test_invitation_notice_does_not_come_back_on_the_next_page(page, live_server, log_in, admin_of_org):
    org, admin = admin_of_org
    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/members"))
    invite = page.locator("#invite-form")
    invite.get_by_label("Email").fill("newbie@example.test")
    invite.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#invite-panel").get_by_role("status")).to_have_text("Invitation sent to newbie@example.test.")
    page.reload()
    expect(page.locator("#invite-panel")).to_contain_text("newbie@example.test")
    expect(page.locator("#flashes")).to_be_empty(timeout=1000)
