"""Before a subscription changes plan or billing interval, the admin sees what it costs: the amount charged
now (prorated to the second, from the provider's invoice preview) and the price from the period's end; the
confirmed change charges exactly that amount."""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime

from portal.billing import service
from portal.extensions import db
from portal.uow import unit_of_work

from .conftest import deliver, events_about
from .stripe_server import _plus_interval

DAY = 86_400


def _subscribed_since(client, stripe, org, wait_for_jobs, days: int, price: str = "vetrai_pro_month") -> dict:
    """The org pays `price` for a subscription that started `days` ago, mirrored through its webhook."""
    with unit_of_work():
        customer, _ = service.ensure_customer(org)
    stripe.attach_card(customer)
    sub = stripe.call("POST", "/v1/subscriptions", {"customer": customer, "items[0][price]": price, "metadata[org]": org.public_id,
                                                    "backdate_start_date": str(int(time.time()) - days * DAY)})
    for event in events_about(stripe, customer, ("customer.subscription.created",)):
        assert deliver(client, stripe, event).status_code == 200
    wait_for_jobs(60)  # generous: on a loaded machine the RQ worker of the first test may start slowly
    db.session.expire_all()
    assert service.find_account(org).plan == "pro"
    return sub


def _preview(client, org, plan: str, interval: str) -> tuple[str, int, int]:
    """The preview page's text, its amount due now (cents) and the proration date its confirm form carries."""
    response = client.get(f"/o/{org.slug}/billing/change?plan={plan}&interval={interval}")
    assert response.status_code == 200
    page = response.text
    now = re.search(r"data-amount-now>USD ([\d,]+)\.(\d\d)<", page)
    date = re.search(r'name="proration_date" type="hidden" value="(\d+)"', page)
    assert now and date, page
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split()), int(now[1].replace(",", "")) * 100 + int(now[2]), int(date[1])


def _day(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%-d %b %Y")


def _invoice_ids(stripe, customer: str) -> set[str]:
    return {i["id"] for i in stripe.call("GET", "/v1/invoices", {"customer": customer, "limit": "100"})["data"]}


def _the_new_invoice(stripe, customer: str, before: set[str]) -> dict:
    """The one invoice made since `before` (a change is charged once)."""
    new = _invoice_ids(stripe, customer) - before
    assert len(new) == 1, new
    return stripe.call("GET", f"/v1/invoices/{new.pop()}")


def test_upgrading_shows_the_prorated_charge_and_confirming_charges_exactly_that(
        app, client, login_as, org, biller, stripe, wait_for_jobs):
    login_as(biller)
    sub = _subscribed_since(client, stripe, org, wait_for_jobs, days=10)
    start, end = sub["current_period_start"], sub["current_period_end"]

    text, due, at = _preview(client, org, "enterprise", "month")
    left = (end - at) / (end - start)  # the share of the period still to come, to the second
    assert due == round(49_900 * left) - round(4_900 * left)
    assert (f"You'll pay USD {due // 100:,}.{due % 100:02d} now for the rest of this period (prorated), "
            f"then USD 499.00/month from {_day(end)}.") in text
    assert service.find_account(org).plan == "pro"  # a preview changes nothing

    before = _invoice_ids(stripe, sub["customer"])
    time.sleep(1)  # the confirm comes later than the preview: its proration date keeps the amount
    response = client.post(f"/o/{org.slug}/billing/subscription", data={"plan": "enterprise", "interval": "month", "proration_date": at})
    assert response.status_code == 303
    invoice = _the_new_invoice(stripe, sub["customer"], before)
    assert (invoice["status"], invoice["amount_paid"], invoice["subscription"]) == ("paid", due, sub["id"])
    remote = stripe.call("GET", f"/v1/subscriptions/{sub['id']}")
    assert remote["items"]["data"][0]["price"]["id"] == "vetrai_enterprise_month" and remote["current_period_end"] == end
    db.session.expire_all()
    assert service.find_account(org).plan == "enterprise"
    billing = client.get(f"/o/{org.slug}/billing").text
    assert "You&#39;re on Enterprise now, billed monthly." in billing and f"USD {due // 100:,}.{due % 100:02d}" in billing


def test_moving_to_yearly_billing_charges_the_year_less_the_unused_month(app, client, login_as, org, admin, stripe, wait_for_jobs):
    login_as(admin)
    sub = _subscribed_since(client, stripe, org, wait_for_jobs, days=20)
    start, end = sub["current_period_start"], sub["current_period_end"]

    text, due, at = _preview(client, org, "pro", "year")
    assert due == 49_000 - round(4_900 * (end - at) / (end - start))
    renews = _plus_interval(at, "year")  # a new interval starts a new period now
    assert (f"You'll pay USD {due // 100:,}.{due % 100:02d} now for the first year of Pro (less the unused time of your monthly plan, "
            f"prorated), then USD 490.00/year from {_day(renews)}.") in text

    before = _invoice_ids(stripe, sub["customer"])
    client.post(f"/o/{org.slug}/billing/subscription", data={"plan": "pro", "interval": "year", "proration_date": at})
    assert _the_new_invoice(stripe, sub["customer"], before)["amount_paid"] == due
    db.session.expire_all()
    acct = service.find_account(org)
    assert (acct.plan, acct.interval) == ("pro", "year")
    assert int(acct.current_period_end.replace(tzinfo=UTC).timestamp()) == renews


def test_the_plans_page_of_a_subscriber_goes_to_the_preview_first(app, client, login_as, org, admin, stripe, wait_for_jobs):
    login_as(admin)
    _subscribed_since(client, stripe, org, wait_for_jobs, days=3)
    page = client.get(f"/o/{org.slug}/billing/plans").text
    assert f'action="/o/{org.slug}/billing/change"' in page and "Switch to yearly billing" in page


def test_a_plain_user_gets_403_for_the_preview(app, client, login_as, org, user, stripe):
    login_as(user)
    assert client.get(f"/o/{org.slug}/billing/change?plan=enterprise&interval=month").status_code == 403


def test_a_preview_older_than_an_hour_is_refused_and_nothing_is_charged(app, client, login_as, org, admin, stripe, wait_for_jobs):
    login_as(admin)
    sub = _subscribed_since(client, stripe, org, wait_for_jobs, days=5)
    paid = len(stripe.call("GET", "/v1/invoices", {"customer": sub["customer"]})["data"])
    stale = int(time.time()) - 2 * 3600
    client.post(f"/o/{org.slug}/billing/subscription", data={"plan": "enterprise", "interval": "month", "proration_date": stale})
    page = client.get(f"/o/{org.slug}/billing").text
    assert "This preview has expired" in page
    assert len(stripe.call("GET", "/v1/invoices", {"customer": sub["customer"]})["data"]) == paid
    db.session.expire_all()
    assert service.find_account(org).plan == "pro"


def test_without_a_subscription_the_preview_sends_back_to_the_plans(app, client, login_as, org, admin, stripe):
    login_as(admin)
    response = client.get(f"/o/{org.slug}/billing/change?plan=enterprise&interval=month")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/o/{org.slug}/billing/plans")
    assert "has no paid subscription" in client.get(f"/o/{org.slug}/billing/plans").text


def test_without_a_payment_provider_the_preview_says_the_change_is_free_and_applies_at_once(app, client, login_as, org, admin):
    login_as(admin)
    response = client.get(f"/o/{org.slug}/billing/change?plan=enterprise&interval=month")
    assert response.status_code == 200
    assert "The change applies at once, without a charge" in response.text
    assert "Confirm and pay" not in response.text


def test_the_api_previews_a_change_and_the_change_with_its_proration_date_charges_the_preview(
        app, client, login_as, org, admin, stripe, wait_for_jobs):
    login_as(admin)
    sub = _subscribed_since(client, stripe, org, wait_for_jobs, days=7)
    response = client.get(f"/api/v1/subscriptions/preview?org={org.slug}&plan=enterprise&interval=month")
    assert response.status_code == 200, response.get_json()
    preview = response.get_json()
    assert preview["charged"] is True and preview["next_amount"] == {"amount": 49_900, "currency": "usd"}
    before = _invoice_ids(stripe, sub["customer"])
    changed = client.post(f"/api/v1/subscriptions?org={org.slug}",
                          json={"plan": "enterprise", "interval": "month", "proration_date": preview["proration_date"]})
    assert changed.status_code == 200 and changed.get_json()["effective_plan"] == "enterprise"
    assert _the_new_invoice(stripe, sub["customer"], before)["amount_paid"] == preview["amount_due"]["amount"]


def test_a_plain_user_gets_403_for_the_api_preview(app, client, login_as, org, user, stripe):
    login_as(user)
    assert client.get(f"/api/v1/subscriptions/preview?org={org.slug}&plan=enterprise&interval=month").status_code == 403
