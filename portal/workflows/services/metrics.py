"""Workflow metrics: runs by status, p50/p95 duration, failure rate (an org's or the platform's), queue depths
and live workers; and the platform's totals in Prometheus' text format."""

from __future__ import annotations

from sqlalchemy import Select, func

from portal.extensions import db
from portal.infra.jobs import queue_depths, runner
from portal.orgs.models import Organization
from portal.tenancy import scoped, unscoped
from portal.workflows.models import RUN_STATUSES, WorkflowRun

RECENT = 2000  # the durations of this many latest succeeded runs make the percentiles


def _percentile(values: list[int], q: float) -> int | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _runs(org: Organization | None) -> Select:
    if org is None:
        return unscoped(WorkflowRun, reason="platform-wide totals for the metrics scraper: counts only, no org's data")
    return scoped(WorkflowRun, org)


def metrics(org: Organization | None) -> dict:
    """Runs by status, p50/p95 duration, failure rate (org's, or the platform's), queue depths and live workers."""
    counted = _runs(org).with_only_columns(WorkflowRun.status, func.count()).group_by(WorkflowRun.status)
    by_status = {s: 0 for s in RUN_STATUSES} | dict(db.session.execute(counted).all())
    recent = (_runs(org).with_only_columns(WorkflowRun.started_at, WorkflowRun.finished_at)
              .where(WorkflowRun.status == "succeeded").order_by(WorkflowRun.id.desc()).limit(RECENT))
    durations = [int((finished - started).total_seconds() * 1000) for started, finished in db.session.execute(recent).all() if started and finished]
    done = by_status["succeeded"] + by_status["failed"]
    jobs = runner()
    return {
        "runs_by_status": by_status,
        "duration_ms": {"p50": _percentile(durations, 0.5), "p95": _percentile(durations, 0.95)},
        "queue_depth": queue_depths(),
        "live_workers": jobs.live_workers(),
        "failure_rate": round(by_status["failed"] / done, 4) if done else 0.0,
    }


def prometheus_text() -> str:
    """The platform's workflow totals in Prometheus' text exposition format (no organization's data)."""
    m = metrics(None)
    lines = ["# HELP vetrai_workflow_runs Workflow runs by status.", "# TYPE vetrai_workflow_runs gauge"]
    lines += [f'vetrai_workflow_runs{{status="{s}"}} {n}' for s, n in m["runs_by_status"].items()]
    lines += ["# HELP vetrai_workflow_run_duration_ms Duration of recent succeeded runs.", "# TYPE vetrai_workflow_run_duration_ms gauge"]
    lines += [f'vetrai_workflow_run_duration_ms{{quantile="{q}"}} {v if v is not None else "NaN"}'
              for q, v in (("0.5", m["duration_ms"]["p50"]), ("0.95", m["duration_ms"]["p95"]))]
    lines += ["# HELP vetrai_queue_depth Jobs waiting per queue.", "# TYPE vetrai_queue_depth gauge"]
    lines += [f'vetrai_queue_depth{{queue="{q}"}} {n}' for q, n in m["queue_depth"].items()]
    lines += ["# TYPE vetrai_live_workers gauge", f"vetrai_live_workers {m['live_workers']}",
              "# TYPE vetrai_workflow_failure_rate gauge", f"vetrai_workflow_failure_rate {m['failure_rate']}"]
    return "\n".join(lines) + "\n"
