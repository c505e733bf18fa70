"""Chromium: a super admin allows an org custom JavaScript from the console (asked first), its admin writes a script
in the theme editor and publishes it; it runs on a member's page, with no CSP violation, and does not run when a
support agent who belongs to the same org opens the same page, nor on the editor that fixes it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import OrgFactory, UserFactory, member

pytestmark = pytest.mark.browser

SCRIPT = 'window.__themeRan = true; document.querySelector("main h1")?.insertAdjacentText("beforeend", " · scripted");'


def test_a_published_script_runs_for_members_and_never_for_a_support_agent(page, new_context, live_server, log_in, screenshot):
    org = OrgFactory(name="Acme", slug="acme")
    member(org, "org_admin", email="ada@acme.test")
    member(org, "user", email="uma@acme.test")
    member(org, "user", email="agent@platform.test", platform_role="support_agent")
    UserFactory(platform_role="super_admin", email="root@platform.test")

    log_in(page, "root@platform.test")
    page.goto(live_server("/admin/orgs"))
    row = page.locator(f"#org-{org.public_id}")
    row.get_by_role("button", name="Allow custom JavaScript").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("Allow custom JavaScript for Acme?")
    dialog.get_by_role("button", name="Allow custom JavaScript").click()
    expect(page.locator("#toasts")).to_contain_text("Custom JavaScript allowed for Acme.")
    expect(row).to_contain_text("Allowed")
    screenshot(page, "themes-js-01-console-switch")

    admin = new_context().new_page()
    log_in(admin, "ada@acme.test")
    admin.goto(live_server("/o/acme/settings/theme"))
    admin.get_by_label("Custom JavaScript").fill(SCRIPT)
    admin.locator("#save-draft").click()
    expect(admin.get_by_text("Draft saved.")).to_be_visible()
    admin.locator("#publish").click()
    expect(admin.get_by_text("Published: members see the new theme")).to_be_visible()
    # The editor (reloaded after the publish) never runs the script: a broken one cannot lock out its fix.
    expect(admin.locator("script#theme-js")).to_have_count(0)
    assert admin.evaluate("window.__themeRan") is None
    screenshot(admin, "themes-js-02-editor")

    reader = new_context().new_page()
    reader.errors = []
    reader.on("console", lambda msg: reader.errors.append(msg.text) if msg.type == "error" else None)
    log_in(reader, "uma@acme.test")
    reader.goto(live_server("/o/acme/"))
    expect(reader.locator("script#theme-js")).to_have_count(1)
    reader.wait_for_function("window.__themeRan === true")
    expect(reader.locator("main h1")).to_contain_text("scripted")
    assert reader.errors == []  # loaded under script-src 'self' with its nonce: no CSP violation
    screenshot(reader, "themes-js-03-member-scripted")

    agent = new_context().new_page()
    log_in(agent, "agent@platform.test")
    agent.goto(live_server("/o/acme/"))
    agent.wait_for_load_state("load")
    expect(agent.locator("#theme-css")).to_have_count(1)  # the org's look, without its code
    expect(agent.locator("script#theme-js")).to_have_count(0)
    assert agent.evaluate("window.__themeRan") is None
    expect(agent.locator("main h1")).not_to_contain_text("scripted")
    screenshot(agent, "themes-js-04-agent-unscripted")
