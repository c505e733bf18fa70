"""POST /api/v1/workflows/execute with an Idempotency-Key: a retried request never starts a second run."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from portal.api.idempotency import IdempotencyKey
from portal.extensions import db
from portal.workflows.definition import STARTERS
from portal.workflows.models import WorkflowRun

from .test_runs import _create


def _post(client, org, body, key):
    return client.post(f"/api/v1/workflows/execute?org={org.slug}", json=body, headers={"Idempotency-Key": key})


def _runs() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(WorkflowRun))


def test_a_retry_with_the_same_key_returns_the_first_answer_and_starts_one_run(app, client, login_as, org, admin, wait_for_jobs):
    login_as(admin)
    body = {"workflow_id": _create(client, org, copy.deepcopy(STARTERS["greeting"])), "input": {"name": "Ada"}}
    first = _post(client, org, body, "retry-1")
    again = _post(client, org, body, "retry-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _runs() == 1
    other = _post(client, org, body, "retry-2")  # a new key is a new request
    assert other.get_json()["job_id"] != first.get_json()["job_id"]
    assert _runs() == 2
    wait_for_jobs()


def test_the_same_key_with_another_body_is_refused_and_starts_nothing(app, client, login_as, org, admin, wait_for_jobs):
    login_as(admin)
    wf_id = _create(client, org, copy.deepcopy(STARTERS["greeting"]))
    assert _post(client, org, {"workflow_id": wf_id, "input": {"name": "Ada"}}, "k").status_code == 202
    reused = _post(client, org, {"workflow_id": wf_id, "input": {"name": "Bob"}}, "k")
    assert reused.status_code == 409
    assert reused.get_json()["error"]["code"] == "idempotency_key_reused"
    assert _runs() == 1
    wait_for_jobs()


def test_a_refused_request_keeps_no_key_so_it_can_be_retried(app, client, login_as, org, admin):
    login_as(admin)
    body = {"workflow_id": "wf_does_not_exist", "input": {}}
    assert _post(client, org, body, "missing").status_code == 404
    assert _post(client, org, body, "missing").status_code == 404  # answered anew, not replayed
    assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_a_key_that_is_not_visible_ascii_is_a_field_error(app, client, login_as, org, admin):
    login_as(admin)
    body = {"workflow_id": _create(client, org, copy.deepcopy(STARTERS["greeting"])), "input": {}}
    response = _post(client, org, body, "x" * 256)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["error"]["fields"]
    assert _runs() == 0


@pytest.mark.postgres_only
def test_two_simultaneous_requests_with_one_key_start_one_run(app, client, login_as, org, admin, wait_for_jobs):
    login_as(admin)
    body = {"workflow_id": _create(client, org, copy.deepcopy(STARTERS["greeting"])), "input": {"name": "Ada"}}
    cookie = client.get_cookie("session")

    def send(_):
        other = app.test_client()
        other.set_cookie(cookie.key, cookie.value)
        return _post(other, org, body, "race")

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))
    assert {a.status_code for a in answers} <= {202, 409}
    assert len({a.get_json()["job_id"] for a in answers if a.status_code == 202}) == 1
    assert _runs() == 1
    wait_for_jobs()


def test_filing_a_ticket_twice_with_one_key_files_one_ticket(app, client, login_as, org, admin):
    from portal.support.models import Ticket

    login_as(admin)
    body = {"subject": "Printer on fire", "description": "It is on fire."}
    first = client.post(f"/api/v1/tickets?org={org.slug}", json=body, headers={"Idempotency-Key": "ticket-1"})
    again = client.post(f"/api/v1/tickets?org={org.slug}", json=body, headers={"Idempotency-Key": "ticket-1"})
    assert (first.status_code, again.status_code) == (201, 201), first.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1
