"""Workflow pages: starters, the HTMX editor (nodes, edges, problems, diagram), JSON import/export, the run
form from input_schema, the run page's live fragment, LLM settings, metrics, and retention."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import utcnow
from portal.uow import unit_of_work
from portal.workflows import service
from portal.workflows.models import WorkflowRun, WorkflowStep

HX = {"HX-Request": "true"}


def test_starter_editor_and_run_with_input_form(app, client, login_as, org, admin, wait_for_jobs):
    login_as(admin)
    page = client.get(f"/o/{org.slug}/workflows")
    assert page.status_code == 200 and "Expense approval" in page.get_data(as_text=True)
    resp = client.post(f"/o/{org.slug}/workflows", data={"starter": "greeting"})
    assert resp.status_code == 303
    show = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'name="input.name"' in show and "<svg" in show and 'data-node="greet"' in show
    wf = service.list_workflows(org)[0]
    run_resp = client.post(f"/o/{org.slug}/workflows/{wf.public_id}/runs", data={"input.name": "Form", "priority": "low"})
    assert run_resp.status_code == 303 and "/runs/run_" in run_resp.headers["Location"]
    wait_for_jobs()
    fragment = client.get(run_resp.headers["Location"], headers=HX).get_data(as_text=True)
    assert "HELLO, FORM!" in fragment and "hx-trigger" not in fragment  # final: the fragment stops polling
    assert "<html" not in fragment


def test_editor_adds_and_removes_nodes_and_edges_as_new_versions(app, client, login_as, org, admin):
    login_as(admin)
    wf = service.create_from_starter(org, "greeting", admin)
    url = f"/o/{org.slug}/workflows/{wf.public_id}/edit"
    html = client.post(url, data={"change": "add_node", "id": "extra", "type": "transform", "config": '{"set": {"x": "{{ state.shout }}!"}}'}, headers=HX).get_data(as_text=True)
    assert 'id="workflow-editor"' in html and "Unreachable node" in html  # named in the editor
    html = client.post(url, data={"change": "remove_edge", "index": "2"}, headers=HX).get_data(as_text=True)  # shout → END
    client.post(url, data={"change": "add_edge", "from": "shout", "to": "extra"}, headers=HX)
    html = client.post(url, data={"change": "add_edge", "from": "extra", "to": "END"}, headers=HX).get_data(as_text=True)
    assert "problem(s)" not in html and 'data-node="extra"' in html
    db.session.refresh(wf)
    assert wf.latest_version == 5
    bad = client.post(url, data={"change": "edit_node", "id": "extra", "config": "{not json"}, headers=HX).get_data(as_text=True)
    assert "Not JSON" in bad
    client.post(url, data={"change": "remove_node", "id": "extra"}, headers=HX)
    exported = client.get(f"/o/{org.slug}/workflows/{wf.public_id}/export")
    definition = json.loads(exported.get_data(as_text=True))
    assert [n["id"] for n in definition["nodes"]] == ["greet", "shout"]
    assert all("extra" not in (e["from"], e["to"]) for e in definition["edges"])


def test_import_json_makes_a_version_and_bad_json_is_reported(app, client, login_as, org, admin):
    login_as(admin)
    wf = service.create_from_starter(org, "triage", admin)
    definition = service.latest(wf).definition | {"description": "imported"}
    assert client.post(f"/o/{org.slug}/workflows/{wf.public_id}/import", data={"definition": json.dumps(definition)}).status_code == 303
    db.session.refresh(wf)
    assert (wf.latest_version, wf.description) == (2, "imported")
    refused = client.post(f"/o/{org.slug}/workflows/{wf.public_id}/import", data={"definition": "{oops"})
    assert refused.status_code == 422 and "Not JSON" in refused.get_data(as_text=True)


def test_run_page_shows_approval_buttons_and_the_decision_resumes(app, client, login_as, org, admin, user, wait_for_jobs):
    wf = service.create_from_starter(org, "approval", admin)
    run = service.start_run(org, wf.public_id, {"amount": 3}, "default", admin)
    wait_for_jobs()
    login_as(user)
    page = client.get(f"/o/{org.slug}/runs/{run.public_id}").get_data(as_text=True)
    assert 'id="approve-button"' in page and 'aria-current="step"' in page  # the waiting node is lit
    assert client.post(f"/o/{org.slug}/runs/{run.public_id}/approval", data={"approved": "1"}, headers=HX).status_code == 200
    wait_for_jobs()
    db.session.expire_all()
    run = db.session.get(WorkflowRun, run.id)
    assert run.status == "succeeded" and run.output["outcome"] == "paid" and run.output["approve"]["by"] == user.email
    again = client.post(f"/o/{org.slug}/runs/{run.public_id}/again")
    assert again.status_code == 303 and run.public_id not in again.headers["Location"]


def test_plain_member_cannot_edit_or_see_llm_settings(app, client, login_as, org, admin, user):
    wf = service.create_from_starter(org, "greeting", admin)
    login_as(user)
    assert client.get(f"/o/{org.slug}/workflows/{wf.public_id}").status_code == 200
    assert client.post(f"/o/{org.slug}/workflows/{wf.public_id}/edit", data={"change": "remove_node", "id": "greet"}).status_code == 403
    assert client.get(f"/o/{org.slug}/workflows/llm-settings").status_code == 403


def test_metrics_page_renders_a_chart(app, client, login_as, org, admin, wait_for_jobs):
    wf = service.create_from_starter(org, "greeting", admin)
    service.start_run(org, wf.public_id, {"name": "m"}, "default", admin)
    wait_for_jobs()
    login_as(admin)
    html = client.get(f"/o/{org.slug}/workflows/metrics").get_data(as_text=True)
    assert 'aria-label="Runs by status"' in html and "succeeded" in html


def test_prune_drops_steps_and_checkpoints_past_retention(app, org, admin, wait_for_jobs):
    from portal.workflows.checkpoint import saver

    wf = service.create_from_starter(org, "greeting", admin)
    old = service.start_run(org, wf.public_id, {"name": "old"}, "default", admin)
    new = service.start_run(org, wf.public_id, {"name": "new"}, "default", admin)
    wait_for_jobs()
    past = utcnow() - timedelta(days=app.config["WORKFLOW_RETENTION_DAYS"] + 1)
    service.transition(old.id, ("succeeded",), finished_at=past)
    with unit_of_work():  # as the prune job does: the checkpoints go once the steps' deletion is committed
        assert service.prune() == 1
    steps = dict(db.session.execute(select(WorkflowStep.run_id, func.count()).group_by(WorkflowStep.run_id)).all())
    assert old.id not in steps and steps[new.id] == 2
    cp = saver(app)
    assert cp.get_tuple({"configurable": {"thread_id": old.public_id}}) is None
    assert cp.get_tuple({"configurable": {"thread_id": new.public_id}}) is not None
    db.session.expire_all()
    assert db.session.get(WorkflowRun, old.id).output == {"greeting": "Hello, old!", "shout": "HELLO, OLD!"}  # the run stays


def test_prometheus_metrics_need_the_token(app, client, org, admin, wait_for_jobs):
    wf = service.create_from_starter(org, "greeting", admin)
    service.start_run(org, wf.public_id, {"name": "p"}, "default", admin)
    wait_for_jobs()
    assert client.get("/metrics").status_code == 404  # no METRICS_TOKEN configured
    app.config["METRICS_TOKEN"] = "scrape-me"
    try:
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
        text = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).get_data(as_text=True)
    finally:
        app.config["METRICS_TOKEN"] = None
    assert 'vetrai_workflow_runs{status="succeeded"} 1' in text and "vetrai_queue_depth" in text
