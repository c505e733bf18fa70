"""Runs over the API on both backends (SQLite + in-process runner, PostgreSQL + a real RQ worker process):
execute, status and steps, cancel (and its race with completion), approval, retries, SSRF, llm and http nodes."""

from __future__ import annotations

import copy
from datetime import timedelta

import httpx
from sqlalchemy import select

from portal.extensions import db
from portal.models import utcnow
from portal.notifications.models import Notification
from portal.uow import unit_of_work
from portal.workflows import service
from portal.workflows.definition import STARTERS
from portal.workflows.executor import run_workflow
from portal.workflows.models import WorkflowRun, WorkflowUsageEvent
from tests.factories import OrgFactory, member

from .conftest import wait_for_status


def _create(client, org, definition) -> str:
    resp = client.post(f"/api/v1/workflow-definitions?org={org.slug}", json=definition)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def _execute(client, org, wf_id, data=None, priority="default") -> str:
    resp = client.post(f"/api/v1/workflows/execute?org={org.slug}", json={"workflow_id": wf_id, "input": data or {}, "priority": priority})
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["job_id"]


def _status(client, org, job_id) -> dict:
    resp = client.get(f"/api/v1/workflows/{job_id}?org={org.slug}")
    assert resp.status_code == 200
    return resp.get_json()


def _chain(*nodes, name="Chain") -> dict:
    ids = [n["id"] for n in nodes]
    ends = ["START", *ids, "END"]
    return {"name": name, "nodes": list(nodes), "edges": [{"from": a, "to": b} for a, b in zip(ends, ends[1:], strict=False)]}


def test_execute_runs_the_graph_and_records_each_step(app, client, login_as, org, admin, wait_for_jobs):
    login_as(admin)
    wf_id = _create(client, org, copy.deepcopy(STARTERS["greeting"]))
    job_id = _execute(client, org, wf_id, {"name": "Ada"}, priority="high")
    assert job_id.startswith("run_")
    wait_for_jobs()
    out = _status(client, org, job_id)
    assert out["status"] == "succeeded"
    assert out["output"] == {"greeting": "Hello, Ada!", "shout": "HELLO, ADA!"}
    assert [(s["node"], s["status"]) for s in out["steps"]] == [("greet", "succeeded"), ("shout", "succeeded")]
    assert all(s["duration_ms"] is not None and s["finished_at"] for s in out["steps"])
    assert "Hello, Ada!" in out["steps"][0]["output"] and '"name": "Ada"' in out["steps"][0]["input"]
    usage = db.session.scalar(select(WorkflowUsageEvent))
    assert (usage.status, usage.org_id) == ("succeeded", org.id)


def test_a_succeeded_run_tells_its_starter_with_a_link_to_the_run(app, client, login_as, org, admin, user, wait_for_jobs):
    wf_id = service.create_from_starter(org, "greeting", admin).public_id  # the author is not the one who runs it
    login_as(user)
    job_id = _execute(client, org, wf_id, {"name": "Ada"})
    wait_for_jobs()
    assert _status(client, org, job_id)["status"] == "succeeded"
    notes = db.session.scalars(select(Notification).filter_by(event="workflow.succeeded")).all()
    assert [n.user_id for n in notes] == [user.id]  # the starter, once
    note = notes[0]
    assert note.in_inbox and note.title == "Greeting finished" and "The Greeting run succeeded in " in note.body and job_id not in note.body  # the link names the run
    assert note.data["url"] == f"{app.config['BASE_URL']}/o/{org.slug}/runs/{job_id}"
    assert client.get(note.data["url"].removeprefix(app.config["BASE_URL"])).status_code == 200  # the link opens the run


def test_condition_routes_by_expression(app, client, login_as, org, admin, wait_for_jobs):
    login_as(admin)
    wf_id = _create(client, org, copy.deepcopy(STARTERS["triage"]))
    high, low = _execute(client, org, wf_id, {"score": 9}), _execute(client, org, wf_id, {"score": 2})
    wait_for_jobs()
    assert _status(client, org, high)["status"] == "succeeded", _status(client, org, high)
    assert _status(client, org, high)["output"]["result"] == "escalated (9)"
    assert _status(client, org, low)["output"]["result"] == "archived (2)"
    assert [s["node"] for s in _status(client, org, low)["steps"]] == ["check", "archive"]


def test_another_orgs_run_and_workflow_are_404(app, client, login_as, org, admin, wait_for_jobs):
    login_as(admin)
    wf_id = _create(client, org, copy.deepcopy(STARTERS["greeting"]))
    job_id = _execute(client, org, wf_id, {"name": "Secret"})
    wait_for_jobs()
    other = OrgFactory(slug="other-org")
    login_as(member(other, "org_admin"))
    assert client.get(f"/api/v1/workflows/{job_id}?org={other.slug}").status_code == 404
    assert client.delete(f"/api/v1/workflows/{job_id}?org={other.slug}").status_code == 404
    assert client.post(f"/api/v1/workflows/{job_id}/approval?org={other.slug}", json={"approved": True}).status_code == 404
    assert client.get(f"/api/v1/workflow-definitions/{wf_id}?org={other.slug}").status_code == 404
    assert client.post(f"/api/v1/workflows/execute?org={other.slug}", json={"workflow_id": wf_id}).status_code == 404
    assert client.get(f"/o/{other.slug}/runs/{job_id}").status_code == 404
    # and asking for org A by slug is a 404 too: the caller is no member
    assert client.get(f"/api/v1/workflows/{job_id}?org={org.slug}").status_code == 404


def test_cancel_a_running_run_stops_it_before_the_next_node(app, client, login_as, org, admin, allow_local, wait_for_jobs):
    base, gate = allow_local
    login_as(admin)
    wf_id = _create(client, org, _chain(
        {"id": "hold", "type": "http", "config": {"url": base + "/gate", "output_key": "held", "timeout": 30}},
        {"id": "after", "type": "transform", "config": {"set": {"after": "ran"}}},
    ))
    job_id = _execute(client, org, wf_id)
    assert gate.entered.wait(20), "the run never reached the gate"
    live = _status(client, org, job_id)
    assert (live["status"], live["current_node"], live["steps"]) == ("running", "hold", [])  # a step is written when its node ends
    resp = client.delete(f"/api/v1/workflows/{job_id}?org={org.slug}")
    assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"
    gate.opened.set()  # the node finishes; the run must stay cancelled
    wait_for_jobs()
    out = _status(client, org, job_id)
    assert out["status"] == "cancelled" and out["output"] is None
    assert [s["node"] for s in out["steps"]] == ["hold"]
    assert client.delete(f"/api/v1/workflows/{job_id}?org={org.slug}").status_code == 409


def test_cancel_race_a_cancelled_run_never_turns_succeeded(app, client, login_as, org, admin, wait_for_jobs):
    """Cancel each of many short runs right after enqueueing: whichever wins, the outcome agrees with the
    answer the cancel got, and no run that was cancelled ends as succeeded."""
    login_as(admin)
    wf_id = _create(client, org, copy.deepcopy(STARTERS["greeting"]))
    answers = {}
    for _ in range(30):
        job_id = _execute(client, org, wf_id, {"name": "Race"})
        answers[job_id] = client.delete(f"/api/v1/workflows/{job_id}?org={org.slug}").status_code
    wait_for_jobs(30)
    for job_id, code in answers.items():
        status = _status(client, org, job_id)["status"]
        assert (code, status) in ((200, "cancelled"), (409, "succeeded")), (job_id, code, status)
    assert 200 in answers.values()
    told = [n.data["run_id"] for n in db.session.scalars(select(Notification).filter_by(event="workflow.succeeded"))]
    assert sorted(told) == sorted(job_id for job_id, code in answers.items() if code == 409)  # once per succeeded run, never for a cancelled one


def test_cancel_a_queued_run(app, client, login_as, org, admin, wait_for_jobs):
    login_as(admin)
    wf_id = _create(client, org, copy.deepcopy(STARTERS["greeting"]))
    saved = app.config["WORKFLOW_MAX_CONCURRENT_RUNS"]
    app.config["WORKFLOW_MAX_CONCURRENT_RUNS"] = 0  # in this process: nothing may start
    try:
        run = service.start_run(org, wf_id, {"name": "Q"}, "low", admin)
        resp = client.delete(f"/api/v1/workflows/{run.public_id}?org={org.slug}")
        assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"
    finally:
        app.config["WORKFLOW_MAX_CONCURRENT_RUNS"] = saved
    wait_for_jobs()
    assert _status(client, org, run.public_id)["status"] == "cancelled"


def test_approval_pauses_then_resumes_with_the_decision(app, client, login_as, org, admin, user, wait_for_jobs):
    login_as(user)
    wf_id = service.create_from_starter(org, "approval", admin).public_id
    job_id = _execute(client, org, wf_id, {"amount": 42, "reason": "a chair"})
    wait_for_jobs()
    out = _status(client, org, job_id)
    assert out["status"] == "waiting_for_approval" and out["current_node"] == "approve"
    # Asked of those who may approve it (the admin), not of its starter, whom the default rule refuses.
    asked = {n.user_id for n in db.session.scalars(select(Notification).filter_by(event="workflow.needs_approval"))}
    assert asked == {admin.id}
    login_as(admin)
    resp = client.post(f"/api/v1/workflows/{job_id}/approval?org={org.slug}", json={"approved": True, "reason": "fine"})
    assert resp.status_code == 200
    wait_for_jobs()
    out = _status(client, org, job_id)
    assert out["status"] == "succeeded"
    assert out["output"]["approve"]["approved"] is True and out["output"]["approve"]["by"] == admin.email
    assert out["output"]["outcome"] == "paid" and out["decision"]["reason"] == "fine"
    assert [s["node"] for s in out["steps"]].count("draft") == 1  # resumed, not restarted
    assert client.post(f"/api/v1/workflows/{job_id}/approval?org={org.slug}", json={"approved": True}).status_code == 409


def test_retry_policy_retries_a_flaky_node(app, client, login_as, org, admin, allow_local, wait_for_jobs):
    base, gate = allow_local
    login_as(admin)
    wf_id = _create(client, org, _chain(
        {"id": "call", "type": "http", "config": {"url": base + "/flaky/2", "output_key": "resp", "retry": {"attempts": 3, "backoff": 0.05}}},
    ))
    job_id = _execute(client, org, wf_id)
    wait_for_jobs()
    out = _status(client, org, job_id)
    assert out["status"] == "succeeded" and out["output"]["resp"]["body"] == {"ok": True, "call": 3}
    assert [(s["attempt"], s["status"]) for s in out["steps"]] == [(1, "failed"), (2, "failed"), (3, "succeeded")]


def test_failed_run_notifies_and_retry_resumes_from_the_failed_node(app, client, login_as, org, admin, allow_local, wait_for_jobs):
    base, gate = allow_local
    login_as(admin)
    wf_id = _create(client, org, _chain(
        {"id": "first", "type": "transform", "config": {"set": {"a": "1"}}},
        {"id": "call", "type": "http", "config": {"url": base + "/flaky/1", "output_key": "resp"}},
    ))
    job_id = _execute(client, org, wf_id)
    wait_for_jobs()
    out = _status(client, org, job_id)
    assert out["status"] == "failed" and "503" in out["error"]
    assert db.session.scalar(select(Notification).filter_by(event="workflow.failed", user_id=admin.id)) is not None
    assert client.post(f"/o/{org.slug}/runs/{job_id}/retry").status_code == 303
    wait_for_jobs()
    out = _status(client, org, job_id)
    assert out["status"] == "succeeded" and out["output"]["a"] == "1"
    assert [s["node"] for s in out["steps"]] == ["first", "call", "call"]  # `first` did not run again
    assert [s["attempt"] for s in out["steps"]] == [1, 1, 2]  # numbered after the steps of the failed job
    db.session.expire_all()
    usage = db.session.scalars(select(WorkflowUsageEvent)).all()  # the failed run's event, updated by the retry's outcome
    assert [(u.status, u.duration_ms == out["duration_ms"]) for u in usage] == [("succeeded", True)]


def test_http_node_refuses_internal_addresses(app, client, login_as, org, admin, local_server, wait_for_jobs):
    base, gate = local_server  # not allowlisted
    login_as(admin)
    for url in (base + "/json", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]:9/", "http://localhost:9/", "file:///etc/passwd"):
        wf_id = _create(client, org, _chain({"id": "call", "type": "http", "config": {"url": url, "output_key": "r", "retry": {"attempts": 3, "backoff": 0}}}))
        job_id = _execute(client, org, wf_id)
        wait_for_jobs()
        out = _status(client, org, job_id)
        assert out["status"] == "failed", url
        assert "NodeRefused" in out["error"], (url, out["error"])
        assert len(out["steps"]) == 1  # refused, never retried
    assert gate.hits == {}


def test_http_node_calls_an_allowlisted_server_with_templates(app, client, login_as, org, admin, allow_local, wait_for_jobs):
    base, gate = allow_local
    login_as(admin)
    wf_id = _create(client, org, _chain({"id": "post", "type": "http", "config": {
        "method": "POST", "url": base + "/echo/{{ input.id }}", "body": '{"name": "{{ input.name }}"}',
        "headers": {"X-Test": "{{ input.name | upper }}"}, "output_key": "resp"}}))
    job_id = _execute(client, org, wf_id, {"id": 7, "name": "ada"})
    wait_for_jobs()
    out = _status(client, org, job_id)
    assert out["status"] == "succeeded", out["error"]
    assert out["output"]["resp"]["body"] == {"method": "POST", "path": "/echo/7", "body": '{"name": "ada"}', "header": "ADA", "host": base.split("//", 1)[1]}


def test_llm_node_calls_the_orgs_openai_compatible_endpoint(app, client, login_as, org, admin, llm_katan, wait_for_jobs):
    login_as(admin)
    resp = client.post(f"/o/{org.slug}/workflows/llm-settings", data={"base_url": llm_katan, "model": "echo-model", "api_key": "sk-test-secret"})
    assert resp.status_code == 303
    settings = service.llm_settings(org)
    assert "sk-test-secret" not in settings.api_key_encrypted
    service.allow_host(llm_katan.split("//", 1)[1].split("/", 1)[0])
    wf_id = _create(client, org, _chain({"id": "ask", "type": "llm", "config": {"prompt": "Summarize {{ input.topic }}", "output_key": "answer", "temperature": 0}}))
    job_id = _execute(client, org, wf_id, {"topic": "otters"})
    wait_for_jobs()
    out = _status(client, org, job_id)
    assert out["status"] == "succeeded", out["error"]
    assert "Summarize otters" in out["output"]["answer"]
    assert out["llm_tokens"] > 0
    usage = db.session.scalar(select(WorkflowUsageEvent).filter_by(run_id=db.session.scalar(select(service.WorkflowRun.id).filter_by(public_id=job_id))))
    assert usage.llm_tokens == out["llm_tokens"]


def test_llm_node_without_settings_fails_with_a_reason(app, client, login_as, org, admin, wait_for_jobs):
    login_as(admin)
    wf_id = _create(client, org, _chain({"id": "ask", "type": "llm", "config": {"prompt": "hi", "output_key": "a"}}))
    job_id = _execute(client, org, wf_id)
    wait_for_jobs()
    out = _status(client, org, job_id)
    assert out["status"] == "failed" and "no LLM endpoint" in out["error"]


def test_reaper_resumes_a_run_whose_worker_stopped_then_fails_it_after_too_many(app, org, admin, wait_for_jobs):
    """A run left "running" with a stale heartbeat (its worker died) is resumed from its checkpoint; after
    WORKFLOW_MAX_RECOVERIES it fails with that reason instead of staying "running"."""
    wf = service.create_from_starter(org, "approval", admin)
    run = service.start_run(org, wf.public_id, {"amount": 1}, "default", admin)
    wait_for_jobs()
    assert wait_for_status(run.public_id, ("waiting_for_approval",)).status == "waiting_for_approval"
    # as if a worker had taken the run again and died mid-node
    service.transition(run.id, ("waiting_for_approval",), status="running", heartbeat_at=utcnow() - timedelta(minutes=5))
    assert service.reap()["resumed"] == 1
    wait_for_jobs()
    run = wait_for_status(run.public_id, ("waiting_for_approval",))
    assert run.status == "waiting_for_approval" and run.recoveries == 1
    assert [s.node_id for s in run.steps].count("draft") == 1  # resumed from the checkpoint
    service.transition(run.id, ("waiting_for_approval",), status="running", heartbeat_at=utcnow() - timedelta(minutes=5), recoveries=app.config["WORKFLOW_MAX_RECOVERIES"])
    assert service.reap()["failed"] == 1
    db.session.refresh(run)
    assert run.status == "failed" and "worker running it stopped" in run.error


def test_metrics_api_counts_runs(app, client, login_as, org, admin, wait_for_jobs):
    login_as(admin)
    wf_id = _create(client, org, copy.deepcopy(STARTERS["greeting"]))
    for name in ("a", "b", "c"):
        _execute(client, org, wf_id, {"name": name})
    wait_for_jobs()
    m = client.get(f"/api/v1/metrics?org={org.slug}").get_json()
    assert m["runs_by_status"]["succeeded"] == 3 and m["failure_rate"] == 0.0
    assert m["duration_ms"]["p50"] is not None and set(m["queue_depth"]) == {"high", "default", "low"}
    assert m["live_workers"] >= 1


def test_notify_node_sends_to_the_runs_creator(app, client, login_as, org, admin, user, wait_for_jobs):
    login_as(user)
    wf = service.create_workflow(org, _chain({"id": "tell", "type": "notify", "config": {"title": "Done with {{ input.job }}", "body": "All good."}}), admin)
    job_id = _execute(client, org, wf.public_id, {"job": "export"})
    wait_for_jobs()
    assert _status(client, org, job_id)["status"] == "succeeded"
    note = db.session.scalar(select(Notification).filter_by(event="message", user_id=user.id))
    assert note is not None and note.title == "Done with export"


def test_run_timeout_fails_the_run_with_that_reason(app, org, admin):
    """The job checks a run's age before each node: a run past WORKFLOW_RUN_TIMEOUT fails with that reason, and
    its starter is told. The job runs here, in the test's process, so the timeout set here applies on both
    backends (a worker process reads its own)."""
    wf = service.create_from_starter(org, "greeting", admin)
    run = WorkflowRun(org_id=org.id, workflow_id=wf.id, version_id=service.latest(wf).id, created_by_id=admin.id, input={"name": "slow"},
                      enqueued_at=utcnow())
    db.session.add(run)
    db.session.commit()  # queued but not enqueued: no worker competes for it
    saved = app.config["WORKFLOW_RUN_TIMEOUT"]
    app.config["WORKFLOW_RUN_TIMEOUT"] = -1
    try:
        with unit_of_work():
            assert run_workflow(run.id) == "stopped"
    finally:
        app.config["WORKFLOW_RUN_TIMEOUT"] = saved
    run = wait_for_status(run.public_id, ("failed",))
    assert run.status == "failed" and "Timed out" in run.error
    note = db.session.scalar(select(Notification).filter_by(event="workflow.failed"))
    assert note.user_id == admin.id and "Timed out" in note.body


def test_super_admin_allowlists_a_host_in_the_console(app, client, login_as):
    from tests.factories import UserFactory

    root = UserFactory(platform_role="super_admin")
    login_as(root)
    assert client.post("/admin/workflow-hosts", data={"host": "llm.internal:8000"}).status_code == 303
    assert "llm.internal:8000" in service.allowed_hosts()
    assert "llm.internal:8000" in client.get("/admin/workflow-hosts").get_data(as_text=True)
    client.post("/admin/workflow-hosts", data={"remove": "llm.internal:8000"})
    assert service.allowed_hosts() == set()


def test_a_checked_address_is_the_one_connected_to(app, local_server):
    """DNS rebinding: the node connects to the address it vetted, not to a second lookup of the name."""
    from portal.workflows.nodes import check_host, pinned

    assert check_host("https://93.184.216.34/status") == "93.184.216.34"  # a public literal passes, as itself
    base, _gate = local_server
    port = base.rsplit(":", 1)[1]
    # A name that doesn't resolve anywhere: only a request pinned to the vetted address reaches the server.
    url = f"http://rebind-check.invalid:{port}/echo?x=1"
    target, headers, extensions = pinned(url, "127.0.0.1")
    assert target == f"http://127.0.0.1:{port}/echo?x=1"
    with httpx.Client() as client:
        answer = client.get(target, headers=headers, extensions=extensions).json()
    assert answer["path"] == "/echo" and answer["host"] == f"rebind-check.invalid:{port}"
    target, headers, extensions = pinned("https://api.example.test/v1", "2001:db8::1")
    assert target == "https://[2001:db8::1]/v1" and headers == {"Host": "api.example.test"}
    assert extensions == {"sni_hostname": "api.example.test"}
