"""usage.threshold_reached: billing and org admins hear at 80%, 90% and 100% of a metered limit, once per
period and metric, even when many consumers cross the threshold at the same moment."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.billing import service
from portal.billing.plans import FREE
from portal.extensions import db
from portal.models import utcnow
from portal.notifications.catalog import EVENTS
from portal.notifications.models import Notification
from portal.uow import unit_of_work

from .conftest import at_once, org_by_id

LIMIT = FREE.limit("workflow_runs")  # 100: each run is 1%


def notices() -> list[tuple[str, str]]:
    db.session.expire_all()
    rows = db.session.scalars(select(Notification).where(Notification.event == "usage.threshold_reached").order_by(Notification.id))
    return [(n.user.email, n.data["percent"]) for n in rows]


def test_the_event_is_in_the_catalog_now_that_billing_sends_it():
    event = EVENTS["usage.threshold_reached"]
    assert {"metric", "percent", "used", "limit", "period_end"} <= set(event.variables)


def test_admins_hear_at_80_90_and_100_percent_once_each_and_users_never(app, org, admin, biller, user):
    with unit_of_work():
        service.record_usage(org, "workflow_runs", 79, "seed")
    assert notices() == []
    for _ in range(21):  # 80 .. 100, one run at a time
        with unit_of_work():
            service.consume(org, "workflow_runs")
    assert sorted(notices()) == sorted([(e, p) for p in ("80", "90", "100") for e in (admin.email, biller.email)])
    note = db.session.scalar(select(Notification).where(Notification.event == "usage.threshold_reached", Notification.user_id == biller.id))
    assert "workflow runs" in note.title and note.data["limit"] == f"{LIMIT:,}"


def test_a_jump_past_two_thresholds_announces_the_highest_once(app, org, admin):
    with unit_of_work():
        service.record_usage(org, "workflow_runs", 95, "jump")
        service.record_usage(org, "workflow_runs", 1, "more")
    assert notices() == [(admin.email, "90")]


def test_a_new_period_announces_again(app, org, admin):
    with unit_of_work():
        service.record_usage(org, "workflow_runs", 85, "this-month")
        service.record_usage(org, "workflow_runs", 85, "next-month", at=utcnow() + timedelta(days=32))
    assert notices() == [(admin.email, "80"), (admin.email, "80")]


def test_twenty_consumers_crossing_80_percent_together_announce_it_once(app, org, admin, biller):
    with unit_of_work():
        service.record_usage(org, "workflow_runs", 75, "seed")
    org_id = org.id
    results = at_once(app, 20, lambda i: service.consume(org_by_id(org_id), "workflow_runs"))
    assert all(isinstance(r, int) for r in results), results
    assert sorted(notices()) == sorted([(admin.email, "80"), (biller.email, "80"), (admin.email, "90"), (biller.email, "90")])
