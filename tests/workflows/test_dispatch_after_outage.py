"""A run accepted while Redis is unreachable: answered 202, and dispatched by the reconciler once Redis is back."""

from __future__ import annotations

import copy

from portal.extensions import db
from portal.infra.jobs import RQRunner
from portal.uow import unit_of_work
from portal.workflows.definition import STARTERS
from portal.workflows.models import WorkflowRun
from portal.workflows.services.maintenance import dispatch_undispatched
from tests.conftest import free_port

from .test_runs import _create, _execute, _status


def test_a_run_accepted_during_a_redis_outage_runs_once_the_reconciler_sees_redis_again(
    app, client, login_as, org, admin, wait_for_jobs
):
    login_as(admin)
    wf_id = _create(client, org, copy.deepcopy(STARTERS["greeting"]))
    working = app.extensions["jobs"]
    # The outage: a real Redis client aimed at a port nothing listens on (connection refused).
    app.extensions["jobs"] = RQRunner(f"redis://127.0.0.1:{free_port()}/0", app.config["RQ_QUEUES"])
    try:
        job_id = _execute(client, org, wf_id, {"name": "Ada"})  # asserts 202: accepted, not 5xx
    finally:
        app.extensions["jobs"] = working
    db.session.expire_all()
    run = db.session.scalar(db.select(WorkflowRun).filter_by(public_id=job_id))
    assert (run.status, run.enqueued_at) == ("queued", None)  # committed, marked as never dispatched

    with unit_of_work():
        assert dispatch_undispatched() == 1
    wait_for_jobs()
    assert _status(client, org, job_id)["output"] == {"greeting": "Hello, Ada!", "shout": "HELLO, ADA!"}
    with unit_of_work():
        assert dispatch_undispatched() == 0  # dispatched once: the next pass has nothing to send
