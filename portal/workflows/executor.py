"""The run job: claim a run, invoke its graph with the checkpointer, record each node's step and the outcome.

This is the job runtime, not a service: a run's progress goes through the job's own database connection,
each write committed as it happens (see RunJob), so that what a run did survives a crash of its worker and
the reaper can resume it from there. The job's unit of work (infra.jobs.execute) holds only what the run
sends: the starter's notifications, committed when the job ends.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from flask import Flask, current_app
from langgraph.types import Command
from sqlalchemy import Integer, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from portal.billing import service as billing
from portal.extensions import db
from portal.infra.jobs import enqueue
from portal.models import UTCDateTime, utcnow
from portal.orgs.models import Organization
from portal.workflows.checkpoint import fresh_thread, held_connection
from portal.workflows.compiler import compiled
from portal.workflows.jobcontext import UNKNOWN, RunStopped, running
from portal.workflows.models import Workflow, WorkflowRun, WorkflowStep, WorkflowUsageEvent, WorkflowVersion
from portal.workflows.nodes import truncate
from portal.workflows.services.notices import ask_approvers, human_duration, tell_starter

log = logging.getLogger(__name__)


class Heartbeats:
    """One thread per process touches the heartbeat of every run the process is running, so the reaper can
    tell a live worker from a dead one. (A thread per run cost a thread start and join on every run.)"""

    def __init__(self, app: Flask):
        self.app, self.runs, self._lock = app, set(), threading.Lock()
        self._thread: threading.Thread | None = None

    @classmethod
    def of(cls, app: Flask) -> Heartbeats:
        """The app's heartbeat thread (one per process and app)."""
        with _heartbeats_lock:
            beats = app.extensions.get("workflow_heartbeats")
            if beats is None:
                beats = app.extensions["workflow_heartbeats"] = cls(app)
            return beats

    def add(self, run_id: int) -> None:
        """Beat for run_id until it is discarded."""
        with self._lock:
            self.runs.add(run_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True, name="workflow-heartbeats")
                self._thread.start()

    def discard(self, run_id: int) -> None:
        """Stop beating for run_id."""
        with self._lock:
            self.runs.discard(run_id)

    def _loop(self) -> None:
        every = self.app.config["WORKFLOW_HEARTBEAT_SECONDS"]
        while True:
            time.sleep(every)
            with self._lock:
                ids = list(self.runs)
            if not ids:
                continue
            try:
                with self.app.app_context():
                    db.session.execute(update(WorkflowRun).where(WorkflowRun.id.in_(ids), WorkflowRun.status == "running").values(heartbeat_at=utcnow()),
                                       execution_options={"synchronize_session": False})
                    db.session.commit()  # its own unit of work: a beat is worth something only once it is visible
                    db.session.remove()
            except Exception:  # noqa: BLE001 - the database blinked; the next beat tries again
                log.exception("heartbeat of runs %s failed", ids)


_heartbeats_lock = threading.Lock()


def worker_name() -> str:
    """host:pid of this worker process, written on the runs it claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


class RunJob:
    """One job's run: its claimed row's values and the one database connection its progress goes through.

    A run costs few round trips this way: each write is a single statement (no BEGIN/COMMIT), the
    connection is checked out once, and nothing is loaded twice. On PostgreSQL the connection is in
    autocommit mode and the progress writes (claim, node start and end) turn synchronous_commit off for
    their own transaction, inside the statement (set_config(..., true): no SET round trips, nothing left
    on the connection), so they do not wait for the WAL flush; the run's final transition (and its wait for
    an approval) does wait for it, and so makes every earlier write of the run durable with it (the WAL is
    flushed in order). On SQLite each write is its own short transaction.
    The statements are built once (see _statements): building them costs more than running them.
    """

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.pg = db.engine.dialect.name == "postgresql"
        self.sql = _statements(self.pg)
        conn = db.engine.connect()
        if self.pg:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        self.conn = conn
        self.row: Any = None  # the claimed run's columns (see claim)
        self.definition: dict = {}
        self.has_steps = False
        self.attempts: dict[str, int] | None = None  # node id -> steps recorded so far, loaded on first need
        self.marked: str | None = None  # the node the last write named current, having checked the run was still on

    def write(self, statement, params: dict | None = None) -> Any:
        """Run one statement as its own transaction; its RETURNING row (or None)."""
        result = self.conn.execute(statement, params)
        row = result.first() if result.returns_rows else None
        self.conn.commit()  # on purpose, per step: a run's progress must outlive a crash of its worker
        return row

    def close(self) -> None:
        """Give the connection back to the pool as it was taken (no statement left a setting on it)."""
        self.conn.close()

    def claim(self, limit: int, now) -> str:
        """Take the run if it is queued and its org has fewer than `limit` running: "claimed", "deferred" or "skipped"."""
        params = {"run_id": self.run_id, "limit": limit, "now": now, "worker": worker_name()}
        # PostgreSQL: with the pinned version's definition and creation time, the workflow's name and whether the run has steps
        row = self.write(self.sql["claim"], params)
        if not self.pg and row is not None:
            extra = self.conn.execute(self.sql["version"], {"run_id": self.run_id, "version_id": row.version_id}).first()
            self.conn.commit()  # reads end their transaction too: the connection holds no snapshot between steps
            row = SimpleNamespace(**row._mapping, **extra._mapping)
        if row is None:  # not queued any more, or its org is at its limit: one more read tells which
            found = self.conn.execute(select(WorkflowRun.status, WorkflowRun.priority).where(WorkflowRun.id == self.run_id)).first()
            self.conn.commit()
            if found is not None and found.status == "queued":
                # The run's row is committed as queued: enqueue at once, no unit of work to wait for.
                enqueue(run_workflow, self.run_id, queue=found.priority, delay=current_app.config["WORKFLOW_LIMIT_RETRY_SECONDS"])
                return "deferred"
            return "skipped"
        self.row, self.definition, self.has_steps = row, row.definition, bool(row.has_steps)
        return "claimed"

    def node_started(self, node_id: str, now) -> None:
        """Mark the node as the run's current one; stop the run if it was cancelled or ran out of time."""
        if self.marked == node_id:
            return  # the previous node's end already named this node current and checked the run
        row = self.write(self.sql["node_started"], {"run_id": self.run_id, "node": node_id, "now": now})
        self._check(row)
        self.marked = node_id

    def _check(self, row) -> None:
        """Stop the run (RunStopped) if the write found it no longer running, or past its timeout."""
        if row is None:
            self.marked = None
            raise RunStopped(self.run_id)
        timeout = current_app.config["WORKFLOW_RUN_TIMEOUT"]
        if row.started_at and utcnow() - row.started_at > timedelta(seconds=timeout):
            self.marked = None
            self.finish("failed", error=f"Timed out: the run took longer than {timeout} s.")
            raise RunStopped(self.run_id)

    def node_ended(self, node: dict, started, state: dict, status: str, output: Any, error: str | None, tokens: int, next_node: Any) -> None:
        """Record one attempt of a node (start, end, duration, input, output, error) and, in the same statement,
        name the node that runs next (next_node: an id, None for END, UNKNOWN) as current; then stop the run if
        it was cancelled or ran out of time, before the next node starts.

        An approval node that ends "succeeded" is resuming past its decision: its one step is the one recorded at
        the pause, which the decision marked approved (services.approvals.mark_decided), so no step is written
        for it, only the run's progress (the same one statement, without the step's INSERT)."""
        if node["type"] == "approval" and status == "succeeded":
            self._moved_on(node, tokens, next_node)
            return
        if self.attempts is None:
            self.attempts = {}
            if self.has_steps:  # a resumed run: number attempts after the ones recorded before
                self.attempts = dict(self.conn.execute(select(WorkflowStep.node_id, func.count()).where(WorkflowStep.run_id == self.run_id)
                                                       .group_by(WorkflowStep.node_id)).all())
                self.conn.commit()
        self.attempts[node["id"]] = self.attempts.get(node["id"], 0) + 1
        now = utcnow()
        current = node["id"] if next_node is UNKNOWN else next_node
        params = {
            "run_id": self.run_id, "now": now, "next_node": current, "tokens": tokens,
            "s_run_id": self.run_id, "s_node_id": node["id"], "s_node_type": node["type"], "s_status": status, "s_attempt": self.attempts[node["id"]],
            "s_started_at": started, "s_duration": int((now - started).total_seconds() * 1000),
            "s_input": truncate({"input": state.get("input"), "state": state.get("state")}),
            "s_output": truncate(output) if output is not None else None, "s_error": error[:2000] if error else None,
        }
        if self.pg:  # one statement: the step, and the run's current node, tokens and heartbeat
            row = self.write(self.sql["node_ended"], params)
        else:
            self.conn.execute(self.sql["step"], params)
            row = self.conn.execute(self.sql["node_ended"], params).first()
            self.conn.commit()  # the step and the run's progress together, as on PostgreSQL
        self._progressed(row, tokens, next_node, current)

    def _moved_on(self, node: dict, tokens: int, next_node: Any) -> None:
        """The run's progress past a node whose step is recorded already: its next node, tokens and heartbeat."""
        current = node["id"] if next_node is UNKNOWN else next_node
        row = self.write(self.sql["moved_on"], {"run_id": self.run_id, "now": utcnow(), "next_node": current, "tokens": tokens})
        self._progressed(row, tokens, next_node, current)

    def _progressed(self, row, tokens: int, next_node: Any, current: Any) -> None:
        if row is None and tokens:  # cancelled meanwhile: the tokens were spent all the same
            self.write(update(WorkflowRun).where(WorkflowRun.id == self.run_id).values(llm_tokens=WorkflowRun.llm_tokens + tokens))
        self.marked = None if next_node is UNKNOWN or next_node is None else current
        self._check(row)

    def finish(self, status: str, *, output: dict | None = None, error: str | None = None) -> bool:
        """End a running run (durably) with its usage event, then tell its starter; False if it was no longer
        running (cancelled meanwhile: a cancelled run never turns into "succeeded", and nobody is told twice)."""
        now = utcnow()
        duration = int((now - self.row.started_at).total_seconds() * 1000) if self.row.started_at else 0
        params = {"run_id": self.run_id, "new_status": status, "new_output": output, "new_error": error, "now": now, "usage_duration": duration}
        if self.pg:  # one statement: the status and the usage event are written together or not at all
            row = self.write(self.sql["finish"], params)
        else:
            row = self.conn.execute(self.sql["finish"], params).first()
            if row is not None:
                self.conn.execute(self.sql["usage"], {**params, "u_org_id": row.org_id, "u_workflow_id": row.workflow_id, "u_tokens": row.llm_tokens})
            self.conn.commit()  # the outcome and its usage event in one transaction
        if row is None:
            return False
        self.meter(row.llm_tokens or 0)
        # Only the job whose conditional UPDATE moved the run gets here, after that UPDATE committed: sent once.
        if status == "succeeded":
            self.tell("workflow.succeeded", duration=human_duration(duration))
        elif status == "failed":
            self.tell("workflow.failed", error=(error or "")[:500])
        return True

    def meter(self, tokens: int) -> None:
        """The run's LLM tokens (its total, as the final write returned it) into the billing ledger (what it spent
        since it was last metered: a retry adds), committed with the job's unit of work. A failure is logged: the
        run's outcome is committed already."""
        try:
            if tokens:
                billing.record_total(db.session.get(Organization, self.row.org_id), "llm_tokens", tokens, f"run:{self.row.public_id}:tokens")
        except Exception:  # noqa: BLE001
            log.exception("could not meter the tokens of run %s", self.row.public_id)
            db.session.rollback()

    def tell(self, event: str, **data) -> None:
        """Notify the run's starter; committed with the job's unit of work. A failure to notify is logged:
        it must not change the run's outcome, which is committed already."""
        try:
            tell_starter(self.row.org_id, self.row.created_by_id, self.row.workflow_name, self.row.public_id, event, **data)
        except Exception:  # noqa: BLE001
            log.exception("could not send %s for run %s", event, self.row.public_id)
            db.session.rollback()  # the job runtime's own session: drop the half-written notification

    def ask_approvers(self, step: str) -> None:
        """Ask those who may approve the waiting run (not its starter, by default); committed with the job's unit
        of work. A failure to notify is logged: the run waits all the same, and its page offers the decision."""
        try:
            ask_approvers(self.run_id, step)
        except Exception:  # noqa: BLE001
            log.exception("could not ask for the approval of run %s", self.row.public_id)
            db.session.rollback()


_built: dict[bool, dict[str, Any]] = {}


def _statements(pg: bool) -> dict[str, Any]:
    """The statements of RunJob for PostgreSQL (pg) or SQLite, built once; their values are bound parameters."""
    built = _built.get(pg)
    if built is not None:
        return built
    run_id, now = bindparam("run_id", type_=Integer), bindparam("now", type_=UTCDateTime())
    # PostgreSQL: a progress write's own commit need not wait for the WAL flush (see RunJob); the outcome's does.
    no_wait = (func.set_config("synchronous_commit", "off", True).label("no_wait"),) if pg else ()
    wait = (func.set_config("synchronous_commit", "on", True).label("wait"),) if pg else ()  # whatever the server's default
    other = aliased(WorkflowRun)
    same_org = other.org_id == WorkflowRun.org_id  # a correlation of two runs of one org, not an org filter
    running_in_org = select(func.count()).select_from(other).where(same_org, other.status == "running").scalar_subquery()
    claim = (
        update(WorkflowRun)
        .where(WorkflowRun.id == run_id, WorkflowRun.status == "queued", running_in_org < bindparam("limit", type_=Integer))
        .values(status="running", started_at=func.coalesce(WorkflowRun.started_at, now), heartbeat_at=now, worker=bindparam("worker"), updated_at=now)
        .returning(WorkflowRun.public_id, WorkflowRun.org_id, WorkflowRun.workflow_id, WorkflowRun.version_id, WorkflowRun.created_by_id,
                   WorkflowRun.input, WorkflowRun.decision, WorkflowRun.started_at)
    )
    has_steps = select(WorkflowStep.id).where(WorkflowStep.run_id == run_id).exists().label("has_steps")
    # What the job needs of the pinned version and its workflow, in the claim's round trip on PostgreSQL.
    version_columns = (WorkflowVersion.definition, WorkflowVersion.created_at.label("version_created_at"), Workflow.name.label("workflow_name"), has_steps)
    finish = (
        update(WorkflowRun).where(WorkflowRun.id == run_id, WorkflowRun.status == "running")
        .values(status=bindparam("new_status"), output=bindparam("new_output", type_=WorkflowRun.output.type), error=bindparam("new_error"),
                finished_at=now, current_node=None, decision=None, updated_at=now)
        .returning(WorkflowRun.id, WorkflowRun.org_id, WorkflowRun.workflow_id, WorkflowRun.status, WorkflowRun.llm_tokens)
    )
    usage_fields = ["org_id", "workflow_id", "run_id", "status", "duration_ms", "llm_tokens", "created_at"]
    step = insert(WorkflowStep).values(
        run_id=bindparam("s_run_id", type_=Integer), node_id=bindparam("s_node_id"), node_type=bindparam("s_node_type"), status=bindparam("s_status"),
        attempt=bindparam("s_attempt", type_=Integer), started_at=bindparam("s_started_at", type_=UTCDateTime()), finished_at=now,
        duration_ms=bindparam("s_duration", type_=Integer), input=bindparam("s_input"), output=bindparam("s_output"), error=bindparam("s_error"))
    node_ended = (
        update(WorkflowRun).where(WorkflowRun.id == run_id, WorkflowRun.status == "running")
        .values(current_node=bindparam("next_node"), heartbeat_at=now, updated_at=now, llm_tokens=WorkflowRun.llm_tokens + bindparam("tokens", type_=Integer))
        .returning(WorkflowRun.started_at, *no_wait)
    )
    built = {
        "node_started": update(WorkflowRun).where(WorkflowRun.id == run_id, WorkflowRun.status == "running")
        .values(current_node=bindparam("node"), heartbeat_at=now, updated_at=now).returning(WorkflowRun.started_at, *no_wait),
        # PostgreSQL: the step's INSERT rides along in the same statement (a data-modifying CTE)
        "node_ended": node_ended.add_cte(step.cte("step")) if pg else node_ended,
        "moved_on": node_ended,  # a node's end that writes no step (an approval node resumed past its decided step)
        "step": step,
        "waiting": update(WorkflowRun).where(WorkflowRun.id == run_id, WorkflowRun.status == "running")
        .values(status="waiting_for_approval", current_node=bindparam("node"), decision=None, updated_at=now).returning(WorkflowRun.id, *wait),
    }
    if pg:
        claimed = claim.cte("claimed")
        built["claim"] = (select(claimed, *version_columns, *no_wait).join_from(claimed, WorkflowVersion, WorkflowVersion.id == claimed.c.version_id)
                          .join(Workflow, Workflow.id == claimed.c.workflow_id))
        moved = finish.cte("moved")
        usage = pg_insert(WorkflowUsageEvent).from_select(usage_fields, select(
            moved.c.org_id, moved.c.workflow_id, moved.c.id, moved.c.status, bindparam("usage_duration", type_=Integer), moved.c.llm_tokens, now))
        built["finish"] = _usage_upsert(usage).returning(WorkflowUsageEvent.run_id, WorkflowUsageEvent.llm_tokens, *wait)
    else:
        built["claim"], built["finish"] = claim, finish
        built["version"] = (select(*version_columns).join(Workflow, Workflow.id == WorkflowVersion.workflow_id)
                            .where(WorkflowVersion.id == bindparam("version_id", type_=Integer)))
        built["usage"] = _usage_upsert(sqlite_insert(WorkflowUsageEvent).values(
            org_id=bindparam("u_org_id"), workflow_id=bindparam("u_workflow_id"), run_id=run_id, status=bindparam("new_status"),
            duration_ms=bindparam("usage_duration"), llm_tokens=bindparam("u_tokens"), created_at=now))
    _built[pg] = built
    return built


def _usage_upsert(statement):
    """The usage event of a run, or its update when the run had one (it failed, then was retried)."""
    return statement.on_conflict_do_update(index_elements=["run_id"], set_={
        "status": statement.excluded.status, "duration_ms": statement.excluded.duration_ms, "llm_tokens": statement.excluded.llm_tokens})


def run_workflow(run_id: int) -> str:
    """The run job (registered in workflows.wiring): claim the run, invoke (or resume) its graph with the
    checkpointer, record the outcome; "skipped" when it was cancelled or taken, "deferred" when its org is busy."""
    app = current_app._get_current_object()
    job = RunJob(run_id)
    try:
        outcome = job.claim(app.config["WORKFLOW_MAX_CONCURRENT_RUNS"], utcnow())
        if outcome != "claimed":
            return outcome
        row = job.row
        graph = compiled(row.version_id, row.version_created_at, job.definition)
        # max_concurrency 1: a run's nodes run one at a time anyway (no fan-out), and LangGraph's executor then starts
        # one thread per run for its checkpoint saves instead of several.
        config = {"configurable": {"thread_id": row.public_id, "run_id": run_id}, "recursion_limit": app.config["WORKFLOW_RECURSION_LIMIT"],
                  "max_concurrency": 1}
        fresh: Any = {"input": row.input, "state": {}, "tokens": 0}
        first_start = row.decision is None and not job.has_steps
        if first_start:
            inp: Any = fresh  # a first start: no checkpoint to look at (saves reading one)
        else:
            snapshot = graph.get_state(config)
            if not snapshot.values:
                inp = fresh
            elif _interrupts(snapshot) and row.decision is not None:
                inp = Command(resume=row.decision)
            else:
                inp = None  # resume from the last checkpoint (a retry, or a worker that died)
        fresh_token = fresh_thread.set(row.public_id if first_start else None)
        beats = Heartbeats.of(app)
        beats.add(run_id)
        try:
            with running(job), held_connection(app):
                # durability="sync": each step's checkpoint is saved before the next step starts. Stronger than the
                # default ("async", saved in the background while the next step runs), and cheaper here: measured
                # 2-3 ms less CPU per 3-node run, for want of hand-offs between threads.
                result = graph.invoke(inp, config, durability="sync")
        except RunStopped:
            return "stopped"
        except Exception as exc:  # noqa: BLE001 - the run records why it failed
            job.finish("failed", error=(getattr(exc, "in_words", None) or f"{type(exc).__name__}: {exc}")[:2000])
            return "failed"
        finally:
            beats.discard(run_id)
            fresh_thread.reset(fresh_token)
        interrupts = result.get("__interrupt__") if isinstance(result, dict) else None
        if interrupts:
            value = getattr(interrupts[0], "value", None)
            node = value.get("node") if isinstance(value, dict) else None
            waiting = job.write(job.sql["waiting"], {"run_id": run_id, "node": node, "now": utcnow()})
            if waiting is not None:
                job.ask_approvers(node or "")
            return "waiting"
        job.finish("succeeded", output=(result or {}).get("state") or {})
        return "succeeded"
    finally:
        job.close()


def _interrupts(snapshot) -> list:
    found = list(getattr(snapshot, "interrupts", ()) or ())
    for task in snapshot.tasks or ():
        found.extend(task.interrupts or ())
    return found
