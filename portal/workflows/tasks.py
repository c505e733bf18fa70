"""RQ jobs of workflows: they take ids and reload; the service does the work."""

from __future__ import annotations

from portal.workflows import service


def run_workflow(run_id: int) -> str:
    """Run, resume or skip (cancelled, taken) one workflow run."""
    return service.execute(run_id)


def reap() -> dict:
    """Resume or fail runs whose worker died; fail timed-out runs; re-enqueue forgotten queued runs."""
    return service.reap()


def prune() -> int:
    """Drop steps and checkpoints past the retention window."""
    return service.prune()
