"""A storm: Stripe's events for many orgs, each delivered several times, shuffled, by several senders at
once. Every org ends where Stripe is, and each effect (a payment-failure notice) happens once."""

from __future__ import annotations

import random
import threading
import time

from sqlalchemy import func, select

from portal.billing import service
from portal.billing.models import WebhookEvent
from portal.extensions import db
from portal.notifications.models import Notification
from portal.uow import unit_of_work
from tests.factories import OrgFactory, member

from .conftest import deliver, events_about

ORGS = 24
COPIES = 4
SENDERS = 4


def _phase() -> None:
    time.sleep(1.1)  # Stripe's `created` counts seconds: each phase of changes in its own second


def test_a_storm_of_duplicated_out_of_order_events_ends_in_stripes_state_with_effects_once(app, stripe, wait_for_jobs):
    rng = random.Random(13)
    orgs, subs, billers = [], {}, {}
    for i in range(ORGS):
        org = OrgFactory(slug=f"storm-{i}", name=f"Storm {i}")
        billers[org.id] = member(org, "billing_admin")
        with unit_of_work():
            customer, _ = service.ensure_customer(org)
        stripe.attach_card(customer)
        price = "vetrai_pro_month" if i % 2 else "vetrai_enterprise_year"
        subs[org.id] = stripe.call("POST", "/v1/subscriptions", {"customer": customer, "items[0][price]": price, "metadata[org]": org.public_id})
        orgs.append(org)
    snapshots = {org.id: stripe.call("GET", f"/v1/subscriptions/{subs[org.id]['id']}") for org in orgs}
    _phase()
    failing = [o for i, o in enumerate(orgs) if i % 3 == 0]
    for org in failing:
        stripe.fail_next_payment(subs[org.id]["id"])
    for i, org in enumerate(orgs):
        if i % 3 == 1:
            stripe.call("POST", f"/v1/subscriptions/{subs[org.id]['id']}", {"cancel_at_period_end": "true"})
    _phase()
    for i, org in enumerate(orgs):
        if i % 4 == 0:
            stripe.call("DELETE", f"/v1/subscriptions/{subs[org.id]['id']}")
        elif i % 3 == 0 and i % 2 == 0:
            stripe.pay_next(subs[org.id]["id"])

    events = [e for org in orgs for e in events_about(stripe, service.find_account(org).stripe_customer_id)]
    # and the stale `updated` Stripe may still deliver after a deletion: the subscription as it was at the start
    events += [{"id": f"evt_stale_{org.id}", "object": "event", "type": "customer.subscription.updated", "created": snapshots[org.id]["created"],
                "data": {"object": snapshots[org.id]}} for i, org in enumerate(orgs) if i % 4 == 0]
    deliveries = [e for e in events for _ in range(COPIES)]
    rng.shuffle(deliveries)
    assert len(deliveries) >= 500

    statuses: list[int] = []
    lock = threading.Lock()

    def sender(share: list[dict]) -> None:
        client = app.test_client()
        for event in share:
            status = deliver(client, stripe, event).status_code
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=sender, args=(deliveries[n::SENDERS],)) for n in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert statuses.count(200) == len(deliveries)
    wait_for_jobs(120)

    db.session.expire_all()
    assert db.session.scalar(select(func.count(WebhookEvent.id))) == len({e["id"] for e in events})
    assert db.session.scalar(select(func.count(WebhookEvent.id)).where(WebhookEvent.processed_at.is_(None))) == 0
    for org in orgs:
        remote = stripe.call("GET", f"/v1/subscriptions/{subs[org.id]['id']}")
        acct = service.find_account(org)
        mine = (acct.stripe_subscription_id, acct.status, acct.cancel_at_period_end, f"vetrai_{acct.plan}_{acct.interval}")
        theirs = (remote["id"], remote["status"], remote["cancel_at_period_end"], remote["items"]["data"][0]["price"]["id"])
        assert mine == theirs, org.slug
        assert service.effective_plan(acct).key == ("free" if remote["status"] == "canceled" else acct.plan), org.slug
        failures = sum(1 for e in events if e["type"] == "invoice.payment_failed" and e["data"]["object"]["customer"] == acct.stripe_customer_id)
        notices = db.session.scalar(select(func.count(Notification.id)).where(Notification.event == "invoice.payment_failed",
                                                                             Notification.user_id == billers[org.id].id))
        paid_later = org in failing and orgs.index(org) % 4 != 0 and orgs.index(org) % 2 == 0
        # each failure is told once however often it arrives; one the storm delivers after its later payment is stale
        # and may go untold, one never paid is always told
        assert notices <= failures and (paid_later or notices == failures), org.slug
        assert (acct.payment_failed_at is None) == (org not in failing or paid_later), org.slug
