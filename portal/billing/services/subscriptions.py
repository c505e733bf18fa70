"""Paying through the provider: the org's customer, Checkout, the customer portal, plan changes,
cancellation at period end, invoices. Every call goes through the payments port."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from portal.accounts.models import User
from portal.billing.models import BillingAccount
from portal.billing.plans import INTERVALS, PLANS, Plan, get_plan, plan_for_price
from portal.billing.services.accounts import (
    LIVE,
    account,
    billing_url,
    effective_plan,
    find_account,
    has_subscription,
    upgrade_url,
)
from portal.errors import Conflict, ServiceError, ValidationFailed
from portal.extensions import db
from portal.infra.payments import ChangePreview, InvoiceInfo, PaymentsError, PaymentsNotConfigured, SubscriptionInfo, provider
from portal.orgs.models import Organization

NOT_CONFIGURED = "Online payment is not configured on this installation: a platform admin assigns plans."
PREVIEW_VALID_SECONDS = 3600  # a confirmed preview older than this is refused: the price of the rest of the period has moved on


def payments_configured() -> bool:
    """True when a payment provider takes payments (else plans are assigned by a super admin)."""
    return provider().configured


def provider_origins() -> tuple[str, ...]:
    """Where the provider's hosted pages (Checkout, customer portal) live: the billing forms send people there."""
    return provider().hosted_origins


def _calling(fn, *args, **kwargs):
    """Call the provider; its refusals become ServiceErrors the page or the API can show."""
    try:
        return fn(*args, **kwargs)
    except PaymentsNotConfigured as exc:
        raise Conflict(NOT_CONFIGURED, code="payments_not_configured") from exc
    except PaymentsError as exc:
        raise ServiceError(f"The payment provider did not accept this: {exc}", code="payment_provider_error", status=502) from exc


def choose(plan_key: str, interval: str) -> Plan:
    """The paid plan asked for, or a 422 naming the bad field (checked before anything is written)."""
    errors = {}
    if plan_key not in PLANS:
        errors["plan"] = f"Choose one of: {', '.join(PLANS)}."
    if interval not in INTERVALS:
        errors["interval"] = f"Choose one of: {', '.join(INTERVALS)}."
    if errors:
        raise ValidationFailed(errors)
    return PLANS[plan_key]


def ensure_customer(org: Organization, by: User | None = None) -> tuple[str, bool]:
    """The org's provider customer id, created on first need; (id, created now)."""
    acct = account(org)
    if acct.stripe_customer_id:
        return acct.stripe_customer_id, False
    # The idempotency key is the org: a retry after a lost answer (or a rolled-back request) gets the same customer.
    acct.stripe_customer_id = _calling(provider().ensure_customer, org.public_id, name=org.name, email=getattr(by, "email", None))
    db.session.flush()
    return acct.stripe_customer_id, True


def checkout(org: Organization, plan_key: str, interval: str, by: User | None = None) -> str:
    """A Checkout URL (subscription mode) for a paid plan."""
    plan = choose(plan_key, interval)
    if not plan.paid:
        raise ValidationFailed({"plan": "The free plan needs no checkout."})
    if not payments_configured():
        raise Conflict(NOT_CONFIGURED, code="payments_not_configured")
    customer, _ = ensure_customer(org, by)
    return _calling(provider().checkout_url, customer, plan.price_id(interval), success_url=billing_url(org) + "?checkout=done",
                    cancel_url=upgrade_url(org), metadata={"org": org.public_id, "plan": plan.key})


def portal(org: Organization, by: User | None = None) -> str:
    """The provider's customer portal (payment methods, invoices, cancellation) for the org."""
    if not payments_configured():
        raise Conflict(NOT_CONFIGURED, code="payments_not_configured")
    customer, _ = ensure_customer(org, by)
    return _calling(provider().portal_url, customer, billing_url(org))


@dataclass(frozen=True)
class PlanChange:
    """A change of plan as the confirm step shows it: from what, to what, and what it costs now and then
    (`preview` is None without a payment provider: nothing is charged)."""

    current: Plan
    current_interval: str | None
    plan: Plan
    interval: str
    preview: ChangePreview | None

    @property
    def new_period(self) -> bool:
        """True when the billing interval changes: the new price starts a new period now (Stripe resets the cycle)."""
        return self.current_interval is not None and self.current_interval != self.interval


def _check_change(acct: BillingAccount, plan: Plan, interval: str) -> None:
    """Refuse a change of a live subscription that is no change, or a downgrade (done in the customer portal)."""
    current = get_plan(acct.plan)
    if plan.rank < current.rank:
        raise Conflict(f"Downgrading to {plan.name} is done from the customer portal, and applies at the end of the period.",
                       code="downgrade_in_portal")
    if plan.key == current.key and interval == acct.interval:
        raise Conflict(f"This organization is on {plan.name}, billed {interval}ly, already.", code="no_change")


def preview_change(org: Organization, plan_key: str, interval: str) -> PlanChange:
    """What moving the org's subscription to a plan and interval would charge now and from the period's end
    (nothing changes). Without a payment provider there is no charge: `preview` is None."""
    plan = choose(plan_key, interval)
    if not plan.paid:
        raise ValidationFailed({"plan": "Moving to the free plan is a cancellation at the end of the period."})
    acct = find_account(org)
    if not payments_configured():
        return PlanChange(effective_plan(acct), acct.interval if acct else None, plan, interval, None)
    acct = _live_account(org)
    _check_change(acct, plan, interval)
    preview = _calling(provider().preview_change, acct.stripe_subscription_id, plan.price_id(interval))
    return PlanChange(get_plan(acct.plan), acct.interval, plan, interval, preview)


def _proration_date(value: int | None) -> int | None:
    """The preview's proration date, checked: a recent past moment (so the charge is the one shown)."""
    if value is None:
        return None
    now = int(time.time())
    if not now - PREVIEW_VALID_SECONDS <= value <= now + 60:
        raise ValidationFailed({"proration_date": "This preview has expired: review the change again to see today's amount."})
    return value


def subscribe(org: Organization, plan_key: str, interval: str, by: User | None = None,
              proration_date: int | None = None) -> BillingAccount:
    """Move the org to a plan: an upgrade applies now, a downgrade or the free plan at the period's end.

    A change of a live subscription is invoiced at once, prorated as of `proration_date` (the preview's,
    so the charge is what the preview showed) or now. Without a payment method on file the answer is a
    409 whose `checkout_url` collects one."""
    plan = choose(plan_key, interval)
    at = _proration_date(proration_date)
    if not payments_configured():
        raise Conflict(NOT_CONFIGURED, code="payments_not_configured")
    acct = account(org)
    live = has_subscription(acct)
    if not plan.paid:
        return cancel(org) if live else acct
    if live:
        _check_change(acct, plan, interval)
        info = _calling(provider().update_subscription, acct.stripe_subscription_id, price_id=plan.price_id(interval), proration_date=at)
        return apply_now(acct, info)
    customer, _ = ensure_customer(org, by)
    if not _calling(provider().has_payment_method, customer):
        url = checkout(org, plan_key, interval, by)
        raise ServiceError("Add a payment method first: complete the checkout at checkout_url.", code="payment_method_required",
                           status=409, fields={"checkout_url": url})
    key = f"subscribe-{org.public_id}-{acct.stripe_subscription_id or 'first'}-{plan.key}-{interval}"
    info = _calling(provider().create_subscription, customer, plan.price_id(interval), metadata={"org": org.public_id}, idempotency_key=key)
    return apply_now(acct, info)


def cancel(org: Organization) -> BillingAccount:
    """Cancel the subscription at the end of the period (the plan's limits stay until then)."""
    acct = _live_account(org)
    return apply_now(acct, _calling(provider().update_subscription, acct.stripe_subscription_id, cancel_at_period_end=True))


def resume(org: Organization) -> BillingAccount:
    """Undo a cancellation that has not taken effect yet."""
    acct = _live_account(org)
    return apply_now(acct, _calling(provider().update_subscription, acct.stripe_subscription_id, cancel_at_period_end=False))


def _live_account(org: Organization) -> BillingAccount:
    if not payments_configured():
        raise Conflict(NOT_CONFIGURED, code="payments_not_configured")
    acct = find_account(org)
    if not has_subscription(acct):
        raise Conflict("This organization has no paid subscription.", code="no_subscription")
    return acct


def invoices(org: Organization) -> list[InvoiceInfo]:
    """The org's invoices from the provider, newest first (none before it has a customer)."""
    acct = find_account(org)
    if acct is None or not acct.stripe_customer_id:
        return []
    return sorted(_calling(provider().list_invoices, acct.stripe_customer_id), key=lambda i: i.created, reverse=True)


# ------------------------------------------------------------------ mirroring the provider's subscription


def _at(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def apply_now(acct: BillingAccount, info: SubscriptionInfo) -> BillingAccount:
    """Mirror a subscription the provider just answered with (its state as of now)."""
    db.session.refresh(acct, with_for_update=True)  # a webhook of the same org may be applying meanwhile
    apply_subscription(acct, info, int(time.time()))
    return acct


def apply_subscription(acct: BillingAccount, info: SubscriptionInfo, at: int) -> str:
    """Mirror a subscription's state as of `at` (epoch seconds) onto the account, unless it is stale.

    Stale: an event older than the last applied one, any event about a subscription that already ended
    (an ended subscription never comes back, so a late `updated` cannot reactivate the org), or one about
    an older subscription than the account's. Returns what happened, for the event's record."""
    live = info.status in LIVE
    if acct.stripe_subscription_id and info.id != acct.stripe_subscription_id:
        if info.created < acct.stripe_subscription_created or (not live and acct.status in LIVE):
            return "stale: another subscription is current"
    elif acct.stripe_subscription_id:
        if acct.status == "canceled":
            return "stale: the subscription has ended"
        if at < acct.stripe_state_at:
            return "stale: a newer event was applied"
    same = info.id == acct.stripe_subscription_id
    found = plan_for_price(info.price_id)
    plan, interval = found if found else (get_plan(acct.plan), acct.interval)
    acct.plan, acct.interval, acct.status = plan.key, interval, info.status
    acct.current_period_start, acct.current_period_end = _at(info.current_period_start), _at(info.current_period_end)
    acct.trial_end = _at(info.trial_end)
    acct.cancel_at_period_end = info.cancel_at_period_end
    acct.stripe_subscription_id, acct.stripe_subscription_created = info.id, info.created
    acct.stripe_state_at = max(at, acct.stripe_state_at) if same else at
    if info.customer_id and not acct.stripe_customer_id:
        acct.stripe_customer_id = info.customer_id
    db.session.flush()
    return f"applied: {info.status}"
