"""Shared feedback pieces: a toast after an in-place change, and the confirm modal that Esc closes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import OrgFactory, member

pytestmark = pytest.mark.browser


def test_role_change_shows_toast_and_remove_asks_in_modal_that_esc_closes(page, live_server, log_in, screenshot):
    org = OrgFactory(name="Toast Farm", slug="toast-farm")
    admin = member(org, "org_admin", name="Ada Admin", email="ada@toast.test")
    member(org, "user", name="Bo Member", email="bo@toast.test")
    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/members"))

    page.get_by_role("combobox", name="Role of bo@toast.test").select_option("billing_admin")
    expect(page.locator("#toasts")).to_contain_text("Bo Member is now")
    screenshot(page, "D-toast-role-change")

    page.get_by_role("row", name="bo@toast.test").get_by_role("button", name="Remove").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Remove bo@toast.test from Toast Farm?")
    screenshot(page, "D-confirm-remove")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("row", name="bo@toast.test")).to_be_visible()
    expect(page.get_by_role("row", name="bo@toast.test").get_by_role("button", name="Remove")).to_be_focused()
