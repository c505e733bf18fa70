"""The usage ledger and quotas: the one way every domain asks "may this org do N more of M now?" and
records what it used.

Metered metrics (runs, API calls, tokens) count on one counter row per org, metric and period. A consume
is one conditional UPDATE (`used = used + n WHERE used + n <= limit`) acted on by whether it matched, so
concurrent requests at the limit never overshoot it: the database serializes them on the row. The ledger
row of each recorded quantity carries an idempotency key under a unique constraint: the same key twice
counts once.

Gauges (runs at once) are counted by the asking domain; `hold(org)` first locks the org's billing account
row for the rest of the unit of work, so that concurrent requests count and add one after the other.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, update

from portal.billing.models import BillingAccount, UsageCounter, UsageRecord
from portal.billing.plans import CEILINGS, LABELS, METERED, METRICS, THRESHOLDS, period_bounds, period_of
from portal.billing.services.accounts import account, billing_url, insert_ignoring_duplicates, limit_of, upgrade_url
from portal.errors import QuotaExceeded, ValidationFailed
from portal.extensions import db
from portal.models import utcnow
from portal.notifications import service as notifications
from portal.orgs import members
from portal.orgs.models import Organization
from portal.tenancy import scoped

NOTIFIED_ROLES = ("billing_admin", "org_admin")

# How much of a gauge an org holds now, said by the domain that holds it (orgs' seats, support's files, workflows' runs at once):
# registered from that domain's init_app, so billing shows the figure without importing the domain.
GaugeReader = Callable[[Organization], int]
_GAUGES: dict[str, GaugeReader] = {}


def measure(metric: str, reader: GaugeReader) -> None:
    """Let the domain that holds a gauge tell the usage report how much of it an org holds now."""
    if metric not in METRICS or metric in METERED:
        raise ValueError(f"{metric} is not a gauge")
    _GAUGES[metric] = reader


def _counter_id(org: Organization, metric: str, period: str) -> int:
    """The id of org's counter row for metric and period, inserted at zero on first use."""
    query = scoped(UsageCounter, org).with_only_columns(UsageCounter.id).where(UsageCounter.metric == metric, UsageCounter.period == period)
    found = db.session.scalar(query)
    if found is None:
        insert_ignoring_duplicates(UsageCounter, {"org_id": org.id, "metric": metric, "period": period, "used": 0, "notified_percent": 0},
                                   ["org_id", "metric", "period"])
        found = db.session.scalar(query)
    return found


def used_in(org: Organization, metric: str, period: str | None = None) -> int:
    """How much of a metered metric org used in a period (the current one by default)."""
    query = scoped(UsageCounter, org).with_only_columns(UsageCounter.used).where(
        UsageCounter.metric == metric, UsageCounter.period == (period or period_of(utcnow())))
    return int(db.session.scalar(query) or 0)


def _metered(metric: str) -> None:
    if metric not in METERED:
        raise ValueError(f"{metric} is not a metered metric; use one of {', '.join(METERED)}")


def _ledger(org: Organization, metric: str, quantity: int, key: str, at: datetime) -> bool:
    """Write the ledger row; False when this idempotency key was recorded before."""
    values = {"org_id": org.id, "metric": metric, "quantity": quantity, "idempotency_key": key, "period": period_of(at),
              "occurred_at": at, "created_at": utcnow()}
    return insert_ignoring_duplicates(UsageRecord, values, ["org_id", "idempotency_key"]) is not None


def _add(counter_id: int, n: int, limit: int | None) -> int | None:
    """Add n to the counter if it stays within limit; the new total, or None when it would not fit."""
    statement = update(UsageCounter).where(UsageCounter.id == counter_id)
    if limit is not None:
        statement = statement.where(UsageCounter.used + n <= limit)
    result = db.session.execute(statement.values(used=UsageCounter.used + n).returning(UsageCounter.used),
                                execution_options={"synchronize_session": False})
    return result.scalar()


def consume(org: Organization, metric: str, n: int = 1, *, idempotency_key: str | None = None, at: datetime | None = None) -> int:
    """Use n of a metered metric now if the plan allows it; the period's new total. Raises QuotaExceeded
    (402) and counts nothing when it would go over. With a key seen before, counts nothing and succeeds."""
    _metered(metric)
    at = at or utcnow()
    if not _ledger(org, metric, n, idempotency_key or _random_key(), at):
        return used_in(org, metric, period_of(at))
    limit = limit_of(org, metric)
    counter = _counter_id(org, metric, period_of(at))
    total = _add(counter, n, limit)
    if total is None:
        raise QuotaExceeded(metric, limit or 0, used_in(org, metric, period_of(at)), upgrade_url(org),
                            f"Your plan allows {limit:,} {LABELS[metric]} and this would go over it. Upgrade for more.")
    _announce_threshold(org, metric, counter, total, limit, period_of(at))
    return total


def record_usage(org: Organization, metric: str, quantity: int, idempotency_key: str, *, at: datetime | None = None) -> bool:
    """Record usage that happened (it is never refused); False when the key was recorded before."""
    _metered(metric)
    if quantity < 0:
        raise ValidationFailed({"quantity": "Usage cannot be negative."})
    at = at or utcnow()
    if not _ledger(org, metric, quantity, idempotency_key, at):
        return False
    counter = _counter_id(org, metric, period_of(at))
    total = _add(counter, quantity, None)
    _announce_threshold(org, metric, counter, total or 0, limit_of(org, metric), period_of(at))
    return True


def record_total(org: Organization, metric: str, total: int, key: str) -> int:
    """Record a running total (a run's LLM tokens over its retries): only what it grew by since the last
    record under `key` counts; the amount counted now."""
    _metered(metric)
    already = db.session.scalar(scoped(UsageRecord, org).with_only_columns(func.coalesce(func.sum(UsageRecord.quantity), 0))
                                .where(UsageRecord.metric == metric, UsageRecord.idempotency_key.like(f"{key}#%"))) or 0
    grown = int(total) - int(already)
    if grown <= 0:
        return 0
    return grown if record_usage(org, metric, grown, f"{key}#{total}") else 0


def check(org: Organization, metric: str, n: int = 1, *, current: int | None = None) -> int | None:
    """Raise QuotaExceeded when org may not have n more of metric now; the room left otherwise (None: unlimited).

    Metered metrics read their counter; gauges (seats, storage, runs at once) take the amount held now as
    `current`, which the asking domain knows; a ceiling (a key's rate limit) takes the value asked for as n."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric}")
    limit = limit_of(org, metric)
    if limit is None:
        return None
    if metric in CEILINGS and n > limit:  # a setting's cap: n is the value asked for
        raise QuotaExceeded(metric, limit, n, upgrade_url(org),
                            f"Your plan caps the {LABELS[metric]} at {limit:,}. Upgrade for more.")
    used = used_in(org, metric) if metric in METERED else int(current or 0)
    if used + n > limit:
        raise QuotaExceeded(metric, limit, used, upgrade_url(org), _refusal(metric, limit, used))
    return limit - used - n


def _refusal(metric: str, limit: int, used: int) -> str:
    """What a refused check tells people: the limit, what holds it, and what to do (pages link the plans after it;
    the API gives their address in the error's fields)."""
    if metric == "concurrent_runs":  # a place that comes back by itself: say so, besides the upgrade
        active = "1 is" if used == 1 else f"{used:,} are"
        return (f"Your plan runs {limit:,} workflow{'' if limit == 1 else 's'} at once and {active} already queued, running or "
                "waiting for approval. Start this one when a run ends, or upgrade for more.")
    return f"Your plan allows {limit:,} {LABELS[metric]} and {used:,} are used. Upgrade for more."


def hold(org: Organization) -> None:
    """Lock org's billing account row until the unit of work ends: check-then-add on a gauge (count the
    org's active runs, then start one) is then one at a time per org, and its plan cannot change meanwhile."""
    acct = account(org)
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks (FOR UPDATE is dropped): a write takes its single writer lock now, before
        # the count, instead of at the INSERT after it, when a concurrent request may have counted the same.
        db.session.execute(update(BillingAccount).where(BillingAccount.id == acct.id).values(updated_at=BillingAccount.updated_at),
                           execution_options={"synchronize_session": False})
    db.session.refresh(acct, with_for_update=True)  # PostgreSQL: SELECT ... FOR UPDATE; the fresh plan for the check


def _random_key() -> str:
    return "auto-" + secrets.token_urlsafe(18)


# ------------------------------------------------------------------ thresholds


def _announce_threshold(org: Organization, metric: str, counter_id: int, total: int, limit: int | None, period: str) -> None:
    """Tell billing and org admins when usage crosses 80, 90 or 100% of the limit: once a period, claimed
    with a conditional UPDATE so that concurrent consumers (or two workers) announce it once."""
    if not limit:
        return
    percent = total * 100 // limit
    crossed = max((t for t in THRESHOLDS if percent >= t), default=0)
    if not crossed:
        return
    claimed = db.session.execute(
        update(UsageCounter).where(UsageCounter.id == counter_id, UsageCounter.notified_percent < crossed).values(notified_percent=crossed),
        execution_options={"synchronize_session": False},
    ).rowcount == 1
    if claimed:
        recipients = members.admins(org, roles=NOTIFIED_ROLES)
        data = {"metric": LABELS[metric], "percent": str(crossed), "used": f"{total:,}", "limit": f"{limit:,}",
                "period_end": period_bounds(period)[1].strftime("%Y-%m-%d"), "url": billing_url(org)}
        notifications.notify(org, recipients, "usage.threshold_reached", data)


# ------------------------------------------------------------------ reading usage


@dataclass
class MetricUsage:
    metric: str
    label: str
    used: int | None  # None: no domain measures it in this app
    limit: int | None
    period: str | None  # metered metrics only

    @property
    def percent(self) -> int | None:
        """Share of the limit used (capped at 100), or None when unlimited or not measured."""
        if self.used is None or not self.limit:
            return None
        return min(100, self.used * 100 // self.limit)


def usage_report(org: Organization, now: datetime | None = None, metrics: tuple[str, ...] = METRICS,
                 held: dict[str, int] | None = None) -> list[MetricUsage]:
    """Per metric (all, or those named): used, limit and period (metered) or the amount held now (gauges, as their
    domains measure them: a query each, unless the caller already counted it and says so in `held`)."""
    held = held or {}
    now = now or utcnow()
    period = period_of(now)
    counters = {c.metric: c.used for c in db.session.scalars(scoped(UsageCounter, org).where(UsageCounter.period == period))}
    report = []
    for metric in (m for m in METRICS if m in metrics):
        limit = limit_of(org, metric)
        if metric in METERED:
            report.append(MetricUsage(metric, LABELS[metric], counters.get(metric, 0), limit, period))
        else:
            reader = _GAUGES.get(metric)
            amount = held[metric] if metric in held else reader(org) if reader is not None else None
            report.append(MetricUsage(metric, LABELS[metric], amount, limit, None))
    return report


def daily_usage(org: Organization, metric: str, now: datetime | None = None) -> list[tuple[str, int]]:
    """(YYYY-MM-DD, quantity) for each day of the current period so far: the billing page's chart."""
    now = now or utcnow()
    start, _end = period_bounds(period_of(now))
    rows = db.session.execute(
        scoped(UsageRecord, org).with_only_columns(UsageRecord.occurred_at, UsageRecord.quantity)
        .where(UsageRecord.metric == metric, UsageRecord.period == period_of(now))
    ).all()
    days = {(start + timedelta(days=i)).strftime("%Y-%m-%d"): 0 for i in range((now - start).days + 1)}
    for occurred_at, quantity in rows:
        day = occurred_at.astimezone(UTC).strftime("%Y-%m-%d")
        days[day] = days.get(day, 0) + int(quantity)
    return sorted(days.items())


def forecast(usage: MetricUsage, now: datetime | None = None) -> datetime | None:
    """At this period's pace, when usage reaches its limit; None when it won't within the period."""
    if usage.period is None or not usage.limit or not usage.used:
        return None
    now = now or utcnow()
    start, end = period_bounds(usage.period)
    if usage.used >= usage.limit:
        return now
    elapsed = max((now - start).total_seconds(), 3600.0)  # the first hour's pace is noise
    reach = start + timedelta(seconds=elapsed * usage.limit / usage.used)
    return reach if reach < end else None
