"""The agents' queue filters by organization through a list of organization names, not a slug typed by hand."""

from __future__ import annotations

from portal.support import service
from tests.factories import OrgFactory
from tests.security.helpers import tags


def _org_select(html: str) -> tuple[list[dict], str]:
    """The options of the queue's organization filter ({value, selected}) and the select's HTML."""
    start = html.index('<select name="org"')
    block = html[start: html.index("</select>", start)]
    return [{"value": o.get("value"), "selected": "selected" in o} for o in tags(block, "option")], block


def test_the_organization_filter_lists_org_names_and_filters_by_them(desk, client, login_as):
    acme_ticket = service.create_ticket(desk.org, desk.customer, subject="Printer on fire", body="Help", priority="high", category="bug")
    bravo_ticket = service.create_ticket(desk.other_org, desk.outsider, subject="Invoice twice", body="Help", priority="low", category="billing")
    OrgFactory(name="Zulu Vets", slug="zulu-vets")
    login_as(desk.agent)

    page = client.get("/support/queue").text
    options, block = _org_select(page)
    assert "Acme" in block and "Bravo" in block and "Zulu Vets" in block  # names people read
    assert 'placeholder="Organization slug"' not in page
    assert [o["value"] for o in options][:4] == ["", "acme", "bravo", "zulu-vets"]  # "All", then by name
    # Choosing "Bravo" sends its slug, as the old links did: only Bravo's ticket is listed and Bravo stays chosen.
    chosen = client.get("/support/queue?org=bravo").text
    assert bravo_ticket.public_id in chosen and acme_ticket.public_id not in chosen
    assert [o["value"] for o in _org_select(chosen)[0] if o["selected"]] == ["bravo"]


def test_an_old_link_with_an_unknown_slug_lists_nothing_and_says_so(desk, client, login_as):
    service.create_ticket(desk.org, desk.customer, subject="Printer on fire", body="Help", priority="high", category="bug")
    login_as(desk.agent)
    page = client.get("/support/queue?org=gone-away").text
    options, block = _org_select(page)
    assert "Printer on fire" not in page
    assert [o["value"] for o in options if o["selected"]] == ["gone-away"] and "Unknown organization (gone-away)" in block
