"""Periodic jobs of the keys domain (registered in portal/keys/wiring.py); each runs in the job's unit of work."""

from __future__ import annotations

from portal.extensions import db
from portal.keys import service
from portal.keys.auth import limiter


def flush_usage() -> int:
    """Usage counters from Redis (or memory) into the database; returns the buckets written."""
    counts, last = limiter().drain_usage()
    if not counts and not last:
        return 0
    # Draining took the counts out of Redis: until the database has them they exist only here. So this
    # job commits itself (the unit of work it runs in then has nothing left to do), and gives the counts
    # back to the limiter if the write or the commit fails, instead of losing them with a rollback.
    try:
        written = service.record_usage(counts, last)
        db.session.commit()
    except Exception:
        db.session.rollback()
        limiter().restore_usage(counts, last)
        raise
    return written


def notify_expiring() -> int:
    """key.expiring notices 7 days and 1 day before keys expire."""
    return service.notify_expiring()
