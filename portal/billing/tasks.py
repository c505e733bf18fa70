"""Billing's jobs (registered in portal/billing/wiring.py); each runs in the job's unit of work."""

from __future__ import annotations

from portal.billing.services import webhooks


def reconcile() -> int:
    """Re-enqueue stored events left unprocessed, and store and enqueue events the provider sent that never arrived."""
    rows = webhooks.pending() + webhooks.fetch_missed()
    for row_id in dict.fromkeys(rows):
        webhooks.enqueue_after_commit(row_id)
    return len(rows)
