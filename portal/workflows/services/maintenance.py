"""Recovery and retention, run by the periodic jobs: resume or fail runs whose worker died, fail runs past their
timeout, re-enqueue queued runs nobody picked up, and drop old runs' steps and checkpoints."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from portal.extensions import db
from portal.models import utcnow
from portal.tenancy import unscoped
from portal.uow import after_commit
from portal.workflows.checkpoint import saver
from portal.workflows.models import FINAL_STATUSES, WorkflowRun, WorkflowStep
from portal.workflows.services.notices import tell_starter
from portal.workflows.services.runs import enqueue_after_commit, record_usage, transition

EVERY_ORG = "the reaper and the pruner look after every organization's runs"


def _runs(*conditions) -> list[WorkflowRun]:
    """Every organization's runs matching conditions, as the database has them now (not as this session last saw them)."""
    query = unscoped(WorkflowRun, reason=EVERY_ORG).where(*conditions).execution_options(populate_existing=True)
    return list(db.session.scalars(query))


def _fail(run: WorkflowRun, error: str) -> bool:
    """Fail a running run outside its job: status, usage event, and the starter is told (all in this unit of work)."""
    moved = transition(run.id, ("running",), status="failed", error=error, finished_at=utcnow(), current_node=None, decision=None)
    if moved:
        db.session.refresh(run)
        record_usage(run)
        tell_starter(run.org_id, run.created_by_id, run.workflow.name, run.public_id, "workflow.failed", error=error[:500])
    return moved


def reap() -> dict[str, int]:
    """Runs whose worker died (no heartbeat) resume from their checkpoint, or fail after too many tries;
    runs past their timeout fail; queued runs nobody picked up (Redis was down) are enqueued again."""
    config = current_app.config
    now = utcnow()
    counts = {"resumed": 0, "failed": 0, "timed_out": 0, "requeued": 0}
    stale = now - timedelta(seconds=config["WORKFLOW_HEARTBEAT_TIMEOUT"])
    for run in _runs(WorkflowRun.status == "running", WorkflowRun.heartbeat_at < stale):
        if run.recoveries < config["WORKFLOW_MAX_RECOVERIES"]:
            if transition(run.id, ("running",), status="queued", recoveries=run.recoveries + 1, enqueued_at=now):
                enqueue_after_commit(run.id, run.priority)
                counts["resumed"] += 1
        elif _fail(run, f"The worker running it stopped (no heartbeat since {run.heartbeat_at:%H:%M:%S} UTC), {run.recoveries} time(s)."):
            counts["failed"] += 1
    too_old = now - timedelta(seconds=config["WORKFLOW_RUN_TIMEOUT"])
    for run in _runs(WorkflowRun.status == "running", WorkflowRun.started_at < too_old):
        if _fail(run, f"Timed out: the run took longer than {config['WORKFLOW_RUN_TIMEOUT']} s."):
            counts["timed_out"] += 1
    forgotten = now - timedelta(seconds=config["WORKFLOW_REQUEUE_AFTER"])
    for run in _runs(WorkflowRun.status == "queued", WorkflowRun.enqueued_at < forgotten):
        if transition(run.id, ("queued",), enqueued_at=now):
            enqueue_after_commit(run.id, run.priority)
            counts["requeued"] += 1
    return counts


def dispatch_undispatched() -> int:
    """Enqueue the queued runs whose enqueue failed (Redis was unreachable): run every few seconds, so that a
    run accepted during an outage starts within seconds of Redis returning, not after WORKFLOW_REQUEUE_AFTER."""
    sent = 0
    for run in _runs(WorkflowRun.status == "queued", WorkflowRun.enqueued_at.is_(None)):
        if transition(run.id, ("queued",), enqueued_at=utcnow()):
            enqueue_after_commit(run.id, run.priority)  # fails again while Redis is down: marked again, retried next pass
            sent += 1
    return sent


def prune() -> int:
    """Delete the steps and checkpoints of runs that finished before the retention window; runs stay."""
    cutoff = utcnow() - timedelta(days=current_app.config["WORKFLOW_RETENTION_DAYS"])
    old = unscoped(WorkflowRun, reason=EVERY_ORG).with_only_columns(WorkflowRun.id, WorkflowRun.public_id).where(
        WorkflowRun.status.in_(FINAL_STATUSES), WorkflowRun.finished_at < cutoff)
    runs = db.session.execute(old).all()
    for start in range(0, len(runs), 500):
        batch = [run_id for run_id, _ in runs[start:start + 500]]
        db.session.execute(WorkflowStep.__table__.delete().where(WorkflowStep.run_id.in_(batch)))
    if runs:
        # The checkpoints live in LangGraph's own store: they go once the steps' deletion is committed.
        checkpoints, threads = saver(current_app._get_current_object()), [public_id for _, public_id in runs]

        def drop_checkpoints() -> None:
            for thread in threads:
                checkpoints.delete_thread(thread)

        after_commit(drop_checkpoints)
    return len(runs)

