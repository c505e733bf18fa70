"""Deliveries after the fan-out: handing them to the job runner, the delivery log, resending, reconciling,
and the SMS provider's delivery reports."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import update

from portal.errors import Conflict
from portal.extensions import db
from portal.infra import jobs
from portal.models import utcnow
from portal.notifications.deliveries_job import deliver_batch
from portal.notifications.models import Delivery, Notification
from portal.orgs.models import Organization
from portal.pagination import Page, paginate
from portal.tenancy import get_scoped_or_404, scoped, unscoped
from portal.uow import after_commit

log = logging.getLogger(__name__)

BATCH_SIZE = 50  # deliveries a job sends over one SMTP connection
Due = tuple[int, str, datetime | None]  # (delivery id, channel, next attempt): what enqueueing needs of a row


def due(deliveries: Iterable[Delivery]) -> list[Due]:
    """What dispatch needs of each delivery, read now: after the commit it would cost one query per row."""
    return [(d.id, d.channel, d.next_attempt_at) for d in deliveries]


def dispatch(rows: list[Due]) -> None:
    """Enqueue these queued deliveries once the current unit of work commits; never for a rolled-back one."""
    if rows:
        after_commit(lambda: _enqueue(rows))


def _enqueue(rows: list[Due]) -> None:
    """Hand queued deliveries to the job runner, in batches; the reconciler catches any that fail to enqueue."""
    now = utcnow()
    groups: dict[tuple[str, int], list[int]] = {}
    for delivery_id, channel, next_attempt_at in rows:
        delay = max(0, int((next_attempt_at - now).total_seconds())) if next_attempt_at else 0
        groups.setdefault((channel, delay), []).append(delivery_id)
    for (channel, delay), ids in groups.items():
        for start in range(0, len(ids), BATCH_SIZE):
            try:
                jobs.enqueue(deliver_batch, ids[start:start + BATCH_SIZE], delay=delay or None)
            except Exception:  # noqa: BLE001 - Redis down: rows stay queued, the reconciler re-enqueues them
                log.exception("could not enqueue %d %s deliveries; the reconciler will retry", len(ids), channel)


def deliveries(org: Organization, *, status: str | None = None, channel: str | None = None, event: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    """The org's delivery log, newest first."""
    query = scoped(Delivery, org).join(Notification, Delivery.notification_id == Notification.id)
    if status:
        query = query.where(Delivery.status == status)
    if channel:
        query = query.where(Delivery.channel == channel)
    if event:
        query = query.where(Notification.event == event)
    return paginate(query.order_by(Delivery.created_at.desc(), Delivery.id.desc()), page, per_page)


def resend(org: Organization, delivery_id: str) -> Delivery:
    """Queue a failed delivery again, as a new attempt series."""
    delivery = get_scoped_or_404(Delivery, org, delivery_id)
    if delivery.status != "failed":
        raise Conflict("Only failed deliveries can be resent.", code="not_failed")
    delivery.status, delivery.attempts, delivery.last_error, delivery.next_attempt_at = "queued", 0, None, utcnow()
    db.session.flush()
    dispatch(due([delivery]))
    return delivery


def reconcile(overdue_seconds: int = 60, stuck_sending_seconds: int = 600) -> dict[str, int]:
    """Re-enqueue deliveries left queued (Redis was down); fail ones stuck in sending (never send twice)."""
    now = utcnow()
    overdue = list(db.session.scalars(
        unscoped(Delivery, reason="the reconciler looks after every org's deliveries")
        .where(Delivery.status == "queued", Delivery.next_attempt_at < now - timedelta(seconds=overdue_seconds))
    ))
    stuck = db.session.execute(
        update(Delivery)
        .where(Delivery.status == "sending", Delivery.updated_at < now - timedelta(seconds=stuck_sending_seconds))
        .values(status="failed", last_error="the worker stopped while sending; not retried to avoid a duplicate (resend by hand)")
    ).rowcount
    dispatch(due(overdue))
    return {"requeued": len(overdue), "failed_stuck": stuck}


SMS_FINAL = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}


def record_sms_status(message_sid: str, status: str, error_code: str | None = None) -> Delivery | None:
    """Apply a provider delivery report to the SMS delivery it is about; other statuses are ignored."""
    query = unscoped(Delivery, reason="the SMS provider reports on a message by its id, from no organization")
    delivery = db.session.scalar(query.where(Delivery.channel == "sms", Delivery.provider_message_id == message_sid))
    if delivery is None or status not in SMS_FINAL or delivery.status in ("delivered", "failed"):
        return delivery
    delivery.status = SMS_FINAL[status]
    if delivery.status == "delivered":
        delivery.delivered_at = utcnow()
    else:
        delivery.last_error = f"the carrier reported {status}" + (f" (Twilio error {error_code})" if error_code else "")
    db.session.flush()
    return delivery
