"""Runs: start one (enqueued once its row is committed), list and read them, cancel, approve, retry, run again.

Run status changes are conditional UPDATEs (`... WHERE status IN (...)`): whichever of the worker and a
cancel gets there first wins, so a cancelled run never turns into "succeeded".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from portal.billing import service as billing
from portal.errors import Conflict, ValidationFailed
from portal.extensions import db
from portal.infra.jobs import enqueue
from portal.models import utcnow
from portal.notifications import service as notifications
from portal.orgs.models import Organization
from portal.tenancy import get_scoped_or_404, scoped
from portal.uow import after_commit
from portal.workflows.definition import validate, validate_input
from portal.workflows.executor import run_workflow
from portal.workflows.models import ACTIVE_STATUSES, PRIORITIES, Workflow, WorkflowRun, WorkflowUsageEvent, WorkflowVersion
from portal.workflows.services import approvals
from portal.workflows.services.definitions import get_workflow, with_latest
from portal.workflows.services.notices import tell_starter


def enqueue_after_commit(run_id: int, priority: str) -> None:
    """Hand the run to a worker once the transaction that queued it commits (never for a rolled-back one)."""

    def dispatch() -> None:
        try:
            enqueue(run_workflow, run_id, queue=priority)
        except Exception:
            mark_undispatched(run_id)
            raise  # logged by the unit of work: the run is committed, the request still answers as accepted

    after_commit(dispatch)


def mark_undispatched(run_id: int) -> None:
    """Note that a queued run never reached the queue (enqueued_at NULL), so `dispatch_undispatched` sends it within seconds.

    It runs after the commit, outside the session's transaction: on a connection of its own.
    """
    with db.engine.begin() as conn:
        conn.execute(update(WorkflowRun).where(WorkflowRun.id == run_id, WorkflowRun.status == "queued").values(enqueued_at=None))


def active_runs(org: Organization) -> int:
    """The org's runs that hold a place of the plan's runs at once: queued, running or waiting for approval."""
    query = scoped(WorkflowRun, org).with_only_columns(func.count(WorkflowRun.id)).where(WorkflowRun.status.in_(ACTIVE_STATUSES))
    return int(db.session.scalar(query) or 0)


def _take_a_place(org: Organization) -> None:
    """Refuse (402) a run over the plan's runs at once, counted under the org's billing lock so that racing starts
    count one after the other. A run waiting for approval holds its place: an approval resumes it without asking again."""
    billing.hold(org)
    billing.check(org, "concurrent_runs", 1, current=active_runs(org))


def start_run(org: Organization, workflow_id: str, data: Any, priority: str = "default", by=None, *, version: WorkflowVersion | None = None) -> WorkflowRun:
    """Queue a run of the workflow's latest version (or of `version`); it is enqueued by priority after the commit."""
    if priority not in PRIORITIES:
        raise ValidationFailed({"priority": f"Use one of: {', '.join(PRIORITIES)}."})
    if version is None:
        wf, version = with_latest(org, workflow_id)
    else:
        wf = get_workflow(org, workflow_id)
    problems = version_problems(version)
    if problems:
        raise ValidationFailed(problems, "This workflow has problems to fix before it can run.")
    data = {} if data is None else data
    problems = validate_input(version.definition, data)
    if problems:
        raise ValidationFailed(problems, "The input does not fit the workflow's input schema.")
    _take_a_place(org)
    run = WorkflowRun(org_id=org.id, workflow_id=wf.id, version_id=version.id, created_by_id=getattr(by, "id", None), priority=priority,
                      input=data, enqueued_at=utcnow())
    db.session.add(run)
    db.session.flush()
    # The plan's runs a month, counted before the run is queued: over the limit is a 402 and nothing is queued.
    billing.consume(org, "workflow_runs", 1, idempotency_key=f"run:{run.public_id}")
    enqueue_after_commit(run.id, priority)
    return run


_problems: dict[tuple[int, Any], dict] = {}


def version_problems(version: WorkflowVersion) -> dict:
    """validate() of a version's definition, remembered: versions never change, and every run of one asks."""
    # Keyed by id and creation time: row ids come back after a database is emptied (tests), creation times don't.
    key = (version.id, version.created_at)
    problems = _problems.get(key)
    if problems is None:
        problems = validate(version.definition)
        if len(_problems) > 1024:
            _problems.clear()
        _problems[key] = problems
    return dict(problems)


def list_runs(org: Organization, wf: Workflow | None = None, limit: int = 50) -> list[WorkflowRun]:
    """The org's latest runs (of one workflow when given), newest first."""
    # The list shows each run's workflow name and version number: both in the same query, not one query per row
    # (and not the versions' definitions, which the list never reads).
    query = (scoped(WorkflowRun, org).order_by(WorkflowRun.id.desc()).limit(limit)
             .options(joinedload(WorkflowRun.workflow), joinedload(WorkflowRun.version).load_only(WorkflowVersion.number)))
    if wf is not None:
        query = query.where(WorkflowRun.workflow_id == wf.id)
    return list(db.session.scalars(query))


def get_run(org: Organization, public_id: str) -> WorkflowRun:
    """The org's run; NotFound for another org's."""
    return get_scoped_or_404(WorkflowRun, org, public_id)


def transition(run_id: int, from_statuses: tuple[str, ...], **values) -> bool:
    """Move a run to new values only if its status is one of from_statuses; True when it moved."""
    result = db.session.execute(
        update(WorkflowRun).where(WorkflowRun.id == run_id, WorkflowRun.status.in_(from_statuses)).values(updated_at=utcnow(), **values),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount == 1


def record_usage(run: WorkflowRun) -> None:
    """Write (or update, after a retry) the usage event of a run that ended outside its job."""
    event = db.session.scalar(select(WorkflowUsageEvent).filter_by(run_id=run.id)) or WorkflowUsageEvent(
        org_id=run.org_id, workflow_id=run.workflow_id, run_id=run.id)
    event.status, event.duration_ms, event.llm_tokens = run.status, run.duration_ms or 0, run.llm_tokens
    db.session.add(event)
    db.session.flush()
    if run.llm_tokens:  # the run's LLM tokens into the billing ledger: what it spent since last metered (a retry adds)
        billing.record_total(db.session.get(Organization, run.org_id), "llm_tokens", run.llm_tokens, f"run:{run.public_id}:tokens")


def cancel(org: Organization, public_id: str) -> WorkflowRun:
    """Stop a queued, running or waiting run; a running one stops before its next node."""
    run = get_run(org, public_id)
    if not transition(run.id, ACTIVE_STATUSES, status="cancelled", finished_at=utcnow(), current_node=None, error="Cancelled."):
        db.session.refresh(run)
        raise Conflict(f"The run has already {run.status}.", code="run_finished")
    db.session.refresh(run)
    record_usage(run)
    notifications.resolve_for(org, "workflow.needs_approval", run.public_id)  # nothing is left to approve
    return run


def _not_waiting(run: WorkflowRun) -> Conflict:
    return Conflict(f"The run is {run.status.replace('_', ' ')}, not waiting for approval.", code="not_waiting")


def decide(org: Organization, public_id: str, approved: bool, by=None, reason: str = "") -> WorkflowRun:
    """Approve or reject a run waiting for approval, as its approval node's `approvers` allow.

    An approval writes the decision to the state and the run resumes; a rejection (which needs a reason) ends the
    run as "rejected" at its approval node: the nodes after it never run.
    """
    run = get_run(org, public_id)
    if run.status != "waiting_for_approval":
        raise _not_waiting(run)
    reason = approvals.check_decision(org, run, approved, reason, by)  # validated before the first write
    now, node_id = utcnow(), run.current_node
    decision = {"approved": bool(approved), "by": getattr(by, "email", None), "by_name": getattr(by, "display_name", None),
                "at": now.isoformat(), "reason": reason}
    if approved:
        moved = transition(run.id, ("waiting_for_approval",), status="queued", decision=decision, enqueued_at=now)
    else:
        moved = transition(run.id, ("waiting_for_approval",), status="rejected", decision=decision, finished_at=now, current_node=None)
    db.session.refresh(run)
    if not moved:
        raise _not_waiting(run)
    approvals.mark_decided(run.id, node_id, decision, now)  # the step says its outcome, not "waiting"
    if approved:
        enqueue_after_commit(run.id, run.priority)
    else:
        record_usage(run)
        if by is None or run.created_by_id != by.id:  # whoever started it hears why it stopped (not from themselves)
            tell_starter(org.id, run.created_by_id, run.workflow.name, run.public_id, "workflow.rejected",
                         approver_name=by.display_name if by is not None else "An approver", reason=reason)
    notifications.resolve_for(org, "workflow.needs_approval", run.public_id)  # the approval request is answered, for everyone
    return run


def retry(org: Organization, public_id: str) -> WorkflowRun:
    """Resume a failed run from its last checkpoint: the failed node runs again, earlier ones do not."""
    run = get_run(org, public_id)
    if run.status == "failed":
        _take_a_place(org)  # a retried run runs again: it needs a place like a new one
    if not transition(run.id, ("failed",), status="queued", error=None, finished_at=None, started_at=None, enqueued_at=utcnow()):
        raise Conflict("Only a failed run can be retried.", code="not_failed")
    db.session.refresh(run)
    enqueue_after_commit(run.id, run.priority)
    return run


def run_again(org: Organization, public_id: str, by=None) -> WorkflowRun:
    """A new run of the workflow with the same input and priority."""
    run = get_run(org, public_id)
    return start_run(org, run.workflow.public_id, run.input, run.priority, by)
