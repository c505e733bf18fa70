"""The org's audit log in Chromium: sentences people read, ids behind Details with a working copy button,
and no sideways scrolling on a 390 px phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.keys import service as keys
from portal.orgs import service as orgs
from tests.factories import OrgFactory, member

pytestmark = pytest.mark.browser


@pytest.fixture
def logged_org(app):
    """Acme Vets with a few real changes recorded: a key made for a member, changed, and a member promoted."""
    org = OrgFactory(name="Acme Vets", slug="acme-vets")
    dana = member(org, "org_admin", email="dana@acme.test", name="Dana Admin")
    uma = member(org, "user", email="uma@acme.test", name="Uma User")
    by_dana = orgs.membership_of(org, dana)
    key, _ = keys.create_key(org, by_dana, name="Deploy bot", scopes=["read"], owner=uma.public_id)
    keys.update_key(org, by_dana, key.public_id, {"scopes": ["read", "write"]})
    orgs.invite(org, "new.vet@acme.test", "billing_admin", by=dana)
    orgs.change_role(org, orgs.membership_of(org, uma).public_id, "org_admin", by=dana)
    db.session.commit()
    return org, dana, key


def test_the_org_audit_log_reads_as_sentences_and_fits_a_phone(new_context, live_server, log_in, logged_org, screenshot):
    org, dana, key = logged_org
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, dana.email)
    page.goto(live_server(f"/o/{org.slug}/audit"))
    table = page.locator("#audit-table")
    expect(table).to_contain_text("Dana Admin created the API key \u201cDeploy bot\u201d (read) for Uma User")
    expect(table).to_contain_text("Dana Admin changed the API key \u201cDeploy bot\u201d: scopes from read to read, write")
    expect(table).to_contain_text("Dana Admin changed Uma User's role from User to Org admin")
    expect(page.get_by_role("combobox", name="Action")).to_contain_text("API key created")
    screenshot(page, "audit-org-log-1280")

    # The ids wait behind Details; "Copy id" puts the key's id on the clipboard.
    row = page.locator("#audit-table tbody tr", has_text="created the API key")
    row.locator("summary").click()
    button = row.get_by_role("button", name=f"Copy the key id {key.public_id}")
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == key.public_id

    # Filtering by an action's words swaps the table in place.
    page.get_by_role("combobox", name="Action").select_option(label="Member's role changed")
    expect(page.locator("#audit-table tbody tr")).to_have_count(1)
    expect(table).to_contain_text("changed Uma User's role")

    page.get_by_role("combobox", name="Action").select_option(label="All actions")
    expect(page.locator("#audit-table tbody tr")).to_have_count(4)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(table).to_contain_text("Uma User")
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways at 390 px: {widths}"
    # The sentences wrap inside the table: it needs no sideways scrolling of its own either.
    table_widths = page.evaluate("(el => [el.scrollWidth, el.clientWidth])(document.getElementById('audit-table'))")
    assert table_widths[0] <= table_widths[1], f"the table scrolls sideways at 390 px: {table_widths}"
    page.locator("#audit-table tbody tr", has_text="created the API key").locator("summary").click()
    screenshot(page, "audit-org-log-390")
    assert not errors, errors


def test_the_consoles_log_names_each_organization_and_links_to_it(page, live_server, log_in, logged_org, screenshot):
    org, _dana, _key = logged_org
    root = member(OrgFactory(name="Platform HQ"), "user", email="root@vetrai.test", name="Root Admin", platform_role="super_admin")
    log_in(page, root.email)
    page.goto(live_server("/admin/audit"))
    cell = page.locator("#audit-table tbody tr", has_text="created the API key").locator("td").last
    expect(cell).to_have_text("Acme Vets")
    screenshot(page, "audit-console-log-1280")
    cell.get_by_role("link", name="Acme Vets").click()
    expect(page.locator("#admin-table")).to_contain_text("acme-vets")
    assert not page.errors, page.errors
