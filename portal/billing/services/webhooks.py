"""The provider's webhooks: verified and stored by event id on receipt, processed once on the job runner.

Receipt stores the event under a unique constraint (a duplicate delivery stores nothing) and answers;
the job claims the stored row with a conditional UPDATE in the same transaction as the event's effect,
so two workers racing on one event apply it once. Effects are order-independent: subscription events are
ordered by their `created` time and an ended subscription never comes back (see apply_subscription);
payment events are ordered the same way. The reconciler re-enqueues rows left unprocessed and fetches
events that never arrived.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from portal.billing.models import BillingAccount, WebhookEvent
from portal.billing.services.accounts import account, account_by_customer, billing_url, grace_ends_at, insert_ignoring_duplicates
from portal.billing.services.subscriptions import apply_subscription
from portal.errors import ServiceError
from portal.extensions import db
from portal.infra.jobs import enqueue
from portal.infra.payments import InvalidWebhook, PaymentEvent, PaymentsError, provider
from portal.models import utcnow
from portal.notifications import service as notifications
from portal.orgs import members
from portal.orgs.models import Organization
from portal.tenancy import unscoped
from portal.uow import after_commit

SUBSCRIPTION_EVENTS = ("customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
                       "customer.subscription.paused", "customer.subscription.resumed", "customer.subscription.trial_will_end")
PAID_EVENTS = ("invoice.paid", "invoice.payment_succeeded")
FAILED_EVENTS = ("invoice.payment_failed",)
PAYMENT_NOTICE_ROLES = ("billing_admin",)


def receive(payload: bytes, signature: str | None) -> tuple[int | None, str]:
    """Verify a webhook and store it; (row id when new, provider event id). Bad ones are a 400, nothing stored."""
    try:
        event = provider().parse_webhook(payload, signature)
    except InvalidWebhook as exc:
        raise ServiceError(f"The webhook was refused: {exc}", code="invalid_webhook", status=400) from exc
    row_id = store(event)
    if row_id is not None:
        enqueue_after_commit(row_id)
    return row_id, event.id


def enqueue_after_commit(row_id: int) -> None:
    """Hand a stored event to the job runner once its row is committed."""
    after_commit(lambda: enqueue(process, row_id))


def store(event: PaymentEvent) -> int | None:
    """Store an event once by its id; the new row's id (None for a duplicate)."""
    values = {"provider_event_id": event.id, "type": event.type, "created": event.created, "data": event.to_dict(),
              "received_at": utcnow(), "attempts": 0}
    return insert_ignoring_duplicates(WebhookEvent, values, ["provider_event_id"])


def claim(row_id: int) -> bool:
    """Take a stored event for processing; False when it was processed already (or is being, by another worker)."""
    result = db.session.execute(
        update(WebhookEvent).where(WebhookEvent.id == row_id, WebhookEvent.processed_at.is_(None))
        .values(processed_at=utcnow(), attempts=WebhookEvent.attempts + 1),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount == 1


def process(row_id: int) -> str:
    """Apply one stored event, once: the claim and the effect commit together (or neither does)."""
    row = db.session.get(WebhookEvent, row_id)
    if row is None or not claim(row_id):
        return "duplicate"
    outcome = apply(PaymentEvent.from_dict(row.data))
    db.session.execute(update(WebhookEvent).where(WebhookEvent.id == row_id).values(outcome=outcome[:60]),
                       execution_options={"synchronize_session": False})
    return outcome


def _account_for(event: PaymentEvent) -> BillingAccount | None:
    """The account an event is about: by its customer, else by the org named in the subscription's metadata."""
    acct = account_by_customer(event.customer_id)
    if acct is None and event.subscription is not None and event.subscription.metadata.get("org"):
        org = db.session.scalar(unscoped(Organization, reason="a provider event names its org by public id in metadata")
                                .where(Organization.public_id == event.subscription.metadata["org"]))
        acct = account(org) if org is not None else None
    return acct


def apply(event: PaymentEvent) -> str:
    """The effect of one event on its org's account."""
    if event.type not in (*SUBSCRIPTION_EVENTS, *PAID_EVENTS, *FAILED_EVENTS):
        return "ignored"
    acct = _account_for(event)
    if acct is None:
        return "ignored: unknown customer"
    db.session.refresh(acct, with_for_update=True)  # events of one org, on two workers, apply one after the other
    if event.subscription is not None:
        return apply_subscription(acct, event.subscription, event.created)
    if event.invoice is None:
        return "ignored: no invoice"
    return _payment(acct, event, paid=event.type in PAID_EVENTS)


def _payment(acct: BillingAccount, event: PaymentEvent, *, paid: bool) -> str:
    """A payment failed (the grace period starts, billing admins are told) or succeeded (the plan is back at once).

    Ordered by the event's time, a success winning a tie: a stale failure after a later payment changes nothing."""
    order = event.created * 2 + (1 if paid else 0)
    if order <= acct.payment_state_at:
        return "stale: a newer payment event was applied"
    acct.payment_state_at = order
    if paid:
        acct.payment_failed_at = None
        db.session.flush()
        return "applied: paid"
    if acct.payment_failed_at is None:
        acct.payment_failed_at = datetime.fromtimestamp(event.created, UTC)
    db.session.flush()
    _tell_payment_failed(acct, event)
    return "applied: payment failed"


def _tell_payment_failed(acct: BillingAccount, event: PaymentEvent) -> None:
    org = acct.org
    invoice = event.invoice
    recipients = members.admins(org, roles=PAYMENT_NOTICE_ROLES) or members.admins(org, roles=("org_admin",))
    data = {"invoice_number": invoice.number or invoice.id, "amount": format_money(invoice.amount_due, invoice.currency),
            "grace_ends": grace_ends_at(acct).strftime("%Y-%m-%d"), "url": billing_url(org)}
    notifications.notify(org, recipients, "invoice.payment_failed", data)


def format_money(cents: int, currency: str) -> str:
    """Integer cents as people read them: 4900 usd → "USD 49.00"."""
    return f"{currency.upper()} {cents // 100:,}.{cents % 100:02d}"


# ------------------------------------------------------------------ reconciling


def pending(older_than: timedelta = timedelta(seconds=60)) -> list[int]:
    """Stored events still unprocessed a while after they arrived (their job was lost or failed)."""
    cutoff = utcnow() - older_than
    query = select(WebhookEvent.id).where(WebhookEvent.processed_at.is_(None), WebhookEvent.received_at <= cutoff).order_by(WebhookEvent.id)
    return list(db.session.scalars(query.limit(500)))


def fetch_missed(window: timedelta = timedelta(days=3)) -> list[int]:
    """Ask the provider for recent events and store the ones that never arrived; their new row ids."""
    newest = db.session.scalar(select(func.max(WebhookEvent.created)))
    since = int((utcnow() - window).timestamp())
    if newest is not None:
        since = max(since, int(newest) - 3600)  # an hour's overlap: events are not delivered in order
    try:
        events = provider().events_since(since)
    except PaymentsError:
        return []  # the provider is unreachable now: the next run asks again
    return [row_id for event in events if (row_id := store(event)) is not None]
