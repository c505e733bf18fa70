"""Paying through Stripe, with the real `stripe` SDK over HTTP against localstripe (and our endpoint for
Checkout, the customer portal, prices and meter events): a customer per org, Checkout, subscriptions,
cancellation at period end, invoices in integer cents."""

from __future__ import annotations

from portal.billing import service
from portal.billing.plans import PLANS
from portal.extensions import db
from portal.uow import unit_of_work

from .conftest import deliver, events_about


def _customer(org) -> str:
    db.session.expire_all()
    return service.find_account(org).stripe_customer_id


def _subscribe_with_card(client, stripe, org, plan="pro", interval="month") -> dict:
    with unit_of_work():
        customer, _ = service.ensure_customer(org)
    stripe.attach_card(customer)
    response = client.post(f"/api/v1/subscriptions?org={org.slug}", json={"plan": plan, "interval": interval})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_an_orgs_customer_is_created_once_even_when_asked_again(app, client, login_as, org, admin, stripe):
    login_as(admin)
    first = client.post(f"/api/v1/customers?org={org.slug}")
    again = client.post(f"/api/v1/customers?org={org.slug}")
    assert (first.status_code, first.get_json()["created"]) == (201, True)
    assert (again.status_code, again.get_json()) == (200, {"id": first.get_json()["id"], "created": False})
    # the provider call carries an idempotency key per org: a retry (say, after a lost answer) gets the same customer
    assert app.extensions["payments"].ensure_customer(org.public_id, name=org.name, email=None) == first.get_json()["id"]
    customers = [c for c in stripe.call("GET", "/v1/customers", {"limit": "100"})["data"] if c["metadata"].get("org") == org.public_id]
    assert [c["id"] for c in customers] == [first.get_json()["id"]]


def test_upgrading_goes_through_checkout_and_the_webhook_brings_the_new_plan(app, client, login_as, org, admin, stripe, wait_for_jobs):
    login_as(admin)
    response = client.post(f"/o/{org.slug}/billing/checkout", data={"plan": "pro", "interval": "year"})
    assert response.status_code == 303 and response.headers["Location"].startswith(f"{stripe.base_url}/checkout/cs_test_")
    session = stripe.sessions[response.headers["Location"].rsplit("/", 1)[1]]
    assert (session["mode"], session["price"], session["customer"]) == ("subscription", "vetrai_pro_year", _customer(org))
    assert session["success_url"].endswith(f"/o/{org.slug}/billing?checkout=done")

    stripe.complete_checkout(session["id"])  # the customer pays on Stripe's page
    assert service.plan_of(org).key == "free"  # nothing changes before Stripe says so
    for event in events_about(stripe, _customer(org), ("customer.subscription.created",)):
        assert deliver(client, stripe, event).status_code == 200
    wait_for_jobs()

    db.session.expire_all()
    acct = service.find_account(org)
    assert (acct.plan, acct.interval, acct.status) == ("pro", "year", "active")
    assert acct.current_period_end is not None and service.limit_of(org, "workflow_runs") == PLANS["pro"].limit("workflow_runs")
    page = client.get(f"/o/{org.slug}/billing").text
    assert "Pro" in page and "Renews" in page


def test_subscribing_without_a_payment_method_answers_409_with_a_checkout_url(app, client, login_as, org, admin, stripe):
    login_as(admin)
    response = client.post(f"/api/v1/subscriptions?org={org.slug}", json={"plan": "pro", "interval": "month"})
    error = response.get_json()["error"]
    assert response.status_code == 409 and error["code"] == "payment_method_required"
    assert error["fields"]["checkout_url"].startswith(f"{stripe.base_url}/checkout/")
    assert service.plan_of(org).key == "free"


def test_with_a_card_on_file_the_subscription_starts_at_once_and_upgrades_apply_now(app, client, login_as, org, admin, stripe):
    login_as(admin)
    body = _subscribe_with_card(client, stripe, org)
    assert (body["plan"], body["status"], body["effective_plan"]) == ("pro", "active", "pro")
    acct = service.find_account(org)
    remote = stripe.call("GET", f"/v1/subscriptions/{acct.stripe_subscription_id}")
    assert remote["status"] == "active" and remote["items"]["data"][0]["price"]["id"] == "vetrai_pro_month"

    upgraded = client.post(f"/api/v1/subscriptions?org={org.slug}", json={"plan": "enterprise", "interval": "month"}).get_json()
    assert upgraded["effective_plan"] == "enterprise"
    remote = stripe.call("GET", f"/v1/subscriptions/{acct.stripe_subscription_id}")
    assert remote["items"]["data"][0]["price"]["id"] == "vetrai_enterprise_month"

    down = client.post(f"/api/v1/subscriptions?org={org.slug}", json={"plan": "pro", "interval": "month"})
    assert down.status_code == 409 and down.get_json()["error"]["code"] == "downgrade_in_portal"


def test_downgrading_to_free_cancels_at_the_period_end_and_keeps_the_limits_until_then(app, client, login_as, org, admin, stripe):
    login_as(admin)
    _subscribe_with_card(client, stripe, org)
    body = client.post(f"/api/v1/subscriptions?org={org.slug}", json={"plan": "free", "interval": "month"}).get_json()
    assert body["cancel_at_period_end"] is True and body["effective_plan"] == "pro"
    acct = service.find_account(org)
    assert stripe.call("GET", f"/v1/subscriptions/{acct.stripe_subscription_id}")["cancel_at_period_end"] is True
    page = client.get(f"/o/{org.slug}/billing").text
    assert "Ends" in page and "Keep the plan" in page

    client.post(f"/o/{org.slug}/billing/resume")
    assert stripe.call("GET", f"/v1/subscriptions/{acct.stripe_subscription_id}")["cancel_at_period_end"] is False
    client.post(f"/o/{org.slug}/billing/cancel")
    assert stripe.call("GET", f"/v1/subscriptions/{acct.stripe_subscription_id}")["cancel_at_period_end"] is True


def test_the_customer_portal_link_opens_stripes_portal_and_comes_back(app, client, login_as, org, admin, stripe):
    login_as(admin)
    response = client.post(f"/o/{org.slug}/billing/portal")
    assert response.status_code == 303 and response.headers["Location"].startswith(f"{stripe.base_url}/portal/")
    session = stripe.portal_sessions[-1]
    assert session["customer"] == _customer(org) and session["return_url"].endswith(f"/o/{org.slug}/billing")


def test_invoices_list_amounts_in_integer_cents_with_their_currency_and_links(app, client, login_as, org, admin, stripe):
    login_as(admin)
    _subscribe_with_card(client, stripe, org)
    invoices = client.get(f"/api/v1/invoices?org={org.slug}").get_json()["data"]
    assert invoices and invoices[0]["amount_due"] == {"amount": PLANS["pro"].prices["month"], "currency": "usd"}
    assert invoices[0]["status"] == "paid" and invoices[0]["number"] and invoices[0]["pdf_url"] and invoices[0]["hosted_url"]
    page = client.get(f"/o/{org.slug}/billing").text
    assert "USD 49.00" in page and invoices[0]["pdf_url"] in page


def test_meter_events_carry_an_identifier_so_a_retry_never_bills_twice(app, stripe, org):
    payments = app.extensions["payments"]
    with unit_of_work():
        customer, _ = service.ensure_customer(org)
    payments.report_usage("workflow_runs", customer, 3, "org-runs-2026-12-01")
    payments.report_usage("workflow_runs", customer, 3, "org-runs-2026-12-01")
    assert list(stripe.meter_events) == ["org-runs-2026-12-01"]
    assert stripe.meter_events["org-runs-2026-12-01"]["payload"] == {"stripe_customer_id": customer, "value": "3"}
