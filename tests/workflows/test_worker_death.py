"""A worker killed with SIGKILL mid-run: the reaper notices the silent heartbeat, and the run resumes from its
checkpoint on another real RQ worker process and completes (PostgreSQL + Redis backend).

The worker killed is the test's own, on a Redis database of its own (`own_worker`); the run resumes on the
suite's shared worker, which stays alive for the tests after this one.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from portal.extensions import db
from portal.uow import unit_of_work
from portal.workflows import service
from tests.conftest import own_worker

from .conftest import wait_for_status


def _children(pid: int) -> list[int]:
    """Child process ids of pid (Linux /proc)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            found += [int(c) for c in fh.read().split()]
    return found


@pytest.mark.postgres_only  # the in-process runner has no worker process to kill; the reaper is tested on both backends
def test_sigkilled_worker_run_resumes_from_its_checkpoint_and_completes(app, client, login_as, org, admin, allow_local, backend):
    base, gate = allow_local
    shared = app.worker
    definition = {"name": "Killable", "nodes": [
        {"id": "first", "type": "transform", "config": {"set": {"a": "{{ input.n }}"}}},
        {"id": "hold", "type": "http", "config": {"url": base + "/gate", "output_key": "held", "timeout": 30}},
        {"id": "after", "type": "transform", "config": {"set": {"b": "{{ state.a }}-done"}}},
    ], "edges": [{"from": "START", "to": "first"}, {"from": "first", "to": "hold"}, {"from": "hold", "to": "after"}, {"from": "after", "to": "END"}]}
    with own_worker(backend["env"]) as doomed:
        wf = service.create_workflow(org, definition, admin)
        db.session.commit()  # whatever creating it enqueues goes to the shared worker, as before
        with doomed.takes_jobs(app):
            run = service.start_run(org, wf.public_id, {"n": 7}, "default", admin)
            db.session.commit()  # the run is enqueued once it is committed: on the doomed worker's Redis database
        assert gate.entered.wait(30), "no worker reached the gate"
        running = wait_for_status(run.public_id, ("running",))
        pid = int(running.worker.rsplit(":", 1)[1])
        assert pid == doomed.proc.pid  # the test's own worker, never the shared one
        children = _children(pid)  # RQ's scheduler process, which a SIGKILL leaves orphaned
        os.kill(pid, signal.SIGKILL)
        for child in children:
            os.kill(child, signal.SIGTERM)
        doomed.proc.wait(10)
        gate.opened.set()  # the resumed attempt passes the gate at once
        timeout, app.config["WORKFLOW_HEARTBEAT_TIMEOUT"] = app.config["WORKFLOW_HEARTBEAT_TIMEOUT"], 2
        try:
            deadline = time.monotonic() + 60  # "noticed within a minute"
            resumed = 0
            while not resumed and time.monotonic() < deadline:
                time.sleep(0.5)
                with unit_of_work():  # as the reaper's job does: the run is enqueued again (for the shared worker) after the commit
                    resumed = service.reap()["resumed"]
            assert resumed == 1, "the reaper never noticed the dead worker"
        finally:
            app.config["WORKFLOW_HEARTBEAT_TIMEOUT"] = timeout
        done = wait_for_status(run.public_id, ("succeeded", "failed"), timeout=30)
    assert done.status == "succeeded", done.error
    assert done.output == {"a": "7", "held": {"status": 200, "body": {"gate": "open"}}, "b": "7-done"}
    assert done.recoveries == 1
    nodes = [s.node_id for s in done.steps]
    assert nodes.count("first") == 1  # resumed from the checkpoint, not restarted
    # A step is written when its node ends: the attempt the SIGKILL cut short left none; the resumed one did.
    assert nodes.count("hold") == 1 and nodes.count("after") == 1
    assert int(done.worker.rsplit(":", 1)[1]) == shared.pid and shared.poll() is None  # resumed by the shared worker, still alive


def test_with_the_default_settings_a_dead_workers_run_is_found_within_30_seconds(app):
    """What the test above shortens: the heartbeat timeout plus the reaper's interval, the longest an orphan waits."""
    from portal.infra.periodic import schedule
    from portal.workflows import tasks

    assert app.config["WORKFLOW_HEARTBEAT_SECONDS"] * 3 < app.config["WORKFLOW_HEARTBEAT_TIMEOUT"]  # a slow beat or two is no death
    assert app.config["WORKFLOW_HEARTBEAT_TIMEOUT"] + schedule(app)[tasks.reap] <= 30
