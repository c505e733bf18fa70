"""Approvals as people meet them (issue 15): the panel says what is asked (the node's message, the run's input,
the latest output); the run's starter may not approve it (by default), and is told so on the page and by the
API; a rejection needs a reason, ends the run as "rejected" with the reason shown, and the diagram marks the
approval node rejected and what follows it as not run; the run form refuses an amount under its minimum."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.workflows import service
from portal.workflows.definition import validate
from portal.workflows.models import WorkflowRun, WorkflowStep, WorkflowUsageEvent
from tests.factories import member

HX = {"HX-Request": "true"}


def _waiting_run(org, starter, wait_for_jobs, data=None, approvers: str | None = None) -> WorkflowRun:
    """An expense-approval run started by `starter`, paused at its approval node."""
    wf = service.create_from_starter(org, "approval", starter)
    if approvers:
        definition = service.latest(wf).definition
        definition["nodes"][1]["config"]["approvers"] = approvers
        service.new_version(org, wf.public_id, definition, starter)
    run = service.start_run(org, wf.public_id, data or {"amount": 120, "reason": "team lunch"}, "default", starter)
    wait_for_jobs(60)  # a ceiling, not a timing: the first run of a session waits for the RQ worker to start on a busy machine
    db.session.expire_all()
    run = db.session.get(WorkflowRun, run.id)
    assert run.status == "waiting_for_approval"
    return run


def _reload(run: WorkflowRun) -> WorkflowRun:
    db.session.expire_all()
    return db.session.get(WorkflowRun, run.id)


def _node_state(page: str, node: str) -> str:
    found = re.search(rf'<g data-node="{node}" data-state="([a-z_]+)"', page)
    assert found, f"no box for {node}"
    return found.group(1)


def test_the_panel_says_what_is_asked_and_the_requester_is_refused(app, client, login_as, org, admin, user, wait_for_jobs):
    run = _waiting_run(org, admin, wait_for_jobs)
    url = f"/o/{org.slug}/runs/{run.public_id}"

    login_as(admin)  # the starter: told, and offered no buttons
    page = client.get(url).get_data(as_text=True)
    assert "Someone else must approve a run you started." in page
    assert 'id="approve-button"' not in page and 'id="reject-button"' not in page
    assert "Approve 120 for team lunch?" in page  # the node's message, rendered from the run's state
    refused = client.post(f"{url}/approval", data={"approved": "1"}, headers=HX)
    assert refused.status_code == 200 and "Someone else must approve a run you started." in refused.get_data(as_text=True)
    assert _reload(run).status == "waiting_for_approval"
    flashed = client.post(f"{url}/approval", data={"approved": "1"})  # a browser without htmx: flashed on the run page
    assert flashed.status_code == 303
    assert "Someone else must approve a run you started." in client.get(flashed.headers["Location"]).get_data(as_text=True)

    login_as(user)  # another member: the summary and both buttons
    page = client.get(url).get_data(as_text=True)
    assert 'id="approve-button"' in page and 'id="reject-button"' in page and 'name="reason"' in page
    inputs = re.search(r'<dl class="approval-summary" id="approval-inputs">(.*?)</dl>', page, re.S).group(1)
    assert "<dt>amount</dt><dd>120</dd>" in inputs and "<dt>reason</dt><dd>team lunch</dd>" in inputs
    assert "<dt>summary</dt><dd>120 for team lunch</dd>" in page  # the latest node's output
    assert client.post(f"{url}/approval", data={"approved": "1", "reason": "within budget"}, headers=HX).status_code == 200
    wait_for_jobs()
    run = _reload(run)
    assert run.status == "succeeded" and run.output["outcome"] == "paid" and run.output["approve"]["by"] == user.email
    page = client.get(url).get_data(as_text=True)
    assert "Approved" in page and "within budget" in page and user.email in page


def test_reject_without_a_reason_is_a_field_error_and_changes_nothing(app, client, login_as, org, admin, user, wait_for_jobs):
    run = _waiting_run(org, admin, wait_for_jobs)
    steps = db.session.scalar(select(func.count()).select_from(WorkflowStep).where(WorkflowStep.run_id == run.id))
    login_as(user)
    resp = client.post(f"/o/{org.slug}/runs/{run.public_id}/approval", data={"approved": "0", "reason": "  "}, headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'aria-invalid="true"' in body and "Say why you reject this run" in body and 'id="reject-button"' in body
    run = _reload(run)
    assert run.status == "waiting_for_approval" and run.decision is None
    assert db.session.scalar(select(func.count()).select_from(WorkflowStep).where(WorkflowStep.run_id == run.id)) == steps
    api = client.post(f"/api/v1/workflows/{run.public_id}/approval?org={org.slug}", json={"approved": False})
    assert api.status_code == 422 and "reason" in api.get_json()["error"]["fields"]
    assert _reload(run).status == "waiting_for_approval"


def test_reject_with_a_reason_ends_the_run_rejected_and_the_diagram_says_so(app, client, login_as, org, admin, user, wait_for_jobs):
    run = _waiting_run(org, admin, wait_for_jobs)
    login_as(user)
    url = f"/o/{org.slug}/runs/{run.public_id}"
    resp = client.post(f"{url}/approval", data={"approved": "0", "reason": "Over the team's budget"}, headers=HX)
    assert resp.status_code == 200
    wait_for_jobs()  # nothing was queued: the run does not resume
    run = _reload(run)
    assert run.status == "rejected" and run.is_final and run.finished_at is not None and run.output is None
    assert run.decision["approved"] is False and run.decision["reason"] == "Over the team's budget" and run.decision["by"] == user.email
    assert [(s.node_id, s.status) for s in run.steps] == [("draft", "succeeded"), ("approve", "rejected")]
    page = client.get(url).get_data(as_text=True)
    assert 'class="badge status-rejected" id="run-status">rejected<' in page and "status-succeeded" not in page
    assert "Rejected" in page and "Over the team&#39;s budget" in page and 'id="approve-button"' not in page
    assert (_node_state(page, "draft"), _node_state(page, "approve"), _node_state(page, "record")) == ("succeeded", "rejected", "not_run")
    assert 'class="rejected-mark"' in page and "#d3f9d8" not in page.split('data-node="approve"')[1].split("</g>")[0]
    api = client.get(f"/api/v1/workflows/{run.public_id}?org={org.slug}").get_json()
    assert api["status"] == "rejected" and api["decision"]["reason"] == "Over the team's budget"
    assert db.session.scalar(select(WorkflowUsageEvent.status).filter_by(run_id=run.id)) == "rejected"
    assert service.metrics(org)["runs_by_status"]["rejected"] == 1
    again = client.post(f"{url}/approval", data={"approved": "1"}, headers=HX)  # decided already: said on the page
    assert again.status_code == 200 and "not waiting for approval" in again.get_data(as_text=True)


def test_the_api_answers_json_403_to_the_requester_and_200_to_another_member(app, client, login_as, org, admin, user, wait_for_jobs):
    run = _waiting_run(org, admin, wait_for_jobs)
    url = f"/api/v1/workflows/{run.public_id}/approval?org={org.slug}"
    login_as(admin)
    resp = client.post(url, json={"approved": True})
    assert resp.status_code == 403 and resp.is_json
    assert resp.get_json()["error"]["message"] == "Someone else must approve a run you started."
    assert _reload(run).status == "waiting_for_approval"
    login_as(user)
    resp = client.post(url, json={"approved": False, "reason": "duplicate claim"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "rejected" and resp.get_json()["decision"]["reason"] == "duplicate claim"


def test_admins_only_and_anyone_rules(app, client, login_as, org, admin, user, wait_for_jobs):
    other = member(org, "user", email="wf-other@example.test", name="Olga Other")
    admins_only = _waiting_run(org, user, wait_for_jobs, approvers="admins")
    login_as(other)
    resp = client.post(f"/api/v1/workflows/{admins_only.public_id}/approval?org={org.slug}", json={"approved": True})
    assert resp.status_code == 403 and "admin" in resp.get_json()["error"]["message"]
    assert "Only an organization admin may approve this run." in client.get(f"/o/{org.slug}/runs/{admins_only.public_id}").get_data(as_text=True)
    login_as(admin)
    assert client.post(f"/api/v1/workflows/{admins_only.public_id}/approval?org={org.slug}", json={"approved": True}).status_code == 200

    anyone = _waiting_run(org, user, wait_for_jobs, approvers="anyone")
    login_as(user)  # the starter may approve their own run under "anyone"
    assert 'id="approve-button"' in client.get(f"/o/{org.slug}/runs/{anyone.public_id}").get_data(as_text=True)
    assert client.post(f"/api/v1/workflows/{anyone.public_id}/approval?org={org.slug}", json={"approved": True}).status_code == 200


def test_the_validator_names_a_bad_approvers_rule_in_words(app):
    from portal.workflows.definition import STARTERS

    definition = {**STARTERS["approval"], "nodes": [dict(n) for n in STARTERS["approval"]["nodes"]]}
    definition["nodes"][1] = {**definition["nodes"][1], "config": {"message": "ok?", "approvers": "the boss"}}
    problems = validate(definition)
    assert set(problems) == {"nodes.1.config.approvers"}
    assert problems["nodes.1.config.approvers"].startswith("Who may approve must be one of:")
    assert '"anyone_but_requester"' in problems["nodes.1.config.approvers"] and '"admins"' in problems["nodes.1.config.approvers"]
    definition["nodes"][1]["config"]["approvers"] = "admins"
    assert validate(definition) == {}


def test_the_run_form_refuses_an_amount_under_its_minimum(app, client, login_as, org, admin, wait_for_jobs):
    wf = service.create_from_starter(org, "approval", admin)
    login_as(admin)
    show = client.get(f"/o/{org.slug}/workflows/{wf.public_id}").get_data(as_text=True)
    assert 'name="input.amount" type="number" step="any" min="0"' in show
    resp = client.post(f"/o/{org.slug}/workflows/{wf.public_id}/runs", data={"input.amount": "-5", "input.reason": "refund", "priority": "default"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="input-amount-error" class="field-error">Amount must be 0 or more.<' in body
    assert 'value="-5"' in body and 'value="refund"' in body  # what was typed stays
    api = client.post(f"/api/v1/workflows/execute?org={org.slug}", json={"workflow_id": wf.public_id, "input": {"amount": -5}})
    assert api.status_code == 422 and "input.amount" in api.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(WorkflowRun)) == 0


@pytest.mark.browser
def test_the_approval_panel_in_chromium(app, page, live_server, log_in, screenshot, org, admin, user, wait_for_jobs):
    from playwright.sync_api import expect

    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/workflows"))
    page.get_by_role("button", name="Use “Expense approval”").click()
    page.get_by_label("Amount").fill("120")
    page.get_by_label("Reason").fill("team lunch")
    page.get_by_role("button", name="Run with this input").click()
    expect(page.locator("#run-status")).to_have_text("waiting for approval", timeout=20_000)
    expect(page.locator("#approval-not-yours")).to_have_text("Someone else must approve a run you started.")
    expect(page.locator("#approve-button")).to_have_count(0)
    screenshot(page, "approval-requester")
    run_url = page.url

    page.context.clear_cookies()
    log_in(page, user.email)
    page.goto(run_url)
    expect(page.locator("#approval-message")).to_have_text("Approve 120 for team lunch?")
    expect(page.locator("#approval-inputs")).to_contain_text("team lunch")
    approve, reject = page.locator("#approve-button").bounding_box(), page.locator("#reject-button").bounding_box()
    assert abs(approve["y"] - reject["y"]) < 2 and approve["x"] + approve["width"] <= reject["x"]  # side by side at 1280
    assert approve["width"] < 400  # not stretched across the page
    screenshot(page, "approval-panel-1280")

    page.set_viewport_size({"width": 375, "height": 800})
    approve, reject = page.locator("#approve-button").bounding_box(), page.locator("#reject-button").bounding_box()
    assert reject["y"] > approve["y"] + approve["height"] - 1  # stacked on a phone
    screenshot(page, "approval-panel-375")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#decision-reason-error")).to_contain_text("Say why you reject this run")
    expect(page.locator("#run-status")).to_have_text("waiting for approval")
    page.get_by_label("Reason").fill("Over the team's budget")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#run-status")).to_have_text("rejected")
    expect(page.locator("#run-decision")).to_contain_text("Over the team's budget")
    expect(page.locator('g[data-node="approve"]')).to_have_attribute("data-state", "rejected")
    expect(page.locator('g[data-node="record"]')).to_have_attribute("data-state", "not_run")
    screenshot(page, "approval-rejected")
    assert page.errors == []


def test_the_starter_hears_who_rejected_their_run_and_why(app, client, login_as, org, admin, user, mailbox, wait_for_jobs):
    from portal.notifications.models import Notification

    run = _waiting_run(org, admin, wait_for_jobs)
    login_as(user)
    client.post(f"/o/{org.slug}/runs/{run.public_id}/approval", data={"approved": "0", "reason": "Over the team's budget"}, headers=HX)
    wait_for_jobs()
    [told] = db.session.scalars(select(Notification).filter_by(user_id=admin.id, event="workflow.rejected")).all()
    assert told.title.endswith("was rejected") and user.display_name in told.body and "Over the team's budget" in told.body
    mailbox.wait_for(admin.email)
    [mail] = [m for m in mailbox.to(admin.email) if "rejected" in str(m["Subject"])]
    assert "Over the team's budget" in mailbox.text_of(mail) and f"/runs/{run.public_id}" in mailbox.text_of(mail)
    assert not db.session.scalars(select(Notification).filter_by(user_id=user.id, event="workflow.rejected")).all()
    login_as(admin)  # the inbox item opens the run
    opened = client.get(f"/o/{org.slug}/notifications/{told.public_id}/open")
    assert opened.status_code == 303 and opened.headers["Location"].endswith(f"/o/{org.slug}/runs/{run.public_id}")
