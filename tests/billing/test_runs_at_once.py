"""The plan's workflow runs at once: an org's active runs (queued, running or waiting for approval) are counted
when a run starts, the one over the limit is refused (402 on the API, a message on the page) and nothing is queued,
a run that ends gives its place back, and racing starts never go over (the org's billing account row is locked)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.billing.plans import FREE, PLANS
from portal.errors import QuotaExceeded
from portal.extensions import db
from portal.workflows import service as workflows
from portal.workflows.models import ACTIVE_STATUSES, WorkflowRun
from tests.factories import member, on_plan
from tests.workflows.conftest import wait_for_status

from .conftest import at_once, org_by_id

EXPENSE = {"amount": 42, "reason": "a chair"}  # the approval starter: its runs wait for a decision, holding their place


def _execute(client, org, wf_id: str):
    return client.post(f"/api/v1/workflows/execute?org={org.slug}", json={"workflow_id": wf_id, "input": EXPENSE})


def _runs(org, statuses: tuple[str, ...] = ACTIVE_STATUSES) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(WorkflowRun.id)).where(WorkflowRun.org_id == org.id, WorkflowRun.status.in_(statuses)))


def _waiting(client, org, wf_id: str) -> str:
    """Start a run and wait until it waits for approval: an active run that will not end by itself."""
    response = _execute(client, org, wf_id)
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["job_id"]
    assert wait_for_status(job_id, ("waiting_for_approval",)).status == "waiting_for_approval"
    return job_id


def test_the_run_over_the_free_plans_runs_at_once_is_refused_with_402_and_nothing_is_queued(app, client, login_as, org, admin):
    wf_id = workflows.create_from_starter(org, "approval", admin).public_id
    login_as(admin)
    limit = FREE.limit("concurrent_runs")
    for _ in range(limit):
        _waiting(client, org, wf_id)
    response = _execute(client, org, wf_id)
    assert response.status_code == 402
    error = response.get_json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["fields"]["metric"] == "concurrent_runs" and error["fields"]["limit"] == error["fields"]["used"] == limit
    assert error["fields"]["upgrade_url"].endswith(f"/o/{org.slug}/billing/plans")
    assert f"Your plan runs {limit} workflow at once and 1 is already queued, running or waiting for approval" in error["message"]
    assert _runs(org, ACTIVE_STATUSES + ("succeeded", "failed", "cancelled")) == limit  # the refused run was never queued


def test_a_run_that_ends_gives_its_place_back(app, client, login_as, org, admin, wait_for_jobs):
    wf_id = workflows.create_from_starter(org, "approval", admin).public_id
    login_as(admin)
    first = _waiting(client, org, wf_id)
    assert _execute(client, org, wf_id).status_code == 402
    login_as(member(org, "user"))  # someone else approves: a run's starter may not
    assert client.post(f"/api/v1/workflows/{first}/approval?org={org.slug}", json={"approved": True}).status_code == 200
    assert wait_for_status(first, ("succeeded",)).status == "succeeded"
    login_as(admin)
    second = _execute(client, org, wf_id)
    assert second.status_code == 202, second.get_json()
    # A cancelled run gives its place back too.
    assert client.delete(f"/api/v1/workflows/{second.get_json()['job_id']}?org={org.slug}").status_code == 200
    assert _execute(client, org, wf_id).status_code == 202
    wait_for_jobs()


def test_a_bigger_plan_runs_more_at_once(app, client, login_as, org, admin, wait_for_jobs):
    on_plan(org, "pro")
    wf_id = workflows.create_from_starter(org, "approval", admin).public_id
    login_as(admin)
    limit = PLANS["pro"].limit("concurrent_runs")
    assert limit > FREE.limit("concurrent_runs")
    assert [_execute(client, org, wf_id).status_code for _ in range(limit + 1)] == [202] * limit + [402]
    wait_for_jobs()


def test_racing_starts_take_exactly_the_places_left(app, org, admin, wait_for_jobs):
    """8 starts at once, each in its own transaction, with 2 places left: exactly 2 runs start, 6 are refused."""
    on_plan(org, "pro")
    wf_id = workflows.create_from_starter(org, "approval", admin).public_id
    limit = PLANS["pro"].limit("concurrent_runs")
    for _ in range(limit - 2):
        workflows.start_run(org, wf_id, EXPENSE, "default", admin)
    db.session.commit()
    org_id = org.id

    def start(_i: int) -> str:
        return workflows.start_run(org_by_id(org_id), wf_id, EXPENSE, "default", None).public_id

    results = at_once(app, 8, start)
    started = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert (len(started), len(refused)) == (2, 6), results
    assert _runs(org) == limit
    wait_for_jobs()


def test_the_run_form_refused_over_the_limit_says_why_and_links_to_the_plans(app, client, login_as, org, admin):
    wf_id = workflows.create_from_starter(org, "approval", admin).public_id
    workflows.start_run(org, wf_id, EXPENSE, "default", admin)
    login_as(admin)
    page = client.post(f"/o/{org.slug}/workflows/{wf_id}/runs", data={"priority": "high", "input.amount": "7"})
    assert page.status_code == 402  # the workflow's page again, the refusal above its run form
    assert "Your plan runs 1 workflow at once and 1 is already queued, running or waiting for approval" in page.text
    assert 'name="input.amount" type="number"' in page.text and 'value="7"' in page.text  # what was typed stays
    assert '<option value="high" selected>high</option>' in page.text
    assert f'/o/{org.slug}/billing/plans">See the plans</a>' in page.text  # a link, not the address spelled out
    assert "for more: http" not in page.text and "upgrade for more." in page.text
    assert _runs(org) == 1


@pytest.mark.browser
def test_the_run_button_says_the_plan_runs_one_at_once_and_links_to_the_plans(app, page, live_server, log_in, screenshot, org, admin):
    from playwright.sync_api import expect

    wf_id = workflows.create_from_starter(org, "approval", admin).public_id
    workflows.start_run(org, wf_id, EXPENSE, "default", admin)
    db.session.commit()
    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/workflows/{wf_id}"))
    page.get_by_label("Amount").fill("120")
    page.get_by_role("button", name="Run with this input").click()
    message = page.get_by_text("Your plan runs 1 workflow at once and 1 is already queued, running or waiting for approval")
    expect(message).to_be_visible()
    expect(message).to_contain_text("Start this one when a run ends, or upgrade for more")
    expect(page.get_by_label("Amount")).to_have_value("120")  # nothing typed is lost: run it again when a place frees
    screenshot(page, "workflow-run-refused-runs-at-once")
    assert _runs(org) == 1
    assert page.errors == []


def test_retrying_a_failed_run_needs_a_place_like_a_new_one(app, client, login_as, org, admin):
    wf_id = workflows.create_from_starter(org, "approval", admin).public_id
    login_as(admin)
    _waiting(client, org, wf_id)  # the Free plan's one place is taken
    wf = workflows.get_workflow(org_by_id(org.id), wf_id)
    failed = WorkflowRun(org_id=org.id, workflow_id=wf.id, version_id=wf.versions[0].id, status="failed", input=EXPENSE, error="boom")
    db.session.add(failed)
    db.session.commit()
    page = client.post(f"/o/{org.slug}/runs/{failed.public_id}/retry", follow_redirects=True)
    assert "Your plan runs 1 workflow at once" in page.get_data(as_text=True)
    fragment = client.post(f"/o/{org.slug}/runs/{failed.public_id}/retry", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Your plan runs 1 workflow at once" in fragment and "<html" not in fragment  # said on the run's live fragment
    assert f'/o/{org.slug}/billing/plans">See the plans</a>' in fragment and "for more: http" not in fragment
    db.session.expire_all()
    assert db.session.get(WorkflowRun, failed.id).status == "failed"  # refused: still failed, nothing queued
