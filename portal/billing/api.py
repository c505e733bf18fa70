"""Billing over the JSON API: customer, subscriptions, checkout, invoices, usage, and the provider's webhook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import jsonify, request
from flask_login import current_user

from portal.api import bp
from portal.api.helpers import parse_body
from portal.api.openapi import route
from portal.billing import schemas, service
from portal.billing.plans import METERED, period_bounds, period_of
from portal.errors import ValidationFailed
from portal.extensions import csrf
from portal.models import utcnow
from portal.tenancy import current_org, org_required

FUTURE_SLACK = timedelta(minutes=5)  # clocks differ: usage "from the future" within this is accepted


def _at(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def _subscription() -> dict:
    acct = service.find_account(current_org)
    return schemas.SubscriptionOut(
        plan=acct.plan if acct else "free", effective_plan=service.effective_plan(acct).key, interval=acct.interval if acct else None,
        status=acct.status if acct else "active", current_period_start=acct.current_period_start if acct else None,
        current_period_end=acct.current_period_end if acct else None, trial_end=acct.trial_end if acct else None,
        cancel_at_period_end=bool(acct and acct.cancel_at_period_end), payment_failed_at=acct.payment_failed_at if acct else None,
        grace_ends_at=service.grace_ends_at(acct), payments_configured=service.payments_configured(),
    ).model_dump(mode="json")


@route(bp, "/customers", "POST", summary="The org's customer at the payment provider, created or returned", tag="billing",
       response=schemas.CustomerOut, status=201, also_ok=(200,), errors=(409, 502))
@org_required("billing.manage")
def create_customer():
    customer_id, created = service.ensure_customer(current_org, by=current_user)
    return jsonify(schemas.CustomerOut(id=customer_id, created=created).model_dump(mode="json")), 201 if created else 200


@route(bp, "/subscriptions", "GET", summary="The org's plan and subscription", tag="billing", response=schemas.SubscriptionOut)
@org_required()
def get_subscription():
    return jsonify(_subscription())


@route(bp, "/subscriptions", "POST", summary="Subscribe or change plan (409 with a checkout_url when no payment method is on file)",
       tag="billing", body=schemas.SubscribeIn, response=schemas.SubscriptionOut, errors=(409, 502))
@org_required("billing.manage")
def create_subscription():
    body = parse_body(schemas.SubscribeIn)
    service.subscribe(current_org, body.plan, body.interval, by=current_user, proration_date=body.proration_date)
    return jsonify(_subscription())


@route(bp, "/subscriptions/preview", "GET", summary="What a change of plan or interval would charge now and from the period's end",
       tag="billing", response=schemas.ChangePreviewOut, errors=(409, 422, 502))
@org_required("billing.manage")
def preview_subscription_change():
    change = service.preview_change(current_org, request.args.get("plan", ""), request.args.get("interval", "month"))
    p = change.preview
    out = schemas.ChangePreviewOut(plan=change.plan.key, interval=change.interval, charged=p is not None)
    if p is not None:
        out = out.model_copy(update={"amount_due": schemas.Money(amount=p.amount_due, currency=p.currency),
                                     "next_amount": schemas.Money(amount=p.next_amount, currency=p.currency),
                                     "period_end": _at(p.period_end), "proration_date": p.proration_date})
    return jsonify(out.model_dump(mode="json"))


@route(bp, "/checkout", "POST", summary="A Checkout URL (subscription mode) for a paid plan", tag="billing",
       body=schemas.SubscribeIn, response=schemas.CheckoutOut, status=201, errors=(409, 502))
@org_required("billing.manage")
def create_checkout():
    body = parse_body(schemas.SubscribeIn)
    return jsonify({"url": service.checkout(current_org, body.plan, body.interval, by=current_user)}), 201


@route(bp, "/invoices", "GET", summary="The org's invoices, amounts in integer cents with their currency", tag="billing",
       response=schemas.InvoiceListOut, errors=(502,))
@org_required()
def list_invoices():
    data = [
        schemas.InvoiceOut(
            id=i.id, number=i.number, status=i.status, amount_due=schemas.Money(amount=i.amount_due, currency=i.currency),
            amount_paid=schemas.Money(amount=i.amount_paid, currency=i.currency), period_start=_at(i.period_start),
            period_end=_at(i.period_end), hosted_url=i.hosted_url, pdf_url=i.pdf_url, created=_at(i.created),
        ).model_dump(mode="json")
        for i in service.invoices(current_org)
    ]
    return jsonify({"data": data})


@route(bp, "/usage", "POST", summary="Record usage (the same idempotency_key twice counts once)", tag="billing",
       body=schemas.UsageIn, response=schemas.UsageRecordedOut, status=201, also_ok=(200,))
@org_required("billing.manage")
def record_usage():
    body = parse_body(schemas.UsageIn)
    at = (body.timestamp.astimezone(UTC) if body.timestamp and body.timestamp.tzinfo else
          body.timestamp.replace(tzinfo=UTC) if body.timestamp else utcnow())
    if at > utcnow() + FUTURE_SLACK:
        raise ValidationFailed({"timestamp": "Usage cannot be recorded in the future."})
    counted = service.record_usage(current_org, body.metric, body.quantity, body.idempotency_key, at=at)
    out = schemas.UsageRecordedOut(counted=counted, metric=body.metric, used=service.used_in(current_org, body.metric, period_of(at)),
                                   limit=service.limit_of(current_org, body.metric), period=period_of(at))
    return jsonify(out.model_dump(mode="json")), 201 if counted else 200


@route(bp, "/usage", "GET", summary="Usage per metric: used, limit and period", tag="billing", response=schemas.UsageOut)
@org_required()
def get_usage():
    data = []
    for u in service.usage_report(current_org):
        start, end = period_bounds(u.period) if u.metric in METERED else (None, None)
        data.append(schemas.MetricOut(metric=u.metric, label=u.label, used=u.used, limit=u.limit, period_start=start, period_end=end))
    return jsonify(schemas.UsageOut(plan=service.plan_of(current_org).key, data=data).model_dump(mode="json"))


@route(bp, "/webhooks/stripe", "POST", summary="Stripe's events: verified on the raw body, stored once, processed in the background",
       tag="billing", public=True, errors=(400,))
@csrf.exempt  # Stripe signs the raw body instead (Stripe-Signature, with a timestamp tolerance)
def stripe_webhook():
    row_id, event_id = service.receive(request.get_data(cache=False), request.headers.get("Stripe-Signature"))
    return jsonify({"received": True, "id": event_id, "duplicate": row_id is None}), 200
