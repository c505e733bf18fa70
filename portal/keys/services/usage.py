"""What keys were used for: daily counts by endpoint and outcome, last use, and storing the limiter's counts.

Requests are counted in the rate limiter's memory (and Redis), never in the database on the request path;
the periodic job (portal.keys.tasks.flush_usage) drains them and stores them here.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import bindparam, func, or_, select, update

from portal.billing import service as billing
from portal.extensions import db
from portal.infra.ratelimit import LastUsed, UsageCounts
from portal.keys.auth import limiter
from portal.keys.models import OUTCOMES, ApiKey, ApiKeyUsage
from portal.models import insert_for, utcnow
from portal.orgs.models import Organization
from portal.tenancy import scoped_by_org_id, unscoped

USAGE_DAYS = 30


def _days(count: int) -> list[date]:
    today = utcnow().date()
    return [today - timedelta(days=i) for i in range(count - 1, -1, -1)]


def usage_totals(keys: list[ApiKey], days: int = USAGE_DAYS) -> dict[int, dict[str, int]]:
    """Requests of each key over the last `days` days: {key.id: {"total", "2xx", "4xx", "429", "5xx"}}."""
    totals = {k.id: {"total": 0, **dict.fromkeys(OUTCOMES, 0)} for k in keys}
    if not keys:
        return totals
    since = _days(days)[0]
    rows = db.session.execute(
        select(ApiKeyUsage.key_id, ApiKeyUsage.outcome, func.sum(ApiKeyUsage.count))
        .where(ApiKeyUsage.key_id.in_(list(totals)), ApiKeyUsage.day >= since)
        .group_by(ApiKeyUsage.key_id, ApiKeyUsage.outcome)
    )
    for key_id, outcome, count in rows:
        totals[key_id][outcome] = totals[key_id].get(outcome, 0) + int(count)
        totals[key_id]["total"] += int(count)
    return totals


# The home page's chart: built once (see tenancy.scoped_by_org_id).
_ORG_USAGE_SINCE = (
    scoped_by_org_id(ApiKeyUsage).with_only_columns(ApiKeyUsage.day, ApiKeyUsage.outcome, func.sum(ApiKeyUsage.count))
    .where(ApiKeyUsage.day >= bindparam("since")).group_by(ApiKeyUsage.day, ApiKeyUsage.outcome)
)


def org_usage_per_day(org: Organization, days: int = 14) -> list[dict]:
    """The org's API requests on each of the last `days` days, by outcome, over all its keys: {"date", "total", "outcomes"}."""
    series = _days(days)
    per_day = {d: {"date": d.isoformat(), "total": 0, "outcomes": dict.fromkeys(OUTCOMES, 0)} for d in series}
    rows = db.session.execute(_ORG_USAGE_SINCE, {"org_id": org.id, "since": series[0]})
    for day, outcome, count in rows:
        bucket = per_day.get(day)
        if bucket is not None:
            bucket["outcomes"][outcome] = bucket["outcomes"].get(outcome, 0) + int(count)
            bucket["total"] += int(count)
    return list(per_day.values())


def usage(key: ApiKey, days: int = USAGE_DAYS) -> dict:
    """Per day for the last `days` days: totals by outcome, and by endpoint and outcome."""
    series = _days(days)
    per_day = {d: {"date": d.isoformat(), "total": 0, "outcomes": dict.fromkeys(OUTCOMES, 0), "endpoints": {}} for d in series}
    endpoints: dict[str, dict[str, int]] = {}
    rows = db.session.execute(
        select(ApiKeyUsage.day, ApiKeyUsage.endpoint, ApiKeyUsage.outcome, ApiKeyUsage.count)
        .where(ApiKeyUsage.key_id == key.id, ApiKeyUsage.day >= series[0])
        .order_by(ApiKeyUsage.day, ApiKeyUsage.endpoint)
    )
    for day, endpoint, outcome, count in rows:
        bucket = per_day.get(day)
        if bucket is None:
            continue
        bucket["total"] += count
        bucket["outcomes"][outcome] = bucket["outcomes"].get(outcome, 0) + count
        bucket["endpoints"].setdefault(endpoint, dict.fromkeys(OUTCOMES, 0))[outcome] += count
        endpoints.setdefault(endpoint, {"total": 0, **dict.fromkeys(OUTCOMES, 0)})
        endpoints[endpoint][outcome] += count
        endpoints[endpoint]["total"] += count
    totals = {"total": 0, **dict.fromkeys(OUTCOMES, 0)}
    for bucket in per_day.values():
        totals["total"] += bucket["total"]
        for outcome, count in bucket["outcomes"].items():
            totals[outcome] += count
    return {"days": list(per_day.values()), "endpoints": dict(sorted(endpoints.items(), key=lambda e: -e[1]["total"])), "totals": totals}


def last_used(keys: list[ApiKey]) -> dict[int, tuple[datetime | None, str | None]]:
    """When and from where each key was last used, including uses not yet flushed to the database."""
    pending = limiter().pending_last_used([k.public_id for k in keys])
    found = {}
    for k in keys:
        when, ip = k.last_used_at, k.last_used_ip
        if k.public_id in pending:
            ts, pending_ip = pending[k.public_id]
            live = datetime.fromtimestamp(ts, UTC)
            if when is None or live > when:
                when, ip = live, pending_ip
        found[k.id] = (when, ip)
    return found


BILLED_OUTCOMES = ("2xx", "4xx")  # calls served; rate-limited (429) and failed (5xx) ones are not billed


def meter_api_calls(rows: list[dict]) -> None:
    """Flushed calls into the billing ledger, per org and day, in the flush's own transaction (no write per
    request: the batching is the key usage flush's). Each flush records under its own idempotency keys."""
    flush = secrets.token_hex(8)
    per_org_day: Counter = Counter()
    for row in rows:
        if row["outcome"] in BILLED_OUTCOMES:
            per_org_day[(row["org_id"], row["day"])] += row["count"]
    if not per_org_day:
        return
    orgs = unscoped(Organization, reason="a flush carries the API calls of every organization's keys at once")
    by_id = {o.id: o for o in db.session.scalars(orgs.where(Organization.id.in_({org_id for org_id, _ in per_org_day})))}
    for (org_id, day), calls in per_org_day.items():
        at = datetime(day.year, day.month, day.day, tzinfo=UTC)
        billing.record_usage(by_id[org_id], "api_calls", calls, f"api-calls:{flush}:{day.isoformat()}", at=at)


def record_usage(counts: UsageCounts, last: LastUsed) -> int:
    """Add drained usage counts to the daily buckets and move last uses forward (flushed); returns the buckets written."""
    ids = {bucket[0] for bucket in counts} | set(last)
    if not ids:
        return 0
    keys = unscoped(ApiKey, reason="usage counts arrive from every organization's keys at once, by key id")
    known = {pid: (pk, org_id) for pid, pk, org_id in db.session.execute(
        keys.with_only_columns(ApiKey.public_id, ApiKey.id, ApiKey.org_id).where(ApiKey.public_id.in_(ids)))}
    rows = [
        {"key_id": known[pid][0], "org_id": known[pid][1], "day": date.fromisoformat(day), "endpoint": endpoint[:200], "outcome": outcome, "count": n}
        for (pid, day, endpoint, outcome), n in counts.items()
        if pid in known  # a deleted key's counts have nowhere to go
    ]
    if rows:
        stmt = insert_for(ApiKeyUsage, db.engine.dialect.name)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key_id", "day", "endpoint", "outcome"], set_={"count": ApiKeyUsage.count + stmt.excluded.count}
        )
        db.session.execute(stmt, rows)
        meter_api_calls(rows)
    for pid, (when, ip) in last.items():
        if pid not in known:
            continue
        moment = datetime.fromtimestamp(when, UTC)
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.id == known[pid][0], or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < moment))
            .values(last_used_at=moment, last_used_ip=ip[:64] or None)
        )
    db.session.flush()
    return len(rows)
