"""The upkeep jobs of workflows, run by the periodic scheduler (the run job itself is executor.run_workflow)."""

from __future__ import annotations

from portal.workflows.services import maintenance


def reap() -> dict:
    """Resume or fail runs whose worker died; fail timed-out runs; re-enqueue forgotten queued runs."""
    return maintenance.reap()


def prune() -> int:
    """Drop steps and checkpoints past the retention window."""
    return maintenance.prune()


def dispatch() -> int:
    """Enqueue queued runs that never reached the queue (Redis was down when they were accepted)."""
    return maintenance.dispatch_undispatched()
