"""The delivery job: claim each delivery once, send it, record the outcome, retry transient failures.

A job runtime, not a service, and on purpose it commits in steps instead of once at the end: every
delivery is committed as "sending" before it is sent and its outcome is committed within COMMIT_EVERY
messages, so a crash never sends anything twice and leaves at most COMMIT_EVERY rows in "sending" (the
reconciler fails those as "outcome unknown"). One commit for the whole batch would resend everything
after a crash; one commit per message cost more than building and sending it.

It imports neither the fan-out nor the delivery log that enqueue it, so they import it at module level.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from flask import current_app
from sqlalchemy import update
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.infra import jobs
from portal.infra.mail import Email, MailError, mailer
from portal.infra.sms import SMSError, send_sms
from portal.models import utcnow
from portal.notifications.catalog import get_event
from portal.notifications.models import Delivery, Notification
from portal.notifications.services.templates import render_for
from portal.notifications.services.unsubscribe import unsubscribe_token
from portal.tenancy import unscoped
from portal.themes.email import look_for, render_email
from portal.tokens import external_url
from portal.uow import after_commit

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6  # the first try and five retries
BASE_DELAY = 30.0  # seconds (NOTIFY_RETRY_BASE_SECONDS); doubles each retry: 30 s, 1, 2, 4, 8 min → ~15 min in all
COMMIT_EVERY = 20  # outcomes recorded per commit; see _Outcomes


def backoff(attempt: int) -> float:
    """Seconds to wait after the given failed attempt: exponential with ±20% jitter."""
    base = float(current_app.config.get("NOTIFY_RETRY_BASE_SECONDS", BASE_DELAY))
    return base * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)


def _claim(delivery_ids: list[int]) -> list[int]:
    """Move the due, queued deliveries among these to sending, in one statement; returns the ones this job got."""
    now = utcnow()
    table = Delivery.__table__
    claimed = db.session.execute(
        update(table)
        .where(table.c.id.in_(delivery_ids), table.c.status == "queued", table.c.next_attempt_at <= now + timedelta(seconds=1))
        .values(status="sending", attempts=table.c.attempts + 1, updated_at=now)
        .returning(table.c.id)
    )
    return sorted(row[0] for row in claimed)


def deliver_batch(delivery_ids: list[int]) -> dict[str, int]:
    """Send a batch of deliveries of one channel; each is claimed first so none is sent twice."""
    claimed = _claim(delivery_ids)
    db.session.commit()  # claimed before anything is sent: another job racing for these rows gets none
    outcome = {"sent": 0, "retry": 0, "failed": 0, "skipped": len(delivery_ids) - len(claimed)}
    if not claimed:
        return outcome
    query = (
        unscoped(Delivery, reason="a job reloads the rows it claimed, by id, whatever their org")
        .where(Delivery.id.in_(claimed))
        .order_by(Delivery.id)
        .options(joinedload(Delivery.notification).joinedload(Notification.user), joinedload(Delivery.notification).joinedload(Notification.org))
    )
    batch = list(db.session.scalars(query).unique())
    cache: dict = {}  # templates and link prefixes, shared by the batch
    # This job owns the claimed rows, so commits need not expire and reload the batch each time.
    session = db.session()
    session.expire_on_commit = False
    try:
        _send_all(batch, cache, outcome)
    finally:
        session.expire_on_commit = True
    return outcome


class _Outcomes:
    """Commits recorded outcomes COMMIT_EVERY at a time (see the module's docstring for why in steps)."""

    def __init__(self):
        self.pending = 0

    def recorded(self, now: bool = False) -> None:
        self.pending += 1
        if now or self.pending >= COMMIT_EVERY:
            self.commit()

    def commit(self) -> None:
        db.session.commit()
        self.pending = 0


def _retry_later(delivery_id: int, delay: float) -> None:
    # After the commit that records the row queued again, so that the retry finds it due.
    after_commit(lambda: jobs.enqueue(deliver_batch, [delivery_id], delay=delay))


def _send_all(batch: list[Delivery], cache: dict, outcome: dict[str, int]) -> None:
    outcomes = _Outcomes()
    try:
        with mailer().connection() as send_email:
            for delivery in batch:
                try:
                    if delivery.channel == "email":
                        delivery.provider_message_id = send_email(build_email(delivery, cache))
                    else:
                        delivery.provider_message_id = send_sms(delivery.to_address, render_sms(delivery, cache), _status_url(cache))
                except (MailError, SMSError) as exc:
                    outcome[_failed(delivery, exc)] += 1
                else:
                    delivery.status, delivery.sent_at, delivery.last_error = "sent", utcnow(), None
                    outcome["sent"] += 1
                # An SMS's status callback finds its delivery by the provider's id: committed before Twilio can call.
                outcomes.recorded(now=delivery.channel == "sms")
    finally:
        outcomes.commit()


def _failed(delivery: Delivery, exc: MailError | SMSError) -> str:
    delivery.last_error = str(exc)[:500]
    if exc.permanent or delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "failed"
        return "failed"
    delay = backoff(delivery.attempts)
    delivery.status, delivery.next_attempt_at = "queued", utcnow() + timedelta(seconds=delay)
    _retry_later(delivery.id, delay)
    return "retry"


def _values(delivery: Delivery) -> dict:
    note = delivery.notification
    org = note.org
    name = note.user.display_name if note.user else delivery.to_address
    return {"org_name": org.name, "recipient_name": name, "url": "", **note.data}


def _status_url(cache: dict) -> str:
    if "sms_status" not in cache:
        cache["sms_status"] = external_url("notifications.twilio_status")
    return cache["sms_status"]


def _unsubscribe_url(token: str, cache: dict) -> str:
    if "unsubscribe" not in cache:  # building a URL outside a request is costly: once per batch
        cache["unsubscribe"] = external_url("notifications.unsubscribe", token="TOKEN")
    return cache["unsubscribe"].replace("TOKEN", token)


def build_email(delivery: Delivery, cache: dict | None = None) -> Email:
    """The multipart email for a delivery: the org's template in the org's theme, an unsubscribe link for members."""
    cache = {} if cache is None else cache
    note = delivery.notification
    org = note.org
    event = get_event(note.event)
    subject, body = render_for(org, event, "email", _values(delivery), cache)
    headers, unsubscribe_url = {}, None
    if note.user is not None:
        unsubscribe_url = _unsubscribe_url(unsubscribe_token(org, note.user, event.name), cache)
        headers = {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    text, html = render_email(
        "notification",
        look_for(org, cache),  # the org's published theme, read once per batch
        org=org,
        subject=subject,
        body=body,
        paragraphs=body.split("\n\n"),  # Jinja escapes them
        link=note.data.get("url") or note.data.get("invite_url"),
        unsubscribe_url=unsubscribe_url,
    )
    return Email([delivery.to_address], subject, text, html, headers)


def render_sms(delivery: Delivery, cache: dict | None = None) -> str:
    """The SMS text for a delivery, from the org's template."""
    note = delivery.notification
    _, body = render_for(note.org, get_event(note.event), "sms", _values(delivery), cache)
    return body[:480]
