"""Fixtures of the billing tests: an org with its admins and a plain user, concurrency helpers, and the
Stripe stack (localstripe behind the project's own Stripe-protocol endpoint) with the app pointed at it."""

from __future__ import annotations

import json
import secrets
import threading

import pytest

from portal.extensions import db
from portal.orgs.models import Organization
from portal.uow import unit_of_work
from tests.factories import OrgFactory, member


@pytest.fixture
def org(app):
    return OrgFactory(slug="bill-org", name="Bill Org")


@pytest.fixture
def admin(org):
    return member(org, "org_admin", email="admin@bill.test", name="Ada Admin")


@pytest.fixture
def biller(org):
    return member(org, "billing_admin", email="biller@bill.test", name="Bea Biller")


@pytest.fixture
def user(org):
    return member(org, "user", email="user@bill.test", name="Uma User")


def at_once(app, count: int, work) -> list:
    """Run work(org_session_objects) in `count` threads started together, each in its own app context and
    unit of work (its own database connection and transaction); the list of what each returned or raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(10)
                with unit_of_work():
                    results[i] = work(i)
            except Exception as exc:  # noqa: BLE001 - the caller inspects each outcome
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def org_by_id(org_id: int) -> Organization:
    return db.session.get(Organization, org_id)


# ---------------------------------------------------------------------------------------------- Stripe


@pytest.fixture(scope="session")
def stripe_stack():
    """localstripe and the project's Stripe-protocol endpoint on loopback, with the portal's prices."""
    from portal.billing.plans import PLANS
    from tests.conftest import ARTIFACTS

    from .stripe_server import StripeStack

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(12)
    stack = StripeStack(f"sk_test_{token}", f"whsec_{token}", ARTIFACTS / "localstripe.log").start()
    stack.ensure_prices(PLANS.values())
    yield stack
    stack.stop()


@pytest.fixture
def stripe(app, stripe_stack):
    """This test's app pays through the Stripe stack (the real SDK over HTTP); its own adapter comes back after."""
    from portal.infra.payments import StripePayments

    saved = app.extensions["payments"]
    app.extensions["payments"] = StripePayments(stripe_stack.secret_key, stripe_stack.webhook_secret, stripe_stack.base_url)
    stripe_stack.reset()
    yield stripe_stack
    app.extensions["payments"] = saved


def events_about(stack, customer_id: str, types: tuple[str, ...] = ()) -> list[dict]:
    """localstripe's events about one customer (oldest first), optionally of some types."""
    found = []
    for event in stack.events():
        obj = event["data"]["object"]
        if customer_id in (obj.get("customer"), obj.get("id")) and (not types or event["type"] in types):
            found.append(event)
    return sorted(found, key=lambda e: e["created"])


def deliver(client, stack, event: dict, *, signature: str | None = None, body: bytes | None = None):
    """POST an event to the webhook as Stripe does: the raw JSON body, signed."""
    payload = body if body is not None else json.dumps(event).encode()
    return client.post("/api/v1/webhooks/stripe", data=payload, content_type="application/json",
                       headers={"Stripe-Signature": signature if signature is not None else stack.sign(payload)})
