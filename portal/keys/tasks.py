"""Periodic jobs of the keys domain (registered in portal/keys/__init__.py)."""

from __future__ import annotations

from portal.keys import service


def flush_usage() -> int:
    """Usage counters from Redis (or memory) into the database."""
    return service.flush_usage()


def notify_expiring() -> int:
    """key.expiring notices 7 days and 1 day before keys expire."""
    return service.notify_expiring()
