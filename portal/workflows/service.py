"""Workflows: definitions and versions, runs (start, execute, cancel, approve, retry), recovery, retention, metrics.

Run status changes are conditional UPDATEs (`... WHERE status IN (...)`): whichever of the worker and a
cancel gets there first wins, so a cancelled run never turns into "succeeded".
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import threading
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import Flask, current_app
from sqlalchemy import func, select, text, update

from portal.errors import Conflict, ServiceError, ValidationFailed
from portal.extensions import db
from portal.infra.jobs import enqueue
from portal.models import utcnow
from portal.orgs.models import Organization
from portal.tenancy import get_scoped_or_404, scoped
from portal.workflows.definition import STARTERS, validate, validate_input
from portal.workflows.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    PRIORITIES,
    RUN_STATUSES,
    AllowedHost,
    LLMSettings,
    Workflow,
    WorkflowRun,
    WorkflowStep,
    WorkflowUsageEvent,
    WorkflowVersion,
)
from portal.workflows.nodes import truncate

log = logging.getLogger(__name__)
TASK = "portal.workflows.tasks.run_workflow"


# ---------------------------------------------------------------- settings: LLM endpoint, SSRF allowlist


def _fernet() -> Fernet:
    secret = current_app.config.get("WORKFLOW_SECRET_KEY") or current_app.config["SECRET_KEY"]
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def save_llm_settings(org: Organization, base_url: str, model: str, api_key: str | None) -> LLMSettings:
    """Set the org's OpenAI-compatible endpoint; an empty api_key keeps the stored one."""
    base_url, model = base_url.strip(), model.strip()
    problems = {}
    if not base_url.startswith(("http://", "https://")):
        problems["base_url"] = "Give an http:// or https:// URL."
    if not model:
        problems["model"] = "Name the model."
    if problems:
        raise ValidationFailed(problems)
    settings = db.session.scalar(scoped(LLMSettings, org)) or LLMSettings(org_id=org.id)
    settings.base_url, settings.model = base_url, model
    if api_key:
        settings.api_key_encrypted = _fernet().encrypt(api_key.encode()).decode()
    db.session.add(settings)
    db.session.commit()
    return settings


def llm_settings(org: Organization) -> LLMSettings | None:
    return db.session.scalar(scoped(LLMSettings, org))


def llm_settings_for(org_id: int) -> tuple[LLMSettings | None, str | None]:
    """The org's LLM settings and its decrypted API key."""
    settings = db.session.scalar(select(LLMSettings).where(LLMSettings.org_id == org_id))
    if settings is None or not settings.api_key_encrypted:
        return settings, None
    try:
        return settings, _fernet().decrypt(settings.api_key_encrypted.encode()).decode()
    except InvalidToken:
        return settings, None


def allowed_hosts() -> set[str]:
    return set(db.session.scalars(select(AllowedHost.host)))


def allow_host(host: str, by=None) -> AllowedHost:
    """Let http and llm nodes reach host (name or name:port) although it is internal: super admins only."""
    host = host.strip().lower()
    if not host or "/" in host:
        raise ValidationFailed({"host": "Give a host name or host:port."})
    row = db.session.scalar(select(AllowedHost).filter_by(host=host)) or AllowedHost(host=host, added_by_id=getattr(by, "id", None))
    db.session.add(row)
    db.session.commit()
    return row


def disallow_host(host: str) -> None:
    db.session.execute(AllowedHost.__table__.delete().where(AllowedHost.host == host.strip().lower()))
    db.session.commit()


# ---------------------------------------------------------------- definitions


def list_workflows(org: Organization) -> list[Workflow]:
    return list(db.session.scalars(scoped(Workflow, org).where(Workflow.deleted_at.is_(None)).order_by(Workflow.name)))


def get_workflow(org: Organization, public_id: str) -> Workflow:
    wf = get_scoped_or_404(Workflow, org, public_id)
    if wf.deleted_at is not None:
        from flask import abort

        abort(404)
    return wf


def latest(wf: Workflow) -> WorkflowVersion:
    return db.session.scalar(select(WorkflowVersion).filter_by(workflow_id=wf.id, number=wf.latest_version))


def _checked(definition: Any, strict: bool) -> dict:
    if not isinstance(definition, dict):
        raise ValidationFailed({"definition": "The definition must be a JSON object."})
    if strict:
        problems = validate(definition)
        if problems:
            raise ValidationFailed(problems, "The workflow definition has problems.")
    elif not str(definition.get("name") or "").strip():
        raise ValidationFailed({"name": "Give the workflow a name."})
    return definition


def create_workflow(org: Organization, definition: dict, by=None, *, strict: bool = True) -> Workflow:
    """A new workflow with version 1 (strict: refuse a definition with problems)."""
    definition = _checked(definition, strict)
    wf = Workflow(org_id=org.id, name=str(definition["name"])[:200], description=str(definition.get("description") or ""), created_by_id=getattr(by, "id", None), latest_version=1)
    db.session.add(wf)
    db.session.flush()
    db.session.add(WorkflowVersion(workflow_id=wf.id, number=1, definition=definition, created_by_id=getattr(by, "id", None)))
    db.session.commit()
    return wf


def create_from_starter(org: Organization, key: str, by=None) -> Workflow:
    if key not in STARTERS:
        raise ValidationFailed({"starter": "Unknown starter."})
    return create_workflow(org, STARTERS[key], by)


def new_version(org: Organization, public_id: str, definition: dict, by=None, *, strict: bool = True) -> Workflow:
    """Save a definition as the workflow's next version; earlier versions (and their runs) stay as they were."""
    wf = get_workflow(org, public_id)
    definition = _checked(definition, strict)
    # Lock the workflow row so two saves don't take the same number (a no-op on SQLite, which serializes writes).
    db.session.execute(select(Workflow.id).where(Workflow.id == wf.id).with_for_update())
    wf.latest_version += 1
    wf.name, wf.description = str(definition["name"])[:200], str(definition.get("description") or "")
    db.session.add(WorkflowVersion(workflow_id=wf.id, number=wf.latest_version, definition=definition, created_by_id=getattr(by, "id", None)))
    db.session.commit()
    return wf


def delete_workflow(org: Organization, public_id: str) -> None:
    """Hide the workflow; its runs and versions stay for billing and history."""
    wf = get_workflow(org, public_id)
    wf.deleted_at = utcnow()
    db.session.commit()


# ---------------------------------------------------------------- editor edits (each one makes a version)


def edit_definition(org: Organization, public_id: str, change: str, data: dict, by=None) -> Workflow:
    """Apply one editor change (add/remove node or edge, edit a node's config) as a new version."""
    import json

    wf = get_workflow(org, public_id)
    d = json.loads(json.dumps(latest(wf).definition))
    nodes, edges = d.setdefault("nodes", []), d.setdefault("edges", [])
    if change == "add_node":
        nid = (data.get("id") or "").strip()
        if not nid or any(n["id"] == nid for n in nodes) or nid in ("START", "END"):
            raise ValidationFailed({"id": "Give the node a new, unique id."})
        try:
            config = json.loads(data.get("config") or "{}")
        except ValueError as exc:
            raise ValidationFailed({"config": f"Not JSON: {exc}"}) from exc
        nodes.append({"id": nid, "type": data.get("type") or "transform", "config": config})
    elif change == "edit_node":
        node = next((n for n in nodes if n["id"] == data.get("id")), None)
        if node is None:
            raise ValidationFailed({"id": "No such node."})
        try:
            node["config"] = json.loads(data.get("config") or "{}")
        except ValueError as exc:
            raise ValidationFailed({"config": f"Not JSON: {exc}"}) from exc
        node["type"] = data.get("type") or node["type"]
    elif change == "remove_node":
        nid = data.get("id")
        d["nodes"] = [n for n in nodes if n["id"] != nid]
        d["edges"] = [e for e in edges if nid not in (e["from"], e["to"])]
    elif change == "add_edge":
        edge = {"from": (data.get("from") or "").strip(), "to": (data.get("to") or "").strip()}
        if not edge["from"] or not edge["to"]:
            raise ValidationFailed({"from": "Pick both ends."})
        if (data.get("when") or "").strip():
            edge["when"] = data["when"].strip()
        edges.append(edge)
    elif change == "remove_edge":
        index = int(data.get("index", -1))
        if not 0 <= index < len(edges):
            raise ValidationFailed({"index": "No such edge."})
        edges.pop(index)
    else:
        raise ServiceError("Unknown change.", code="bad_change")
    return new_version(org, public_id, d, by, strict=False)


# ---------------------------------------------------------------- runs


def start_run(org: Organization, workflow_id: str, data: Any, priority: str = "default", by=None, *, version: WorkflowVersion | None = None) -> WorkflowRun:
    """Create a run of the workflow's latest version, commit it, then enqueue it by priority."""
    wf = get_workflow(org, workflow_id)
    if priority not in PRIORITIES:
        raise ValidationFailed({"priority": f"Use one of: {', '.join(PRIORITIES)}."})
    version = version or latest(wf)
    problems = validate(version.definition)
    if problems:
        raise ValidationFailed(problems, "This workflow has problems to fix before it can run.")
    data = {} if data is None else data
    problems = validate_input(version.definition, data)
    if problems:
        raise ValidationFailed(problems, "The input does not fit the workflow's input schema.")
    run = WorkflowRun(org_id=org.id, workflow_id=wf.id, version_id=version.id, created_by_id=getattr(by, "id", None), priority=priority, input=data, enqueued_at=utcnow())
    db.session.add(run)
    db.session.commit()
    _enqueue(run)
    return run


def _enqueue(run: WorkflowRun, delay: float | None = None) -> None:
    enqueue(TASK, run.id, queue=run.priority, delay=delay)


def list_runs(org: Organization, wf: Workflow | None = None, limit: int = 50) -> list[WorkflowRun]:
    q = scoped(WorkflowRun, org).order_by(WorkflowRun.id.desc()).limit(limit)
    if wf is not None:
        q = q.where(WorkflowRun.workflow_id == wf.id)
    return list(db.session.scalars(q))


def get_run(org: Organization, public_id: str) -> WorkflowRun:
    return get_scoped_or_404(WorkflowRun, org, public_id)


def _transition(run_id: int, from_statuses: tuple[str, ...], **values) -> bool:
    """Move a run to new values only if its status is one of from_statuses; True when it moved."""
    result = db.session.execute(
        update(WorkflowRun).where(WorkflowRun.id == run_id, WorkflowRun.status.in_(from_statuses)).values(updated_at=utcnow(), **values),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return result.rowcount == 1


def cancel(org: Organization, public_id: str) -> WorkflowRun:
    """Stop a queued, running or waiting run; a running one stops before its next node."""
    run = get_run(org, public_id)
    if not _transition(run.id, ACTIVE_STATUSES, status="cancelled", finished_at=utcnow(), current_node=None, error="Cancelled."):
        db.session.refresh(run)
        raise Conflict(f"The run has already {run.status}.", code="run_finished")
    db.session.refresh(run)
    _record_usage(run)
    return run


def decide(org: Organization, public_id: str, approved: bool, by=None) -> WorkflowRun:
    """Approve or reject a run waiting for approval; the decision is written to the state and the run resumes."""
    run = get_run(org, public_id)
    decision = {"approved": bool(approved), "by": getattr(by, "email", None), "at": utcnow().isoformat()}
    if not _transition(run.id, ("waiting_for_approval",), status="queued", decision=decision, enqueued_at=utcnow()):
        db.session.refresh(run)
        raise Conflict(f"The run is {run.status.replace('_', ' ')}, not waiting for approval.", code="not_waiting")
    db.session.refresh(run)
    _enqueue(run)
    return run


def retry(org: Organization, public_id: str) -> WorkflowRun:
    """Resume a failed run from its last checkpoint: the failed node runs again, earlier ones do not."""
    run = get_run(org, public_id)
    if not _transition(run.id, ("failed",), status="queued", error=None, finished_at=None, started_at=None, enqueued_at=utcnow()):
        raise Conflict("Only a failed run can be retried.", code="not_failed")
    db.session.refresh(run)
    _enqueue(run)
    return run


def run_again(org: Organization, public_id: str, by=None) -> WorkflowRun:
    """A new run of the workflow with the same input and priority."""
    run = get_run(org, public_id)
    return start_run(org, run.workflow.public_id, run.input, run.priority, by)


# ---------------------------------------------------------------- execution (in the job)


class Heartbeat:
    """Touches the run's heartbeat while the job runs, so the reaper can tell a live worker from a dead one."""

    def __init__(self, app: Flask, run_id: int):
        self.app, self.run_id, self._stop = app, run_id, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"heartbeat-{run_id}")

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _loop(self) -> None:
        every = self.app.config["WORKFLOW_HEARTBEAT_SECONDS"]
        while not self._stop.wait(every):
            try:
                with self.app.app_context():
                    _transition(self.run_id, ("running",), heartbeat_at=utcnow())
                    db.session.remove()
            except Exception:  # noqa: BLE001 - the database blinked; the next beat tries again
                log.exception("heartbeat of run %s failed", self.run_id)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def execute(run_id: int) -> str:
    """Run (or resume) a run's graph: claim it, invoke the graph with the checkpointer, record the outcome."""
    from langgraph.types import Command

    from portal.workflows.compiler import RunStopped, compiled

    app = current_app._get_current_object()
    run = db.session.get(WorkflowRun, run_id)
    if run is None or run.status != "queued":
        return "skipped"
    limit = app.config["WORKFLOW_MAX_CONCURRENT_RUNS"]
    running = db.session.scalar(select(func.count()).select_from(WorkflowRun).where(WorkflowRun.org_id == run.org_id, WorkflowRun.status == "running"))
    if running >= limit:
        _enqueue(run, delay=app.config["WORKFLOW_LIMIT_RETRY_SECONDS"])
        return "deferred"
    now = utcnow()
    if not _transition(run.id, ("queued",), status="running", started_at=run.started_at or now, heartbeat_at=now, worker=worker_name()):
        return "skipped"
    db.session.refresh(run)
    graph = compiled(run.version)
    config = {"configurable": {"thread_id": run.public_id, "run_id": run.id}, "recursion_limit": app.config["WORKFLOW_RECURSION_LIMIT"]}
    fresh: Any = {"input": run.input, "state": {}, "tokens": 0}
    if run.decision is None and db.session.scalar(select(WorkflowStep.id).where(WorkflowStep.run_id == run.id).limit(1)) is None:
        inp: Any = fresh  # a first start: no checkpoint to look at (saves reading one)
    else:
        snapshot = graph.get_state(config)
        if not snapshot.values:
            inp = fresh
        elif _interrupts(snapshot) and run.decision is not None:
            inp = Command(resume=run.decision)
        else:
            inp = None  # resume from the last checkpoint (a retry, or a worker that died)
    beat = Heartbeat(app, run.id).start()
    try:
        result = graph.invoke(inp, config)
    except RunStopped:
        return "stopped"
    except Exception as exc:  # noqa: BLE001 - the run records why it failed
        _finish(run, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        return "failed"
    finally:
        beat.stop()
    interrupts = result.get("__interrupt__") if isinstance(result, dict) else None
    if interrupts:
        value = getattr(interrupts[0], "value", None)
        node = value.get("node") if isinstance(value, dict) else None
        if _transition(run.id, ("running",), status="waiting_for_approval", current_node=node, decision=None):
            _notify(run, "workflow.needs_approval", step=node or "")
        return "waiting"
    _finish(run, "succeeded", output=(result or {}).get("state") or {})
    return "succeeded"


def _interrupts(snapshot) -> list:
    found = list(getattr(snapshot, "interrupts", ()) or ())
    for task in snapshot.tasks or ():
        found.extend(task.interrupts or ())
    return found


def _finish(run: WorkflowRun, status: str, *, output: dict | None = None, error: str | None = None) -> bool:
    moved = _transition(run.id, ("running",), status=status, output=output, error=error, finished_at=utcnow(), current_node=None, decision=None)
    if moved:
        db.session.refresh(run)
        _record_usage(run)
        if status == "failed":
            _notify(run, "workflow.failed", error=(error or "")[:500])
    return moved


def _record_usage(run: WorkflowRun) -> None:
    event = db.session.scalar(select(WorkflowUsageEvent).filter_by(run_id=run.id)) or WorkflowUsageEvent(org_id=run.org_id, workflow_id=run.workflow_id, run_id=run.id)
    event.status, event.duration_ms, event.llm_tokens = run.status, run.duration_ms or 0, run.llm_tokens
    db.session.add(event)
    db.session.commit()


def _notify(run: WorkflowRun, event: str, **data) -> None:
    if run.created_by is None:
        return
    from portal.notifications import service as notifications

    try:
        org = db.session.get(Organization, run.org_id)
        notifications.notify(org, [run.created_by], event, {"workflow_name": run.workflow.name, "run_id": run.public_id, **data})
    except Exception:  # noqa: BLE001 - a notification must not change the run's outcome
        log.exception("could not send %s for run %s", event, run.public_id)
        db.session.rollback()


def _progress_write() -> None:
    """Steps and the current node are progress, not the truth (the checkpoint is): on PostgreSQL their commits
    need not wait for the WAL flush. Status changes (_transition) keep waiting for it."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def step_started(run_id: int, node: dict, state: dict) -> tuple[WorkflowRun, WorkflowStep]:
    """Record a node's start; stop the run if it was cancelled or ran out of time."""
    from portal.workflows.compiler import RunStopped

    attempts = select(func.count()).select_from(WorkflowStep).where(WorkflowStep.run_id == run_id, WorkflowStep.node_id == node["id"]).scalar_subquery()
    row = db.session.execute(select(WorkflowRun.status, WorkflowRun.started_at, attempts).where(WorkflowRun.id == run_id)).first()
    if row is None or row[0] != "running":
        db.session.rollback()
        raise RunStopped(run_id)
    run = db.session.get(WorkflowRun, run_id)
    timeout = current_app.config["WORKFLOW_RUN_TIMEOUT"]
    if row[1] and utcnow() - row[1] > timedelta(seconds=timeout):
        db.session.rollback()
        _finish(run, "failed", error=f"Timed out: the run took longer than {timeout} s.")
        raise RunStopped(run_id)
    _progress_write()
    started = utcnow()
    step = WorkflowStep(run_id=run_id, node_id=node["id"], node_type=node["type"], attempt=(row[2] or 0) + 1, started_at=started,
                        input=truncate({"input": state.get("input"), "state": state.get("state")}))
    db.session.add(step)
    db.session.execute(update(WorkflowRun).where(WorkflowRun.id == run_id).values(current_node=node["id"], heartbeat_at=started),
                       execution_options={"synchronize_session": False})
    db.session.commit()
    step.__dict__["started_at"] = started  # keep it for step_finished without a SELECT (commit expired it)
    return run, step


def step_finished(step: WorkflowStep, status: str, output: Any, error: str | None, tokens: int) -> None:
    now = utcnow()
    started_at = step.__dict__.get("started_at") or step.started_at  # loaded before the commit expired it: no SELECT
    _progress_write()
    step.status, step.finished_at = status, now
    step.duration_ms = int((now - started_at).total_seconds() * 1000)
    step.output = truncate(output) if output is not None else None
    step.error = error[:2000] if error else None
    if tokens:
        db.session.execute(update(WorkflowRun).where(WorkflowRun.id == step.run_id).values(llm_tokens=WorkflowRun.llm_tokens + tokens), execution_options={"synchronize_session": False})
    db.session.commit()


# ---------------------------------------------------------------- recovery and retention (periodic jobs)


def reap() -> dict[str, int]:
    """Runs whose worker died (no heartbeat) resume from their checkpoint, or fail after too many tries;
    runs past their timeout fail; queued runs nobody picked up (Redis was down) are enqueued again."""
    cfg = current_app.config
    now = utcnow()
    counts = {"resumed": 0, "failed": 0, "timed_out": 0, "requeued": 0}
    stale = now - timedelta(seconds=cfg["WORKFLOW_HEARTBEAT_TIMEOUT"])
    for run in db.session.scalars(select(WorkflowRun).where(WorkflowRun.status == "running", WorkflowRun.heartbeat_at < stale)).all():
        if run.recoveries < cfg["WORKFLOW_MAX_RECOVERIES"]:
            if _transition(run.id, ("running",), status="queued", recoveries=run.recoveries + 1, enqueued_at=now):
                db.session.refresh(run)
                _enqueue(run)
                counts["resumed"] += 1
        elif _finish(run, "failed", error=f"The worker running it stopped (no heartbeat since {run.heartbeat_at:%H:%M:%S} UTC), {run.recoveries} time(s)."):
            counts["failed"] += 1
    too_old = now - timedelta(seconds=cfg["WORKFLOW_RUN_TIMEOUT"])
    for run in db.session.scalars(select(WorkflowRun).where(WorkflowRun.status == "running", WorkflowRun.started_at < too_old)).all():
        if _finish(run, "failed", error=f"Timed out: the run took longer than {cfg['WORKFLOW_RUN_TIMEOUT']} s."):
            counts["timed_out"] += 1
    forgotten = now - timedelta(seconds=cfg["WORKFLOW_REQUEUE_AFTER"])
    for run in db.session.scalars(select(WorkflowRun).where(WorkflowRun.status == "queued", WorkflowRun.enqueued_at < forgotten)).all():
        if _transition(run.id, ("queued",), enqueued_at=now):
            _enqueue(run)
            counts["requeued"] += 1
    return counts


def prune() -> int:
    """Delete the steps and checkpoints of runs that finished before the retention window; runs stay."""
    from portal.workflows.checkpoint import saver

    cutoff = utcnow() - timedelta(days=current_app.config["WORKFLOW_RETENTION_DAYS"])
    runs = db.session.execute(select(WorkflowRun.id, WorkflowRun.public_id).where(WorkflowRun.status.in_(FINAL_STATUSES), WorkflowRun.finished_at < cutoff)).all()
    cp = saver(current_app._get_current_object())
    for run_id, public_id in runs:
        db.session.execute(WorkflowStep.__table__.delete().where(WorkflowStep.run_id == run_id))
        db.session.commit()  # before the saver's own connection writes (SQLite allows one writer)
        cp.delete_thread(public_id)
    return len(runs)


# ---------------------------------------------------------------- metrics


def _percentile(values: list[int], q: float) -> int | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def metrics(org: Organization | None) -> dict:
    """Runs by status, p50/p95 duration, failure rate (org's, or the platform's), queue depths and live workers."""
    q = select(WorkflowRun.status, func.count()).group_by(WorkflowRun.status)
    if org is not None:
        q = q.where(WorkflowRun.org_id == org.id)
    by_status = {s: 0 for s in RUN_STATUSES} | dict(db.session.execute(q).all())
    dq = select(WorkflowRun.started_at, WorkflowRun.finished_at).where(WorkflowRun.status == "succeeded").order_by(WorkflowRun.id.desc()).limit(2000)
    if org is not None:
        dq = dq.where(WorkflowRun.org_id == org.id)
    durations = [int((f - s).total_seconds() * 1000) for s, f in db.session.execute(dq).all() if s and f]
    done = by_status["succeeded"] + by_status["failed"]
    runner = current_app.extensions["jobs"]
    queues, workers = {}, 0
    if getattr(runner, "redis", None) is not None:
        from rq import Worker

        queues = {name: len(q) for name, q in runner.queues.items()}
        workers = Worker.count(connection=runner.redis)
    else:
        queues = {name: 0 for name in current_app.config["RQ_QUEUES"]}
        queues["default"] = getattr(runner, "_pending", 0)
        workers = current_app.config["INPROCESS_JOB_WORKERS"]
    return {
        "runs_by_status": by_status,
        "duration_ms": {"p50": _percentile(durations, 0.5), "p95": _percentile(durations, 0.95)},
        "queue_depth": queues,
        "live_workers": workers,
        "failure_rate": round(by_status["failed"] / done, 4) if done else 0.0,
    }
