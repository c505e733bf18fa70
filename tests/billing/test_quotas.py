"""Plans, the usage ledger and quotas: limits come from the plan in one place, the same idempotency key counts
once, and concurrent consumers at the limit never overshoot it (atomic counters, on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.billing import service
from portal.billing.models import UsageCounter, UsageRecord
from portal.billing.plans import FREE, METRICS, PLANS, get_plan, period_bounds, plan_for_price
from portal.errors import QuotaExceeded
from portal.extensions import db
from portal.uow import unit_of_work

from .conftest import at_once, org_by_id


def counter(org, metric="workflow_runs") -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.coalesce(func.sum(UsageCounter.used), 0)).where(UsageCounter.metric == metric))


def test_every_plan_defines_every_entitlement_and_a_price_per_interval():
    assert set(PLANS) == {"free", "pro", "enterprise"}
    for plan in PLANS.values():
        assert set(plan.entitlements) == set(METRICS)
        assert set(plan.prices) == {"month", "year"} and all(isinstance(c, int) for c in plan.prices.values())
        for interval in ("month", "year"):
            assert plan_for_price(plan.price_id(interval)) == (plan, interval)
    assert PLANS["pro"].limit("workflow_runs") > FREE.limit("workflow_runs")
    assert get_plan("nonsense") is FREE


def test_periods_are_calendar_months_in_utc():
    start, end = period_bounds("2025-12")
    assert (start.isoformat(), end.isoformat()) == ("2025-12-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00")


def test_an_org_without_an_account_has_the_free_limits(app, org):
    assert service.plan_of(org) is FREE
    assert service.limit_of(org, "workflow_runs") == FREE.limit("workflow_runs")


def test_the_same_idempotency_key_twice_counts_once(app, org):
    with unit_of_work():
        assert service.record_usage(org, "api_calls", 5, "batch-1") is True
        assert service.record_usage(org, "api_calls", 5, "batch-1") is False
        assert service.record_usage(org, "api_calls", 7, "batch-2") is True
    assert service.used_in(org, "api_calls") == 12
    assert db.session.scalar(select(func.count(UsageRecord.id))) == 2


def test_consume_refuses_with_402_details_past_the_limit_and_counts_nothing(app, org):
    limit = FREE.limit("workflow_runs")
    with unit_of_work():
        service.record_usage(org, "workflow_runs", limit - 2, "seed")
    with unit_of_work():
        assert service.consume(org, "workflow_runs", 2) == limit
    with pytest.raises(QuotaExceeded) as refused, unit_of_work():
        service.consume(org, "workflow_runs", 1)
    exc = refused.value
    assert (exc.status, exc.code) == (402, "quota_exceeded")
    assert exc.fields["metric"] == "workflow_runs" and exc.fields["limit"] == limit and exc.fields["used"] == limit
    assert exc.fields["upgrade_url"].endswith(f"/o/{org.slug}/billing/plans")
    assert counter(org) == limit


def test_check_says_whether_n_more_fit_without_counting(app, org):
    with unit_of_work():
        service.record_usage(org, "workflow_runs", FREE.limit("workflow_runs") - 1, "seed")
    assert service.check(org, "workflow_runs", 1) == 0
    with pytest.raises(QuotaExceeded):
        service.check(org, "workflow_runs", 2)
    seats = FREE.limit("seats")
    assert service.check(org, "seats", 1, current=seats - 1) == 0
    with pytest.raises(QuotaExceeded) as refused:
        service.check(org, "seats", 1, current=seats)
    assert refused.value.fields["used"] == seats


def test_a_super_admins_plan_raises_the_limits_at_once(app, org, admin):
    from tests.factories import UserFactory

    with unit_of_work():
        service.assign_plan(org, "pro", by=UserFactory(platform_role="super_admin"))
    assert service.limit_of(org, "workflow_runs") == PLANS["pro"].limit("workflow_runs")


@pytest.mark.parametrize("step", [1, 3])
def test_twenty_concurrent_consumers_at_the_limit_never_overshoot(app, org, step):
    limit = FREE.limit("workflow_runs")
    with unit_of_work():
        service.record_usage(org, "workflow_runs", limit - 10, "seed")
    org_id = org.id

    results = at_once(app, 20, lambda i: service.consume(org_by_id(org_id), "workflow_runs", step))

    accepted = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(accepted) + len(refused) == 20, [r for r in results if not isinstance(r, int | QuotaExceeded)]
    assert len(accepted) == 10 // step
    assert counter(org) == limit - 10 + step * len(accepted) <= limit
    # the ledger holds exactly the accepted consumptions (a refused one rolled back its row)
    assert db.session.scalar(select(func.count(UsageRecord.id))) == 1 + len(accepted)


def test_concurrent_records_with_one_key_count_once(app, org):
    org_id = org.id
    results = at_once(app, 10, lambda i: service.record_usage(org_by_id(org_id), "llm_tokens", 100, "same-key"))
    assert sorted(results) == [False] * 9 + [True]
    assert counter(org, "llm_tokens") == 100



def test_a_plan_change_is_seen_by_the_rest_of_the_same_request(app):
    """The account is read once per unit of work and then held: what the request changes, it reads back."""
    from tests.factories import OrgFactory, UserFactory

    org, root = OrgFactory(), UserFactory(platform_role="super_admin")
    db.session.commit()
    assert service.find_account(org) is None and service.plan_of(org) == FREE  # no account yet: the free plan
    service.assign_plan(org, "pro", root)  # creates the account in this unit of work: found from now on
    assert service.plan_of(org).key == "pro" and service.limit_of(org, "concurrent_runs") == get_plan("pro").entitlements["concurrent_runs"]
    service.assign_plan(org, "enterprise", root)  # a change later in the same request
    assert service.plan_of(org).key == "enterprise" and service.find_account(org) is service.find_account(org)
    db.session.commit()
    db.session.execute(select(UsageCounter.__table__).limit(1))  # a new transaction: the held row is refreshed, not stale
    assert service.plan_of(org).key == "enterprise"
