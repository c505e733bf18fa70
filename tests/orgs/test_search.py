"""The nav's search finds the current org's tickets, workflows, runs, members and keys, each by the visibility
rule of its own page (a user finds only their own tickets and keys), and never another org's."""

from __future__ import annotations

from portal.extensions import db
from portal.keys import service as keys
from portal.orgs import service as orgs
from portal.support import service as support
from portal.workflows import service as workflows
from portal.workflows.definition import STARTERS
from portal.workflows.models import WorkflowRun
from tests.factories import OrgFactory, member


def _results(client, org, q: str, **headers) -> str:
    page = client.get(f"/o/{org.slug}/search", query_string={"q": q}, headers=headers)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_blank_search_says_what_it_finds(client, login_as, app):
    org = OrgFactory(name="Acme")
    login_as(member(org, "user"))
    html = _results(client, org, "  ")
    assert "Find tickets, workflows, runs, members and API keys in Acme." in html


def test_a_user_finds_their_tickets_workflows_and_keys_but_not_others_tickets(client, login_as, app):
    org = OrgFactory()
    uma, otto = member(org, "user", name="Uma"), member(org, "user", name="Otto")
    support.create_ticket(org, uma, subject="Invoice question from Uma", body="About the invoice.")
    support.create_ticket(org, otto, subject="Invoice dispute from Otto", body="About the invoice.")
    keys.create_key(org, orgs.membership_of(org, uma), name="Invoice sync", scopes=["read"])
    workflows.create_workflow(org, {**STARTERS["greeting"], "name": "Invoice reminder"}, by=uma)
    db.session.commit()
    login_as(uma)
    html = _results(client, org, "invoice")
    assert "Invoice question from Uma" in html and "Invoice dispute from Otto" not in html
    assert "Invoice sync" in html
    assert "Invoice reminder" in html


def test_an_admin_finds_every_ticket_and_members_by_name_or_email(client, login_as, app):
    org = OrgFactory()
    admin, otto = member(org, "org_admin"), member(org, "user", name="Otto Ottersen", email="otto@acme.test")
    support.create_ticket(org, otto, subject="Otto's printer", body="Broken.")
    db.session.commit()
    login_as(admin)
    html = _results(client, org, "otto")
    assert "Otto&#39;s printer" in html and "Otto Ottersen" in html and "otto@acme.test" in html
    assert f'href="/o/{org.slug}/members?q=otto@acme.test"' in html


def test_runs_are_found_by_their_pasted_id_and_by_workflow_name(client, login_as, app):
    org = OrgFactory()
    user = member(org, "user")
    wf = workflows.create_from_starter(org, "greeting", by=user)
    run = WorkflowRun(org_id=org.id, workflow_id=wf.id, version_id=wf.versions[0].id, created_by_id=user.id, status="failed", input={})
    db.session.add(run)
    db.session.commit()
    login_as(user)
    by_id = _results(client, org, run.public_id)
    assert f'href="/o/{org.slug}/runs/{run.public_id}"' in by_id and "1 result" in by_id
    by_name = _results(client, org, "greet")
    assert f'href="/o/{org.slug}/workflows/{wf.public_id}"' in by_name and f'/runs/{run.public_id}"' in by_name


def test_another_orgs_things_are_never_found(client, login_as, app):
    org, other = OrgFactory(name="Mine"), OrgFactory(name="Theirs")
    user, stranger = member(org, "org_admin"), member(other, "org_admin", name="Secret Person")
    support.create_ticket(other, stranger, subject="Secret merger", body="Shh.")
    workflows.create_from_starter(other, "greeting", by=stranger)
    db.session.commit()
    login_as(user)
    for q in ("secret", "greet"):
        html = _results(client, org, q)
        assert "Secret" not in html.split('id="search-results"')[1] and "Greeting" not in html
        assert "Nothing in Mine matches" in html


def test_typing_asks_for_the_results_alone(client, login_as, app):
    org = OrgFactory()
    login_as(member(org, "user"))
    fragment = _results(client, org, "anything", **{"HX-Request": "true", "HX-Target": "search-results"})
    assert fragment.lstrip().startswith("<div id=\"search-results\">") and "<html" not in fragment
