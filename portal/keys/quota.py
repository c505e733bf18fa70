"""The plan's API calls a month, checked before a key's request is served, with no query on the hot path.

API calls are counted in memory and reach the billing ledger with the key usage flush (every 30 s, see
portal.keys.tasks), not with a write per request. The check reads the same ledger: each process keeps, per
org, whether the org is over its plan's calls and asks billing again at most every QUOTA_TTL seconds. So a
request costs a dict lookup, and an org past its limit is refused (402 `quota_exceeded`) within the flush
interval plus QUOTA_TTL: a soft limit, as metered API plans are. An upgrade (a billing account change bumps
the key epoch) drops the readings at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from portal.billing import service as billing
from portal.errors import QuotaExceeded
from portal.extensions import db
from portal.orgs.models import Organization

QUOTA_TTL = 10.0  # seconds a process trusts its reading of an org's API calls


@dataclass(frozen=True)
class QuotaReading:
    """One process's view of an org's API calls: the refusal to answer while over the plan's limit (None: room left)."""

    refusal: QuotaExceeded | None
    read_at: float


class ApiCallQuota:
    """Per-process readings of each org's API calls against its plan, refreshed every QUOTA_TTL seconds."""

    def __init__(self, ttl: float = QUOTA_TTL):
        self.ttl = ttl
        self._readings: dict[int, QuotaReading] = {}
        self._lock = threading.Lock()

    def refusal(self, org_id: int, now: float) -> QuotaExceeded | None:
        """Why the org's next API call is refused (its plan's calls are used up), or None."""
        reading = self._readings.get(org_id)
        if reading is None or now - reading.read_at >= self.ttl:
            reading = QuotaReading(read_org(org_id), now)
            with self._lock:
                self._readings[org_id] = reading
        return reading.refusal

    def clear(self) -> None:
        """Forget every reading (a plan changed somewhere): the next call of each org reads again."""
        with self._lock:
            self._readings.clear()


def read_org(org_id: int) -> QuotaExceeded | None:
    """Ask billing whether the org may make one more API call this period (two indexed reads)."""
    org = db.session.get(Organization, org_id)
    if org is None:
        return None
    try:
        billing.check(org, "api_calls")
    except QuotaExceeded as exc:
        return exc
    return None
