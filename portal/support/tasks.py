"""Support jobs: the SLA check, run every minute by the periodic scheduler."""

from __future__ import annotations

from portal.support import service


def check_sla() -> int:
    """Refresh open tickets' SLA states and send ticket.sla_warning / ticket.sla_breached once each."""
    return service.check_sla_all()
