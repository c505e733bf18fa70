"""The periodic notification job; the delivery job itself is `deliveries_job.deliver_batch`."""

from __future__ import annotations

import logging

from portal.notifications.services import deliveries

log = logging.getLogger(__name__)


def reconcile() -> dict[str, int]:
    """Periodic job: re-enqueue deliveries left queued, fail the ones stuck in sending."""
    result = deliveries.reconcile()
    if any(result.values()):
        log.info("notification reconciler: %s", result)
    return result
