"""The nav's search finds a ticket by its short number: "#N" (or N alone) brings ticket number N of this org first
among the tickets, under the ticket page's own visibility rule, and never another org's ticket of that number."""

from __future__ import annotations

import re

from portal.extensions import db
from portal.support import service as support
from tests.factories import OrgFactory, member


def _results(client, org, q: str) -> str:
    page = client.get(f"/o/{org.slug}/search", query_string={"q": q})
    assert page.status_code == 200
    return page.get_data(as_text=True).split('id="search-results"')[1]


def _ticket_subjects(html: str) -> list[str]:
    tickets = html.split('id="search-tickets"')[1].split("</ul>")[0] if 'id="search-tickets"' in html else ""
    return re.findall(r'<a href="/o/[^"]+/tickets/[^"]+">([^<]+)</a>', tickets)


def test_a_user_searching_hash_number_gets_that_ticket_first(client, login_as, app):
    org = OrgFactory(name="Numbers Inc.")
    uma = member(org, "user", name="Uma")
    tickets = [support.create_ticket(org, uma, subject=f"Question {n} about ticket 1", body="Ticket 1 again.") for n in "ABC"]
    db.session.commit()
    second = tickets[1]
    login_as(uma)

    html = _results(client, org, f"#{second.number}")
    subjects = _ticket_subjects(html)
    assert subjects and subjects[0] == "Question B about ticket 1", subjects
    assert f"#{second.number} · Open" in html

    assert _ticket_subjects(_results(client, org, str(second.number)))[0] == "Question B about ticket 1"  # a bare number too
    # "#1": ticket 1 first, and the others whose words match ("ticket 1") after it, each once
    first = _ticket_subjects(_results(client, org, f"#{tickets[0].number}"))
    assert first[0] == "Question A about ticket 1" and first.count("Question A about ticket 1") == 1


def test_a_number_finds_only_a_ticket_the_member_may_see_and_only_in_this_org(client, login_as, app):
    org, other = OrgFactory(name="Mine"), OrgFactory(name="Theirs")
    uma, otto, admin = member(org, "user", name="Uma"), member(org, "user", name="Otto"), member(org, "org_admin", name="Ada")
    stranger = member(other, "org_admin", name="Stranger")
    ottos = support.create_ticket(org, otto, subject="Otto's private matter", body="Mine alone.")
    theirs = support.create_ticket(other, stranger, subject="Their secret merger", body="Shh.")
    db.session.commit()
    assert theirs.number == ottos.number  # each org counts its own tickets from 1

    login_as(uma)
    html = _results(client, org, f"#{ottos.number}")
    assert "Otto&#39;s private matter" not in html and "Their secret merger" not in html
    assert "Nothing in Mine matches" in html

    login_as(admin)  # an admin sees every ticket of the org, still none of another org's
    html = _results(client, org, f"#{ottos.number}")
    assert _ticket_subjects(html) == ["Otto&#39;s private matter"] and "Their secret merger" not in html
    assert "Nothing in Mine matches" in _results(client, org, "#999999999")
