"""The busiest pages send the same number of SQL statements with 3 rows or 30: no query per row (N+1).

Each test builds the page's data at 3 rows, counts the statements of one GET (after a warm-up GET), grows the
data to 30 rows and counts again. The statements are listed in the failure message, so a new N+1 names itself.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import utcnow
from portal.notifications import service as notifications
from portal.orgs import service as orgs
from portal.orgs.models import Invitation
from portal.support import service as support
from portal.themes import service as themes
from portal.workflows import service as workflows
from portal.workflows.definition import STARTERS
from tests.factories import OrgFactory, UserFactory, member, on_plan

SIZES = (3, 30)


# A list's total: counted only for a full page (a short one knows it from its rows), so 30 rows may add it to 3.
PAGE_COUNT = "SELECT count(*) AS count_1 FROM (SELECT"


def _same_at_both_sizes(counts: dict[int, list[str]], bound: int) -> None:
    """The statement count does not grow with the rows (but for a list's count), and stays under the page's budget."""
    small, large = ([s for s in counts[n] if not s.startswith(PAGE_COUNT)] for n in SIZES)
    everything = counts[SIZES[1]]
    listing = "\n".join(f"  {s[:200]}" for s in everything)
    assert len(large) == len(small), f"{len(small)} statements with {SIZES[0]} rows, {len(large)} with {SIZES[1]}:\n{listing}"
    assert len(everything) <= bound, f"{len(everything)} statements (budget {bound}):\n{listing}"


def _pending_invitation(org, email: str, by) -> None:
    # A row, not orgs.invite: the free plan's 10 seats would refuse the 11th, and the count is what is measured here.
    db.session.add(Invitation(org_id=org.id, email=email, role="user", invited_by_id=by.id, expires_at=utcnow() + timedelta(days=7)))


@pytest.fixture
def acme(app):
    org = OrgFactory(name="Acme", slug="acme")
    admin = member(org, "org_admin", email="ada@acme.test", name="Ada Admin")
    return org, admin


def test_org_dashboard_costs_the_same_with_30_members_orgs_runs_tickets_and_notifications(acme, login_as, count_get):
    org, admin = acme
    on_plan(org, "enterprise")  # room for 30 members and 30 runs at once
    counts, have = {}, 0
    for n in SIZES:
        for i in range(have, n):
            member(org, "user", name=f"Member {i}")
            other = OrgFactory(name=f"Neighbour {i:02d}")  # the org switcher lists every org the admin is in
            orgs.add_member(other, admin, "user")
            _pending_invitation(org, f"invitee{i}@example.test", admin)
            notifications.notify(org, [admin], "ticket.created", {"ticket_id": f"T{i}", "ticket_number": f"#{i}", "subject": f"Hello {i}", "priority": "low",
                                                                  "requester_name": "Carol"}, channels=["in_app"])
            wf = workflows.create_workflow(org, {**STARTERS["greeting"], "name": f"Workflow {i:02d}"}, admin)
            workflows.start_run(org, wf.public_id, {"name": f"run {i}"}, by=admin)
            support.create_ticket(org, admin, subject=f"Question {i:02d}", body="How?")
        have = n
        login_as(admin)
        page, counts[n] = count_get("/o/acme/")
        assert page.status_code == 200
        assert f"Neighbour {n - 1:02d}" in page.text  # in the org switcher
    # The home page gathers a section per domain (a query or two each, whatever their rows); the billing account is
    # read once per request (it was read 8 times: 24 statements, then 17); the nav's org switcher comes with the org
    # itself, the badge takes the unread count the page counted, and members, invitations and seats are one count (13).
    _same_at_both_sizes(counts, bound=13)


def test_members_page_costs_the_same_with_30_members(acme, login_as, count_get):
    org, admin = acme
    counts, have = {}, 1
    for n in SIZES:
        for i in range(have, n):
            member(org, ("user", "billing_admin")[i % 2], name=f"Member {i:02d}", email=f"member{i:02d}@acme.test")
            _pending_invitation(org, f"invitee{i:02d}@example.test", admin)
        have = n
        login_as(admin)
        page, counts[n] = count_get("/o/acme/members")
        assert page.status_code == 200
        assert page.text.count('<tr id="row-') == min(n, 25)
        assert "member01@acme.test" in page.text and f"invitee{n - 1:02d}@example.test" in page.text
    _same_at_both_sizes(counts, bound=7)


def test_workflows_list_costs_the_same_with_30_workflows_and_their_runs(acme, login_as, count_get):
    org, admin = acme
    on_plan(org, "enterprise")  # room for 30 runs at once (the free plan runs one)
    counts, have = {}, 0
    for n in SIZES:
        for i in range(have, n):
            wf = workflows.create_workflow(org, {**STARTERS["greeting"], "name": f"Workflow {i:02d}"}, admin)
            workflows.start_run(org, wf.public_id, {"name": f"run {i}"}, by=admin)
        have = n
        login_as(admin)
        page, counts[n] = count_get("/o/acme/workflows")
        assert page.status_code == 200
        assert "Workflow 00" in page.text and f"Workflow {n - 1:02d}" in page.text
        assert page.text.count("<small class=\"muted\">v1</small>") == min(n, 20)  # the recent runs, with their version
    _same_at_both_sizes(counts, bound=6)


def test_agent_queue_costs_the_same_with_30_tickets_from_30_orgs_and_agents(app, login_as, count_get):
    agent = UserFactory(email="agent@vetrai.test", name="Agnes Agent", platform_role="support_agent")
    counts, have = {}, 0
    for n in SIZES:
        for i in range(have, n):
            org = OrgFactory(name=f"Customer org {i:02d}")
            requester = member(org, "user")
            ticket = support.create_ticket(org, requester, subject=f"Printer {i:02d} is on fire", body="Smoke.")
            colleague = UserFactory(name=f"Agent {i:02d}", platform_role="support_agent")
            support.assign(ticket, colleague.public_id, agent)
        have = n
        login_as(agent)
        page, counts[n] = count_get("/support/queue")
        assert page.status_code == 200
        assert page.text.count("<tr data-ticket=") == min(n, 25)
        assert f"Customer org {n - 1:02d}" in page.text and f"Agent {n - 1:02d}" in page.text
    _same_at_both_sizes(counts, bound=8)


def test_customer_ticket_list_costs_the_same_with_30_tickets_from_30_requesters(acme, login_as, count_get):
    org, admin = acme  # an org_admin sees every ticket of the org
    counts, have = {}, 0
    for n in SIZES:
        for i in range(have, n):
            support.create_ticket(org, member(org, "user", name=f"Requester {i}"), subject=f"Question {i:02d}", body="How?")
        have = n
        login_as(admin)
        page, counts[n] = count_get("/o/acme/tickets")
        assert page.status_code == 200
        assert page.text.count("<tr data-ticket=") == min(n, 25)
    _same_at_both_sizes(counts, bound=9)


def test_published_theme_costs_a_page_no_query_and_a_publish_is_seen_on_the_next_page(acme, login_as, count_get):
    org, admin = acme
    plain = OrgFactory(name="Plain", slug="plain")
    orgs.add_member(plain, admin, "org_admin")
    themes.update_draft(org, {"primary": "#1d6b3a"}, custom_css=".brand { letter-spacing: 1px; }", by=admin)
    themes.publish(org, by=admin)
    login_as(admin)
    themed, themed_sql = count_get("/o/acme/")  # count_get warms up first: this is a page after the first
    unthemed, plain_sql = count_get("/o/plain/")
    link = re.search(r'href="([^"]*theme\.css\?v=[^"]+)"', themed.text).group(1)
    assert "theme.css" not in unthemed.text
    assert len(themed_sql) == len(plain_sql), "\n".join(themed_sql)
    # Compiled once, and which version is published is known from the org row the page loads anyway: no query.
    assert not [s for s in themed_sql if "theme" in s], "\n".join(themed_sql)
    # A new publish is a new version, seen on the next page.
    themes.update_draft(org, {"primary": "#9f1239"}, by=admin)
    themes.publish(org, by=admin)
    again, _ = count_get("/o/acme/")
    assert "theme.css?v=" in again.text and link not in again.text


def test_ticket_list_api_costs_the_same_with_30_tickets_from_30_requesters(acme, login_as, count_get):
    org, admin = acme
    counts, have = {}, 0
    for n in SIZES:
        for i in range(have, n):
            support.create_ticket(org, member(org, "user", name=f"Requester {i:02d}"), subject=f"Question {i:02d}", body="How?")
        have = n
        login_as(admin)
        answer, counts[n] = count_get("/api/v1/tickets?org=acme&per_page=50")
        assert answer.status_code == 200, answer.text
        tickets = answer.get_json()["data"]
        assert len(tickets) == n and all(t["requester_id"] for t in tickets)  # each with its requester (one read for all)
    _same_at_both_sizes(counts, bound=6)
