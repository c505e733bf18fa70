""""Test this node" in Chromium: an admin types a sample into a node's form, clicks the button, and reads the node's
update under the form without the page reloading; at 390 px nothing widens the page."""

from __future__ import annotations

import json

import pytest

from portal.extensions import db
from portal.workflows import service

pytestmark = pytest.mark.browser


def test_testing_a_node_shows_its_result_without_a_reload(app, page, live_server, log_in, screenshot, org, admin):
    from playwright.sync_api import expect

    wf = service.create_from_starter(org, "triage", admin)
    db.session.commit()  # the live server reads it over its own connection
    log_in(page, admin.email)
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(live_server(f"/o/{org.slug}/workflows/{wf.public_id}"))
    node = page.locator("#node-escalate")
    node.get_by_label("Sample input and state (JSON)").fill(json.dumps({"input": {"score": 9}, "state": {}}))
    node.get_by_label("Set").fill("result: escalated at {{ input.score }}")  # typed, not saved: the test uses it
    page.evaluate("window.beforeTest = true")  # gone if the page reloaded
    node.get_by_role("button", name="Test this node").click()
    result = page.locator("#node-escalate-test-result")
    expect(result).to_contain_text("escalate ran in")
    expect(result).to_contain_text('"result": "escalated at 9"')
    assert page.evaluate("window.beforeTest") is True
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    result.scroll_into_view_if_needed()
    screenshot(page, "workflow-node-test-390")

    check = page.locator("#node-check")
    check.get_by_label("Sample input and state (JSON)").fill('{"input": {"score": 2}')  # a brace missing
    check.get_by_role("button", name="Test this node").click()
    alert = page.locator("#node-check-test-result [role=alert]")
    expect(alert).to_contain_text("Not JSON")
    assert page.evaluate("window.beforeTest") is True
    screenshot(page, "workflow-node-test-error-390")
    assert page.errors == []
