"""In Chromium: an org admin on Free upgrades to Pro through the (local) Checkout page and comes back to a
billing page that shows Pro once the webhook arrives; a subscriber sees what an upgrade costs before confirming."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from portal.billing import service
from portal.extensions import db
from portal.uow import unit_of_work

from .conftest import deliver, events_about

pytestmark = pytest.mark.browser


def _deliver_created(client, stripe, customer: str) -> None:
    for event in events_about(stripe, customer, ("customer.subscription.created",)):
        assert deliver(client, stripe, event).status_code == 200


def test_checkout_from_free_to_pro_shows_pro_when_the_webhook_arrives(page, live_server, log_in, screenshot, client, org, admin, stripe):
    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/billing"))
    expect(page.locator("#billing-status")).to_contain_text("is on the Free plan")
    page.get_by_role("link", name="Compare plans").click()
    pro = page.locator("#plans-table tfoot td").nth(1)  # the columns: Free, Pro, Enterprise
    pro.get_by_role("button", name="Upgrade, monthly").click()

    # Stripe's hosted page, as the local stack serves it: paying there attaches a card and starts the subscription
    expect(page).to_have_url(re.compile(re.escape(f"{stripe.base_url}/checkout/cs_test_")))
    expect(page.get_by_role("heading")).to_have_text("Pay for vetrai_pro_month")
    page.get_by_role("button", name="Pay").click()

    expect(page).to_have_url(re.compile(rf"/o/{org.slug}/billing\?checkout=done$"))
    status = page.locator("#billing-status")
    expect(status).to_contain_text("the new plan appears here as soon as the payment provider confirms it")
    expect(status).to_contain_text("is on the Free plan")  # nothing changes before Stripe says so
    screenshot(page, "billing-checkout-waiting")

    db.session.expire_all()
    _deliver_created(client, stripe, service.find_account(org).stripe_customer_id)  # Stripe's webhook arrives

    # the page polls; once the plan is there it loads again, with the news, Pro's limits and the first invoice
    expect(page).to_have_url(re.compile(rf"/o/{org.slug}/billing$"), timeout=15_000)
    expect(page.get_by_role("status").filter(has_text="You're on Pro now.")).to_be_visible()
    expect(status).to_contain_text("is on the Pro plan")
    expect(status).to_contain_text("billed monthly")
    expect(status).not_to_contain_text("as soon as the payment provider confirms it")
    expect(page.locator("#billing-usage")).to_contain_text("5,000")
    expect(page.locator("#billing-invoices")).to_contain_text("USD 49.00")
    screenshot(page, "billing-checkout-pro")
    assert page.errors == []


def test_a_subscriber_sees_the_prorated_charge_before_confirming_the_upgrade(page, live_server, log_in, screenshot, client, org, biller,
                                                                            stripe, wait_for_jobs):
    with unit_of_work():
        customer, _ = service.ensure_customer(org)
    stripe.attach_card(customer)
    stripe.call("POST", "/v1/subscriptions", {"customer": customer, "items[0][price]": "vetrai_pro_month", "metadata[org]": org.public_id,
                                              "backdate_start_date": str(int(time.time()) - 12 * 86_400)})
    _deliver_created(client, stripe, customer)
    wait_for_jobs(60)  # generous: on a loaded machine the RQ worker of the first test may start slowly

    log_in(page, biller.email)
    page.goto(live_server(f"/o/{org.slug}/billing/plans"))
    page.locator("#plans-table tfoot td").nth(2).get_by_role("button", name="Upgrade, monthly").click()
    preview = page.locator("#change-preview")
    expect(preview.locator(".preview-summary")).to_have_text(re.compile(
        r"You'll pay USD [\d,]+\.\d\d now for the rest of this period \(prorated\),\s+then USD 499\.00/month from \d{1,2} \w{3} \d{4}\."))
    amount = preview.locator("[data-amount-now]").inner_text()
    screenshot(page, "billing-change-preview-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    confirm = page.get_by_role("button", name=f"Confirm and pay {amount}")
    expect(confirm).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing runs off a phone's screen
    screenshot(page, "billing-change-preview-390")

    confirm.click()
    expect(page).to_have_url(re.compile(rf"/o/{org.slug}/billing$"))
    expect(page.get_by_text("You're on Enterprise now, billed monthly.")).to_be_visible()
    expect(page.locator("#billing-status")).to_contain_text("is on the Enterprise plan")
    expect(page.locator("#billing-invoices")).to_contain_text(amount)
    assert page.errors == []
