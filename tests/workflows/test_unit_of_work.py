"""Runs are enqueued only once the transaction that queued them commits, never for a rolled-back or refused
request; the page forms answer refusals as the rest of the portal does; version caches survive ids coming back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import utcnow
from portal.uow import unit_of_work
from portal.workflows import service
from portal.workflows.compiler import compiled
from portal.workflows.definition import STARTERS
from portal.workflows.executor import run_workflow
from portal.workflows.models import WorkflowRun
from portal.workflows.services import runs

HX = {"HX-Request": "true"}


@pytest.fixture
def enqueued(monkeypatch) -> list:
    """The run jobs handed to the job runner (recorded instead of run)."""
    calls: list = []
    monkeypatch.setattr(runs, "enqueue", lambda fn, *args, **kwargs: calls.append((fn, args, kwargs)))
    return calls


def _runs() -> int:
    return db.session.scalar(select(func.count()).select_from(WorkflowRun))


def test_a_run_is_enqueued_after_its_commit_and_never_for_a_rollback(app, org, admin, enqueued):
    wf = service.create_from_starter(org, "greeting", admin)
    db.session.commit()
    with pytest.raises(RuntimeError), unit_of_work():
        service.start_run(org, wf.public_id, {"name": "lost"}, "low", admin)
        raise RuntimeError("the request failed after starting the run")
    assert enqueued == [] and _runs() == 0
    with unit_of_work():
        run = service.start_run(org, wf.public_id, {"name": "kept"}, "low", admin)
        run_id = run.id
        assert enqueued == []  # not before the row is committed: a worker would not find it
    assert enqueued == [(run_workflow, (run_id,), {"queue": "low"})]


def test_a_refused_start_creates_and_enqueues_nothing(app, client, login_as, org, admin, enqueued):
    wf = service.create_from_starter(org, "greeting", admin)  # its input schema requires a name
    login_as(admin)
    page = client.post(f"/o/{org.slug}/workflows/{wf.public_id}/runs", data={"priority": "low"})
    assert page.status_code == 422  # the run form again, the refusal on it
    assert "is a required property" in page.get_data(as_text=True)
    api = client.post(f"/api/v1/workflows/execute?org={org.slug}", json={"workflow_id": wf.public_id, "input": {}})
    assert api.status_code == 422 and "is a required property" in api.get_json()["error"]["fields"]["input"]
    assert enqueued == [] and _runs() == 0


def test_approval_and_retry_enqueue_the_run_after_their_commit(app, client, login_as, org, admin, user, enqueued):
    wf = service.create_from_starter(org, "approval", admin)
    run = service.start_run(org, wf.public_id, {"amount": 1}, "high", admin)
    service.transition(run.id, ("queued",), status="waiting_for_approval")
    db.session.commit()
    enqueued.clear()
    login_as(user)  # not the run's starter: someone else approves
    assert client.post(f"/o/{org.slug}/runs/{run.public_id}/approval", data={"approved": "1"}, headers=HX).status_code == 200
    assert enqueued == [(run_workflow, (run.id,), {"queue": "high"})]
    refused = client.post(f"/o/{org.slug}/runs/{run.public_id}/retry", headers=HX)  # not failed: a 409 refusal, shown
    assert refused.status_code == 200 and 'id="run-live"' in refused.get_data(as_text=True)
    assert len(enqueued) == 1


def test_the_reaper_enqueues_forgotten_runs_after_its_commit(app, org, admin, enqueued):
    wf = service.create_from_starter(org, "greeting", admin)
    run = service.start_run(org, wf.public_id, {"name": "forgotten"}, "default", admin)
    service.transition(run.id, ("queued",), enqueued_at=utcnow() - timedelta(seconds=app.config["WORKFLOW_REQUEUE_AFTER"] + 60))
    db.session.commit()
    enqueued.clear()
    with unit_of_work():
        assert service.reap()["requeued"] == 1
        assert enqueued == []
    assert enqueued == [(run_workflow, (run.id,), {"queue": "default"})]


def test_llm_settings_refused_answer_422_with_the_fields_named_and_save_nothing(app, client, login_as, org, admin):
    login_as(admin)
    resp = client.post(f"/o/{org.slug}/workflows/llm-settings", data={"base_url": "ftp://llm.example.test", "model": " "})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Give an http:// or https:// URL." in html and "Name the model." in html and 'aria-invalid="true"' in html
    assert service.llm_settings(org) is None


def test_a_refused_editor_change_answers_422_and_makes_no_version(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "greeting", admin)
    login_as(admin)
    resp = client.post(f"/o/{org.slug}/workflows/{wf.public_id}/edit", data={"change": "add_node", "id": "greet"}, headers=HX)
    assert resp.status_code == 422 and "Another node already has the id &#39;greet&#39;: choose a new one." in resp.get_data(as_text=True)
    db.session.refresh(wf)
    assert wf.latest_version == 1


def test_compiled_graphs_are_told_apart_when_a_version_id_comes_back(app):
    """Emptying the database gives ids out again: the cache keys on the version's creation time as well."""
    first, again = STARTERS["greeting"], STARTERS["triage"]
    created = utcnow()
    graph = compiled(1, created, first)
    assert compiled(1, created, first) is graph
    other = compiled(1, created + timedelta(microseconds=1), again)
    assert other is not graph and set(other.nodes) >= {"check", "escalate"}
