"""Support jobs: the SLA check, run every minute by the periodic scheduler (registered in wiring.py)."""

from __future__ import annotations

from portal.support import service
from portal.uow import unit_of_work


def check_sla() -> int:
    """Refresh open tickets' SLA states and send ticket.sla_warning / ticket.sla_breached once each.

    A batch at a time, each its own unit of work: a batch's claims and notifications commit together, and a
    long check holds no row for longer than its batch."""
    sent, after = 0, 0
    while after is not None:
        with unit_of_work():
            count, after = service.check_sla_batch(after)
        sent += count
    return sent
