"""Payments: Stripe (`STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `STRIPE_API_BASE`) or "no provider".

The port speaks in the portal's terms (customers, subscriptions, invoices, signed events) and hands back
plain dataclasses, so no caller reads a Stripe object. Without Stripe configured the embedded default
answers: `configured` is False, nothing is charged, and the operations that need a provider raise
`PaymentsNotConfigured` (plans are then assigned by a super admin; every limit still applies).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import Flask, current_app

WEBHOOK_TOLERANCE = 300  # seconds: a signed event older than this is refused (a replay)


class PaymentsError(Exception):
    """The provider refused a call or could not be reached."""


class PaymentsNotConfigured(PaymentsError):
    """No payment provider is configured (the embedded default)."""


class InvalidWebhook(PaymentsError):
    """A webhook whose signature, timestamp or body does not check out."""


@dataclass(frozen=True)
class SubscriptionInfo:
    """A provider subscription as the portal needs it (times in epoch seconds)."""

    id: str
    customer_id: str
    status: str
    price_id: str | None
    created: int
    current_period_start: int | None = None
    current_period_end: int | None = None
    trial_end: int | None = None
    cancel_at_period_end: bool = False
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InvoiceInfo:
    """An invoice: amounts in integer cents of `currency`."""

    id: str
    customer_id: str
    subscription_id: str | None
    number: str | None
    status: str
    amount_due: int
    amount_paid: int
    currency: str
    created: int
    period_start: int | None = None
    period_end: int | None = None
    hosted_url: str | None = None
    pdf_url: str | None = None


@dataclass(frozen=True)
class ChangePreview:
    """What a change of price costs, from the provider's invoice preview (integer cents of `currency`).

    `amount_due` is charged at once (the new price for the rest of the period, less the unused time of the
    old one, both prorated to the second as of `proration_date`); `next_amount` is then charged every
    `interval` from `period_end` (epoch seconds)."""

    amount_due: int
    next_amount: int
    interval: str
    period_end: int
    currency: str
    proration_date: int


@dataclass(frozen=True)
class PaymentEvent:
    """A verified provider event, normalized: what it is about and the object's state when it was sent."""

    id: str
    type: str
    created: int
    customer_id: str | None
    subscription: SubscriptionInfo | None = None
    invoice: InvoiceInfo | None = None

    def to_dict(self) -> dict:
        """A JSON-able form, stored with the event and turned back by `from_dict`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PaymentEvent:
        """The event `to_dict` stored."""
        sub, inv = data.get("subscription"), data.get("invoice")
        return cls(data["id"], data["type"], int(data["created"]), data.get("customer_id"),
                   SubscriptionInfo(**sub) if sub else None, InvoiceInfo(**inv) if inv else None)


class Payments(Protocol):
    """What callers may ask of the payments port, whichever adapter it is."""

    configured: bool  # False: no provider (the embedded default)
    hosted_origins: tuple[str, ...]  # where the provider's hosted pages (Checkout, customer portal) live: a form goes on there

    def ensure_customer(self, org_ref: str, *, name: str, email: str | None) -> str:
        """The provider's customer for an org, created with an idempotency key per org; its id."""

    def has_payment_method(self, customer_id: str) -> bool:
        """True when the customer has a default payment method on file."""

    def checkout_url(self, customer_id: str, price_id: str, *, success_url: str, cancel_url: str, metadata: dict,
                     trial_days: int | None = None) -> str:
        """A hosted Checkout page (subscription mode) for one price."""

    def portal_url(self, customer_id: str, return_url: str) -> str:
        """The hosted customer portal: payment methods, invoices, cancellation."""

    def create_subscription(self, customer_id: str, price_id: str, *, metadata: dict, idempotency_key: str) -> SubscriptionInfo:
        """Subscribe a customer with a payment method on file to a price."""

    def update_subscription(self, subscription_id: str, *, price_id: str | None = None,
                            cancel_at_period_end: bool | None = None, proration_date: int | None = None) -> SubscriptionInfo:
        """A change to price_id (applied and invoiced now, prorated as of proration_date or now), or a
        cancellation at period end (or its undoing)."""

    def preview_change(self, subscription_id: str, price_id: str, *, proration_date: int | None = None) -> ChangePreview:
        """What `update_subscription(subscription_id, price_id=..., proration_date=...)` would charge; nothing changes."""

    def get_subscription(self, subscription_id: str) -> SubscriptionInfo:
        """The subscription as the provider has it now."""

    def list_invoices(self, customer_id: str, limit: int = 24) -> list[InvoiceInfo]:
        """The customer's invoices."""

    def parse_webhook(self, payload: bytes, signature: str | None) -> PaymentEvent:
        """Verify a webhook's signature and timestamp on the raw body, then parse it; InvalidWebhook otherwise."""

    def events_since(self, created_after: int, limit: int = 1000) -> list[PaymentEvent]:
        """The provider's events created after a time (for the reconciler)."""

    def report_usage(self, event_name: str, customer_id: str, value: int, identifier: str) -> None:
        """A meter event; the identifier makes a retry count once."""


# ------------------------------------------------------------------ Stripe's shapes → the port's


def _get(obj: Any, key: str, default=None):
    """obj[key], or default when obj has no such key (or it is null)."""
    try:
        value = obj[key]
    except (KeyError, TypeError, IndexError):
        return default
    return default if value is None else value


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _id(value) -> str | None:
    """An id whether Stripe sent it bare or expanded."""
    return _get(value, "id") if isinstance(value, dict) else value


def subscription_info(obj) -> SubscriptionInfo:
    """A Stripe subscription object as SubscriptionInfo (periods read from the item on newer API versions)."""
    items = _get(_get(obj, "items", {}), "data", [])
    item = items[0] if items else {}
    price = _get(item, "price") or _get(item, "plan")
    return SubscriptionInfo(
        id=obj["id"], customer_id=_id(_get(obj, "customer")), status=_get(obj, "status", "incomplete"), price_id=_id(price),
        created=int(_get(obj, "created", 0)),
        current_period_start=_get(obj, "current_period_start") or _get(item, "current_period_start"),
        current_period_end=_get(obj, "current_period_end") or _get(item, "current_period_end"),
        trial_end=_get(obj, "trial_end"), cancel_at_period_end=bool(_get(obj, "cancel_at_period_end", False)),
        metadata=dict(_get(obj, "metadata", {}) or {}),
    )


def invoice_info(obj) -> InvoiceInfo:
    """A Stripe invoice object as InvoiceInfo."""
    parent = _get(_get(obj, "parent", {}), "subscription_details", {})
    return InvoiceInfo(
        id=obj["id"], customer_id=_id(_get(obj, "customer")), subscription_id=_id(_get(obj, "subscription") or _get(parent, "subscription")),
        number=_get(obj, "number"), status=_get(obj, "status", "draft"), amount_due=int(_get(obj, "amount_due", 0)),
        amount_paid=int(_get(obj, "amount_paid", 0)), currency=str(_get(obj, "currency", "usd")).lower(),
        created=int(_get(obj, "created", 0)), period_start=_get(obj, "period_start"), period_end=_get(obj, "period_end"),
        hosted_url=_get(obj, "hosted_invoice_url"), pdf_url=_get(obj, "invoice_pdf"),
    )


def event_info(obj) -> PaymentEvent:
    """A Stripe event (already verified) as PaymentEvent; subscription and invoice events carry their object."""
    kind = obj["type"]
    data = _get(_get(obj, "data", {}), "object", {})
    sub = subscription_info(data) if kind.startswith("customer.subscription.") else None
    inv = invoice_info(data) if kind.startswith("invoice.") else None
    customer = _id(_get(data, "customer")) if data else None
    if kind.startswith("customer.") and not sub:
        customer = _get(data, "id")
    return PaymentEvent(id=obj["id"], type=kind, created=int(obj["created"]), customer_id=customer, subscription=sub, invoice=inv)


# ------------------------------------------------------------------ adapters


class StripePayments:
    """Stripe through its official SDK (a client per app: no module-level api_key)."""

    configured = True
    HOSTED_ORIGINS = ("https://checkout.stripe.com", "https://billing.stripe.com")

    def __init__(self, secret_key: str, webhook_secret: str, api_base: str | None = None, timeout: float = 15.0):
        import stripe

        # A Stripe-protocol server of one's own (STRIPE_API_BASE) serves its hosted pages itself.
        self.hosted_origins = (_origin(api_base),) if api_base else self.HOSTED_ORIGINS

        self._stripe = stripe
        # Network retries: the SDK resends with the same idempotency key, so a retried create never doubles.
        self.client = stripe.StripeClient(
            secret_key, base_addresses={"api": api_base} if api_base else None, max_network_retries=2,
            http_client=stripe.RequestsClient(timeout=timeout),
        )
        self.webhook_secret = webhook_secret

    def _call(self, fn, *args, **kwargs) -> dict:
        """Call the SDK; the answer as a plain dict (what the shape readers above take)."""
        try:
            return fn(*args, **kwargs).to_dict()
        except self._stripe.StripeError as exc:
            raise PaymentsError(f"Stripe: {exc.user_message or exc}") from exc

    def ensure_customer(self, org_ref: str, *, name: str, email: str | None) -> str:
        params = {"name": name, "metadata": {"org": org_ref}, **({"email": email} if email else {})}
        customer = self._call(self.client.v1.customers.create, params, {"idempotency_key": f"customer-{org_ref}"})
        return customer["id"]

    def has_payment_method(self, customer_id: str) -> bool:
        customer = self._call(self.client.v1.customers.retrieve, customer_id)
        return bool(_get(_get(customer, "invoice_settings", {}), "default_payment_method") or _get(customer, "default_source"))

    def checkout_url(self, customer_id: str, price_id: str, *, success_url: str, cancel_url: str, metadata: dict,
                     trial_days: int | None = None) -> str:
        sub_data: dict = {"metadata": metadata, **({"trial_period_days": trial_days} if trial_days else {})}
        params = {"mode": "subscription", "customer": customer_id, "line_items": [{"price": price_id, "quantity": 1}],
                  "success_url": success_url, "cancel_url": cancel_url, "subscription_data": sub_data, "metadata": metadata}
        return self._call(self.client.v1.checkout.sessions.create, params)["url"]

    def portal_url(self, customer_id: str, return_url: str) -> str:
        return self._call(self.client.v1.billing_portal.sessions.create, {"customer": customer_id, "return_url": return_url})["url"]

    def create_subscription(self, customer_id: str, price_id: str, *, metadata: dict, idempotency_key: str) -> SubscriptionInfo:
        params = {"customer": customer_id, "items": [{"price": price_id}], "metadata": metadata}
        return subscription_info(self._call(self.client.v1.subscriptions.create, params, {"idempotency_key": idempotency_key}))

    def _item_id(self, subscription_id: str) -> tuple[str, str]:
        """(customer id, id of the subscription's one item)."""
        current = self._call(self.client.v1.subscriptions.retrieve, subscription_id)
        return _id(_get(current, "customer")), _get(_get(_get(current, "items", {}), "data", [{}])[0], "id")

    def update_subscription(self, subscription_id: str, *, price_id: str | None = None,
                            cancel_at_period_end: bool | None = None, proration_date: int | None = None) -> SubscriptionInfo:
        params: dict = {}
        if price_id is not None:
            _customer, item = self._item_id(subscription_id)
            # A change applies now and is invoiced now: the unused time of the old price is credited, the new
            # one charged pro rata; the same proration_date as the preview makes the charge equal the preview.
            params.update(items=[{"id": item, "price": price_id}], proration_behavior="always_invoice",
                          proration_date=proration_date or int(time.time()))
        if cancel_at_period_end is not None:
            params["cancel_at_period_end"] = cancel_at_period_end
        return subscription_info(self._call(self.client.v1.subscriptions.update, subscription_id, params))

    def preview_change(self, subscription_id: str, price_id: str, *, proration_date: int | None = None) -> ChangePreview:
        customer, item = self._item_id(subscription_id)
        at = proration_date or int(time.time())
        details = {"items": [{"id": item, "price": price_id}], "proration_behavior": "always_invoice", "proration_date": at}
        preview = self._call(self.client.v1.invoices.create_preview,
                             {"customer": customer, "subscription": subscription_id, "subscription_details": details})
        price = self._call(self.client.v1.prices.retrieve, price_id)
        lines = _get(_get(preview, "lines", {}), "data", [])
        # The new price's line runs to the end of the period it starts (a new one when the interval changes).
        period_end = max((int(_get(_get(line, "period", {}), "end", 0)) for line in lines), default=int(_get(preview, "period_end", at)))
        return ChangePreview(amount_due=int(_get(preview, "amount_due", 0)), next_amount=int(_get(price, "unit_amount", 0)),
                             interval=_get(_get(price, "recurring", {}), "interval", "month"), period_end=period_end,
                             currency=str(_get(preview, "currency", _get(price, "currency", "usd"))).lower(), proration_date=at)

    def get_subscription(self, subscription_id: str) -> SubscriptionInfo:
        return subscription_info(self._call(self.client.v1.subscriptions.retrieve, subscription_id))

    def list_invoices(self, customer_id: str, limit: int = 24) -> list[InvoiceInfo]:
        found = self._call(self.client.v1.invoices.list, {"customer": customer_id, "limit": limit})
        return [invoice_info(i) for i in found["data"]]

    def parse_webhook(self, payload: bytes, signature: str | None) -> PaymentEvent:
        try:
            # Checks the signature over the raw bytes and the timestamp's age before anything is parsed.
            self._stripe.Webhook.construct_event(payload, signature or "", self.webhook_secret, tolerance=WEBHOOK_TOLERANCE)
            return event_info(json.loads(payload))
        except (self._stripe.SignatureVerificationError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidWebhook(str(exc) or type(exc).__name__) from exc

    def events_since(self, created_after: int, limit: int = 1000) -> list[PaymentEvent]:
        found: list[dict] = []
        params: dict = {"created": {"gt": created_after}, "limit": 100}
        while len(found) < limit:
            page = self._call(self.client.v1.events.list, params)
            found.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                break
            params["starting_after"] = page["data"][-1]["id"]
        return [event_info(e) for e in found[:limit]]

    def report_usage(self, event_name: str, customer_id: str, value: int, identifier: str) -> None:
        params = {"event_name": event_name, "identifier": identifier, "payload": {"stripe_customer_id": customer_id, "value": str(value)}}
        self._call(self.client.v1.billing.meter_events.create, params)


class NoPayments:
    """The embedded default: no provider; plans are assigned by a super admin and nothing is charged."""

    configured = False
    hosted_origins: tuple[str, ...] = ()

    def _refuse(self, *args, **kwargs):
        raise PaymentsNotConfigured("Online payment is not configured on this installation.")

    ensure_customer = has_payment_method = checkout_url = portal_url = _refuse
    create_subscription = update_subscription = get_subscription = preview_change = _refuse

    def list_invoices(self, customer_id: str, limit: int = 24) -> list[InvoiceInfo]:
        return []

    def parse_webhook(self, payload: bytes, signature: str | None) -> PaymentEvent:
        raise InvalidWebhook("No payment provider is configured: there is no webhook to receive.")

    def events_since(self, created_after: int, limit: int = 1000) -> list[PaymentEvent]:
        return []

    def report_usage(self, event_name: str, customer_id: str, value: int, identifier: str) -> None:
        return None


def init_app(app: Flask) -> None:
    """Pick the payments adapter from config."""
    c = app.config
    if c.get("STRIPE_SECRET_KEY"):
        adapter: Payments = StripePayments(c["STRIPE_SECRET_KEY"], c["STRIPE_WEBHOOK_SECRET"] or "", c.get("STRIPE_API_BASE"))
    else:
        adapter = NoPayments()
    app.extensions["payments"] = adapter


def provider() -> Payments:
    """The current app's payments adapter."""
    return current_app.extensions["payments"]
