"""Approval end to end in Chromium: an admin starts the expense starter from the portal, the run page's
live progress stops at the approval node (lit on the diagram), a member approves it, and the output shows."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_approval_end_to_end_in_the_browser(app, page, live_server, log_in, screenshot, org, admin, user):
    from playwright.sync_api import expect

    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/workflows"))
    page.get_by_role("button", name="Use “Expense approval”").click()
    expect(page.get_by_role("heading", name="Expense approval")).to_be_visible()
    screenshot(page, "workflow-editor")
    page.get_by_label("Amount").fill("120")
    page.get_by_label("Reason").fill("team lunch")
    page.get_by_role("button", name="Run with this input").click()
    expect(page.locator("#run-status")).to_have_text("waiting for approval", timeout=20_000)
    expect(page.locator('g[data-node="approve"].current-node')).to_have_count(1)
    screenshot(page, "workflow-run-waiting")
    run_url = page.url

    page.context.clear_cookies()
    log_in(page, user.email)
    page.goto(run_url)
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=20_000)
    expect(page.locator("#run-output")).to_contain_text('"outcome": "paid"')
    expect(page.locator("#run-output")).to_contain_text(user.email)
    screenshot(page, "workflow-run-approved")
    assert page.errors == []
