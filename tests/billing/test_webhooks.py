"""Stripe's webhooks: verified on the raw body (signature and timestamp), stored once by event id, answered,
and processed once on the job runner; out-of-order and duplicate events end where Stripe's state is; a failed
payment starts a grace period, then free limits, and a later payment restores the plan at once."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from flask import g, render_template_string
from sqlalchemy import func, select

from portal.billing import service, tasks
from portal.billing.models import WebhookEvent
from portal.billing.plans import FREE, PLANS
from portal.billing.services import webhooks
from portal.extensions import db
from portal.infra.payments import event_info
from portal.notifications.models import Notification
from portal.uow import unit_of_work

from .conftest import at_once, deliver, events_about


def stored() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(WebhookEvent.id)))


def subscribed(stripe, org) -> dict:
    """org subscribed to Pro monthly in Stripe (card on file); the subscription as Stripe has it."""
    with unit_of_work():
        customer, _ = service.ensure_customer(org)
    stripe.attach_card(customer)
    return stripe.call("POST", "/v1/subscriptions", {"customer": customer, "items[0][price]": "vetrai_pro_month", "metadata[org]": org.public_id})


def synthetic(kind: str, obj: dict, created: int) -> dict:
    """An event as Stripe would send it for a change localstripe makes silently (it sends no .updated)."""
    return {"id": f"evt_synth_{obj['id']}_{kind}_{created}", "object": "event", "type": kind, "created": created, "data": {"object": obj}}


def account(org):
    db.session.expire_all()
    return service.find_account(org)


def payment_notices(user) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Notification.id)).where(Notification.event == "invoice.payment_failed", Notification.user_id == user.id))


# ---------------------------------------------------------------------------------------------- refusals


def test_a_bad_signature_an_old_timestamp_or_a_malformed_body_is_400_and_nothing_is_stored(app, client, stripe, row_counts):
    event = {"id": "evt_refused", "object": "event", "type": "customer.subscription.updated", "created": int(time.time()), "data": {"object": {}}}
    payload = json.dumps(event).encode()
    before = row_counts()
    refusals = {
        "wrong secret": deliver(client, stripe, event, signature=stripe.sign(payload, secret="whsec_not_ours")),
        "no signature": deliver(client, stripe, event, signature=""),
        "tampered body": deliver(client, stripe, event, body=payload.replace(b"updated", b"deleted"), signature=stripe.sign(payload)),
        "old timestamp": deliver(client, stripe, event, signature=stripe.sign(payload, timestamp=int(time.time()) - 3600)),
        "not JSON": deliver(client, stripe, event, body=b"{not json", signature=stripe.sign(b"{not json")),
        "not an event": deliver(client, stripe, event, body=b'{"id": 1}', signature=stripe.sign(b'{"id": 1}')),
    }
    for why, response in refusals.items():
        assert response.status_code == 400, why
        assert response.get_json()["error"]["code"] == "invalid_webhook", why
    assert row_counts() == before


def test_without_a_payment_provider_the_webhook_refuses_everything(app, client, row_counts):
    before = row_counts()
    response = client.post("/api/v1/webhooks/stripe", data=b"{}", content_type="application/json", headers={"Stripe-Signature": "t=1,v1=x"})
    assert response.status_code == 400 and row_counts() == before


# ---------------------------------------------------------------------------------------------- once


def test_a_duplicate_delivery_is_stored_once_and_applied_once(app, client, org, stripe, wait_for_jobs):
    sub = subscribed(stripe, org)
    created = events_about(stripe, sub["customer"], ("customer.subscription.created",))[0]
    first, again = deliver(client, stripe, created), deliver(client, stripe, created)
    assert (first.status_code, first.get_json()["duplicate"]) == (200, False)
    assert (again.status_code, again.get_json()["duplicate"]) == (200, True)
    wait_for_jobs()
    assert stored() == 1
    row = db.session.scalar(select(WebhookEvent))
    assert row.processed_at is not None and row.attempts == 1 and row.outcome == "applied: active"
    assert account(org).stripe_subscription_id == sub["id"]


def test_two_workers_racing_on_one_event_apply_it_once(app, org, biller, stripe):
    sub = subscribed(stripe, org)
    invoice = stripe.fail_next_payment(sub["id"])
    failed = next(e for e in events_about(stripe, sub["customer"], ("invoice.payment_failed",)) if e["data"]["object"]["id"] == invoice["id"])
    with unit_of_work():
        row_id = webhooks.store(event_info(failed))
    outcomes = at_once(app, 8, lambda i: webhooks.process(row_id))
    assert sorted(outcomes) == ["applied: payment failed"] + ["duplicate"] * 7
    assert payment_notices(biller) == 1


# ---------------------------------------------------------------------------------------------- order


def test_a_stale_update_after_the_deletion_never_reactivates_the_org(app, client, org, stripe, wait_for_jobs):
    sub = subscribed(stripe, org)
    active_snapshot = stripe.call("GET", f"/v1/subscriptions/{sub['id']}")
    time.sleep(1.1)  # Stripe's `created` counts seconds
    stripe.call("DELETE", f"/v1/subscriptions/{sub['id']}")
    deleted = events_about(stripe, sub["customer"], ("customer.subscription.deleted",))[0]
    stale = synthetic("customer.subscription.updated", active_snapshot, active_snapshot["created"])
    for event in (deleted, stale, *events_about(stripe, sub["customer"], ("customer.subscription.created",))):
        assert deliver(client, stripe, event).status_code == 200
        wait_for_jobs()
    acct = account(org)
    assert acct.status == "canceled" and service.effective_plan(acct) is FREE
    outcomes = dict(db.session.execute(select(WebhookEvent.type, WebhookEvent.outcome)).all())
    assert outcomes["customer.subscription.updated"] == "stale: the subscription has ended"


def test_a_new_subscription_replaces_an_ended_one_but_an_old_event_does_not_bring_the_old_one_back(app, client, org, stripe, wait_for_jobs):
    old = subscribed(stripe, org)
    stripe.call("DELETE", f"/v1/subscriptions/{old['id']}")
    time.sleep(1.1)
    new = stripe.call("POST", "/v1/subscriptions", {"customer": old["customer"], "items[0][price]": "vetrai_enterprise_month"})
    events = events_about(stripe, old["customer"], ("customer.subscription.created", "customer.subscription.deleted"))
    for event in reversed(events):  # newest first: the old subscription's events arrive last
        deliver(client, stripe, event)
    wait_for_jobs()
    acct = account(org)
    assert (acct.stripe_subscription_id, acct.status, acct.plan) == (new["id"], "active", "enterprise")


# ---------------------------------------------------------------------------------------------- payments


def test_a_failed_payment_alerts_billing_admins_starts_the_grace_period_and_a_later_payment_restores(
        app, client, login_as, org, admin, biller, user, stripe, wait_for_jobs):
    sub = subscribed(stripe, org)
    for event in events_about(stripe, sub["customer"], ("customer.subscription.created",)):
        deliver(client, stripe, event)
    wait_for_jobs()
    time.sleep(1.1)
    stripe.fail_next_payment(sub["id"])
    for event in events_about(stripe, sub["customer"], ("invoice.payment_failed",)):
        deliver(client, stripe, event)
    wait_for_jobs()

    acct = account(org)
    assert acct.payment_failed_at is not None
    assert payment_notices(biller) == 1 and payment_notices(user) == 0
    note = db.session.scalar(select(Notification).where(Notification.event == "invoice.payment_failed"))
    assert "USD" in note.body and "free plan" in note.body
    # within the grace period the plan stays; after it, the free limits apply; nothing is deleted
    assert service.effective_plan(acct) is PLANS["pro"]
    assert service.effective_plan(acct, acct.payment_failed_at + timedelta(days=7, seconds=1)) is FREE
    app.config["BILLING_GRACE_DAYS"] = 0
    try:
        assert service.plan_of(org) is FREE
    finally:
        app.config["BILLING_GRACE_DAYS"] = 7
    with app.test_request_context():
        g.org = org
        banner = render_template_string('{% include "billing/_banner.html" %}')
    assert "A payment failed" in banner and "Go to billing" in banner

    time.sleep(1.1)
    stripe.pay_next(sub["id"])
    for event in events_about(stripe, sub["customer"], ("invoice.payment_succeeded",)):
        deliver(client, stripe, event)
    wait_for_jobs()
    acct = account(org)
    assert acct.payment_failed_at is None and service.plan_of(org) is PLANS["pro"]
    with app.test_request_context():
        g.org = org
        assert "A payment failed" not in render_template_string('{% include "billing/_banner.html" %}')


def test_a_stale_failure_after_a_later_payment_changes_nothing(app, client, org, biller, stripe, wait_for_jobs):
    sub = subscribed(stripe, org)
    stripe.fail_next_payment(sub["id"])
    time.sleep(1.1)
    stripe.pay_next(sub["id"])
    paid = [e for e in events_about(stripe, sub["customer"], ("invoice.payment_succeeded",))][-1]
    failed = events_about(stripe, sub["customer"], ("invoice.payment_failed",))[-1]
    deliver(client, stripe, paid)
    wait_for_jobs()  # the payment is applied before the older failure arrives (two workers could otherwise take them in either order)
    deliver(client, stripe, failed)
    wait_for_jobs()
    assert account(org).payment_failed_at is None and payment_notices(biller) == 0


# ---------------------------------------------------------------------------------------------- reconciling


def test_the_reconciler_applies_events_that_never_arrived_and_ones_left_unprocessed(app, org, stripe, wait_for_jobs):
    sub = subscribed(stripe, org)  # Stripe sent its events; none reached the portal
    with unit_of_work():
        tasks.reconcile()
    wait_for_jobs()
    acct = account(org)
    assert (acct.stripe_subscription_id, acct.status) == (sub["id"], "active")

    # a stored event whose job was lost (Redis down) is picked up once it has waited a while
    stripe.call("POST", f"/v1/subscriptions/{sub['id']}", {"cancel_at_period_end": "true"})
    update = synthetic("customer.subscription.updated", stripe.call("GET", f"/v1/subscriptions/{sub['id']}"), int(time.time()) + 1)
    with unit_of_work():
        row_id = webhooks.store(event_info(update))
        db.session.get(WebhookEvent, row_id).received_at -= timedelta(minutes=5)
    with unit_of_work():
        tasks.reconcile()
    wait_for_jobs()
    assert account(org).cancel_at_period_end is True
