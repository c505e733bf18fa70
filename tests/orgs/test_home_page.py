"""The org home page shows each member what waits for them (approvals, their runs, open tickets, unread
notifications, keys about to expire) and, by role, the org's members, usage and activity, each linking to its object."""

from __future__ import annotations

from datetime import timedelta

from portal.extensions import db
from portal.keys import service as keys
from portal.models import utcnow
from portal.notifications.models import Notification
from portal.orgs import service as orgs
from portal.support import service as support
from portal.workflows import service as workflows
from portal.workflows.models import WorkflowRun
from tests.factories import OrgFactory, member


def _run(org, wf, by, status: str, *, days_ago: int = 0) -> WorkflowRun:
    run = WorkflowRun(org_id=org.id, workflow_id=wf.id, version_id=wf.versions[0].id, created_by_id=by.id, status=status, input={},
                      created_at=utcnow() - timedelta(days=days_ago))
    db.session.add(run)
    db.session.flush()
    return run


def _home(client, org) -> str:
    page = client.get(f"/o/{org.slug}/")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_a_new_member_sees_empty_states_that_say_what_to_do(client, login_as, app):
    org = OrgFactory(name="Quiet")
    login_as(member(org, "user"))
    html = _home(client, org)
    assert "No run is waiting for an approver." in html
    assert "You haven't run a workflow yet." in html
    assert "No open tickets." in html and "You're all caught up." in html
    assert "Workflows arrive with the workflows module" not in html


def test_the_home_page_lists_what_waits_and_links_to_each_object(client, login_as, app):
    org = OrgFactory(name="Acme")
    user = member(org, "user", name="Uma")
    other = member(org, "user", name="Otto")
    wf = workflows.create_from_starter(org, "greeting", by=user)
    waiting = _run(org, wf, other, "waiting_for_approval")
    mine = _run(org, wf, user, "failed")
    ticket = support.create_ticket(org, user, subject="Printer on fire", body="It is on fire.")
    db.session.add(Notification(org_id=org.id, user_id=user.id, event="ticket.replied", title="Agent replied to Printer on fire",
                                in_inbox=True))
    key, _secret = keys.create_key(org, orgs.membership_of(org, user), name="Deploy bot",
                                   scopes=["read"], expires_at=utcnow() + timedelta(days=3))
    db.session.commit()
    login_as(user)
    html = _home(client, org)
    assert f'href="/o/{org.slug}/runs/{waiting.public_id}"' in html and "started by Otto" in html
    assert f'href="/o/{org.slug}/runs/{mine.public_id}"' in html and 'class="badge status-failed"' in html
    assert f'href="/o/{org.slug}/tickets/{ticket.public_id}"' in html and "Printer on fire" in html
    assert "Agent replied to Printer on fire" in html and f'href="/o/{org.slug}/notifications"' in html
    assert f'href="/o/{org.slug}/keys/{key.public_id}"' in html and "Deploy bot" in html


def test_a_user_sees_only_their_own_tickets_and_an_admin_sees_the_orgs(client, login_as, app):
    org = OrgFactory()
    admin, uma, otto = member(org, "org_admin"), member(org, "user"), member(org, "user")
    support.create_ticket(org, otto, subject="Otto's problem", body="Help.")
    db.session.commit()
    login_as(uma)
    html = _home(client, org)
    assert "Your open tickets" in html and "Otto&#39;s problem" not in html
    login_as(admin)
    html = _home(client, org)
    assert "Open tickets" in html and "Otto&#39;s problem" in html


def test_members_and_usage_show_by_role(client, login_as, app):
    org = OrgFactory()
    admin, user, billing_admin = member(org, "org_admin"), member(org, "user"), member(org, "billing_admin")
    login_as(user)
    html = _home(client, org)
    assert 'id="home-members"' in html and 'id="home-usage"' not in html and "Billing and plan" not in html
    login_as(billing_admin)
    assert 'id="home-usage"' in _home(client, org)
    login_as(admin)
    html = _home(client, org)
    assert '<span class="stat">3</span> members' in html and 'id="home-usage"' in html and 'id="api-chart-title"' in html


def test_the_runs_chart_counts_runs_per_day_by_outcome(client, login_as, app):
    org = OrgFactory()
    user = member(org, "user")
    wf = workflows.create_from_starter(org, "greeting", by=user)
    for status, days_ago in (("succeeded", 0), ("succeeded", 0), ("failed", 0), ("succeeded", 2), ("running", 2), ("succeeded", 20)):
        _run(org, wf, user, status, days_ago=days_ago)
    db.session.commit()
    days = workflows.runs_per_day(org, 14)
    assert len(days) == 14
    today, two_ago = days[-1], days[-3]
    assert today["outcomes"] == {"succeeded": 2, "failed": 1, "cancelled": 0, "rejected": 0, "active": 0} and today["total"] == 3
    assert two_ago["outcomes"]["succeeded"] == 1 and two_ago["outcomes"]["active"] == 1
    assert sum(d["total"] for d in days) == 5  # the run 20 days ago is outside the chart
    login_as(user)
    assert "5 runs in 14 days, stacked by outcome." in _home(client, org)


def test_another_orgs_runs_tickets_and_keys_never_show(client, login_as, app):
    org, other = OrgFactory(), OrgFactory()
    user, stranger = member(org, "org_admin"), member(other, "org_admin")
    wf = workflows.create_from_starter(other, "greeting", by=stranger)
    _run(other, wf, stranger, "waiting_for_approval")
    support.create_ticket(other, stranger, subject="Secret trouble", body="Shh.")
    db.session.commit()
    login_as(user)
    html = _home(client, org)
    assert "Greeting" not in html and "Secret trouble" not in html and "No run is waiting for an approver." in html
