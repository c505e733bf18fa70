"""A database connection killed under a job or a request (PostgreSQL restart, failover, `pg_terminate_backend`):
the job runs again from the start and its effect shows once; the next request and the next run get healthy
connections; an integrity error is the job's own answer and is never retried. PostgreSQL + a real RQ worker."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.infra import dbretry
from portal.notifications.models import Notification
from portal.orgs.models import Organization
from portal.uow import after_commit, unit_of_work
from portal.workflows import service
from portal.workflows.models import WorkflowRun, WorkflowStep, WorkflowUsageEvent
from tests.workflows.conftest import wait_for_status

pytestmark = pytest.mark.postgres_only  # pg_terminate_backend, row locks and a separate worker process

EXPECTED_OUTPUT = {"a": "7", "b": "7-b", "c": "7-b-c"}


def _ran_once(run: WorkflowRun, starter) -> None:
    """The run succeeded with each node's step recorded once, one usage event, and its starter told once."""
    assert run.status == "succeeded", run.error
    assert {k: str(v) for k, v in run.output.items()} == EXPECTED_OUTPUT
    steps = db.session.execute(select(WorkflowStep.node_id, WorkflowStep.attempt).where(WorkflowStep.run_id == run.id)).all()
    assert sorted(steps) == [("first", 1), ("second", 1), ("third", 1)]
    assert db.session.scalar(select(func.count()).select_from(WorkflowUsageEvent).where(WorkflowUsageEvent.run_id == run.id)) == 1
    told = db.session.scalars(select(Notification).where(Notification.user_id == starter.id, Notification.event == "workflow.succeeded")).all()
    assert [n.data["run_id"] for n in told].count(run.public_id) == 1


def _finished(run_id: str) -> WorkflowRun:
    """The run once it ended and its job committed what it sends (the starter's notification)."""
    return wait_for_status(run_id, ("succeeded", "failed", "cancelled"), timeout=30)


def test_a_run_whose_connection_is_terminated_runs_again_and_finishes_once(app, operator, org, admin, workflow, wait_for_jobs):
    table = WorkflowRun.__table__.name
    held: dict[str, int] = {}
    # after-commit hooks run in the order they were registered: this one locks the committed run before
    # start_run's hook enqueues it, so the worker's claim waits on the lock, mid-statement, for the kill.
    after_commit(lambda: held.setdefault("locker", operator.lock_rows(table, "status = 'queued'")))
    run = service.start_run(org, workflow.public_id, {"n": 7}, "default", admin)
    db.session.commit()
    victim = operator.wait_blocked_by(held["locker"])
    killed_at = time.monotonic()
    operator.terminate(victim)
    operator.release()
    done = _finished(run.public_id)
    recovered_ms = (time.monotonic() - killed_at) * 1000
    wait_for_jobs()
    db.session.expire_all()
    _ran_once(db.session.get(WorkflowRun, done.id), admin)
    print(f"\nworker job: backend {victim} terminated mid-claim; run succeeded {recovered_ms:.0f} ms later")


def test_after_every_connection_is_terminated_the_next_page_and_run_succeed(app, client, login_as, operator, org, admin, workflow, wait_for_jobs):
    # Warm every pool first: the web app's, the worker's, and the worker's checkpointer's (psycopg_pool).
    warm = service.start_run(org, workflow.public_id, {"n": 7}, "default", admin)
    db.session.commit()
    assert _finished(warm.public_id).status == "succeeded"
    wait_for_jobs()
    assert login_as(admin).get(f"/o/{org.slug}/workflows").status_code == 200
    db.session.commit()  # the test's own session holds no connection either: it checks one out afresh
    before = operator.backend_count()
    killed = operator.terminate_all()
    assert killed >= 2 and killed == before  # this process's pool and the worker's: every one of them

    started = time.monotonic()
    page = client.get(f"/o/{org.slug}/workflows")
    page_ms = (time.monotonic() - started) * 1000
    assert page.status_code == 200 and "Three steps" in page.get_data(as_text=True)

    started = time.monotonic()
    run = service.start_run(org, workflow.public_id, {"n": 7}, "default", admin)
    db.session.commit()
    done = _finished(run.public_id)
    run_ms = (time.monotonic() - started) * 1000
    wait_for_jobs()
    db.session.expire_all()
    _ran_once(db.session.get(WorkflowRun, done.id), admin)
    print(f"\nall {killed} backends terminated; next page {page_ms:.0f} ms (200), next run succeeded in {run_ms:.0f} ms")


def test_a_unit_of_work_whose_connection_drops_is_run_again_and_commits_once(app, operator):
    calls: list[float] = []

    def unit() -> None:
        with unit_of_work():
            calls.append(time.monotonic())
            db.session.add(Organization(slug="made-once", name="Made once"))
            db.session.flush()  # the row is written in the open transaction
            if len(calls) == 1:  # the first attempt's backend is killed before it commits
                operator.terminate(db.session.execute(text("SELECT pg_backend_pid()")).scalar_one())
            db.session.execute(text("SELECT 1"))

    started = time.monotonic()
    dbretry.run(unit, attempts=app.config["DB_RETRY_ATTEMPTS"], backoff=app.config["DB_RETRY_BACKOFF_SECONDS"], name="test unit")
    took_ms = (time.monotonic() - started) * 1000
    assert len(calls) == 2
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Organization).where(Organization.slug == "made-once")) == 1
    print(f"\nin-process unit: recovered on attempt {len(calls)}, {took_ms:.0f} ms in all "
          f"(second attempt began {(calls[1] - calls[0]) * 1000:.0f} ms after the first)")


def test_an_integrity_error_is_not_retried(app, org):
    calls: list[int] = []
    taken = org.slug

    def unit() -> None:
        with unit_of_work():
            calls.append(1)
            db.session.add(Organization(slug=taken, name="A second org with a taken slug"))
            db.session.flush()

    with pytest.raises(IntegrityError):
        dbretry.run(unit, attempts=app.config["DB_RETRY_ATTEMPTS"], backoff=app.config["DB_RETRY_BACKOFF_SECONDS"], name="test unit")
    assert calls == [1]
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Organization).where(Organization.slug == taken)) == 1
