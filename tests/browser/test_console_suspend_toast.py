"""In the platform console, suspending an org asks first, then swaps its row and says what happened in a toast."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.factories import OrgFactory, UserFactory


def test_suspend_from_the_console_swaps_the_row_and_toasts(page, live_server, log_in, screenshot):
    org = OrgFactory(name="Acme", slug="acme")
    root = UserFactory(platform_role="super_admin", email="root@console.test")
    log_in(page, root.email)
    page.goto(live_server("/admin/orgs"))
    row = page.locator(f"#org-{org.public_id}")
    expect(row.locator("time")).to_have_text("just now")
    row.get_by_role("button", name="Suspend").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Suspend").click()
    expect(page.locator("#toasts")).to_contain_text("Acme suspended.")
    expect(row).to_contain_text("Suspended")
    screenshot(page, "admin-suspend-toast")
    row.get_by_role("button", name="Restore").click()  # no confirm: restoring gives access back
    expect(page.locator("#toasts")).to_contain_text("Acme restored.")
    expect(row.get_by_role("button", name="Suspend")).to_be_visible()
    assert page.errors == []
