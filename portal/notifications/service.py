"""The notification service: `notify()` is the only way in for every domain."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, insert, select, update

from portal.accounts.models import User
from portal.errors import ServiceError, ValidationFailed
from portal.extensions import db
from portal.infra import jobs
from portal.infra.sms import SMSError, is_e164, send_sms
from portal.models import utcnow
from portal.notifications import templating
from portal.notifications.catalog import CHANNELS, EVENTS, Event, get_event
from portal.notifications.models import (
    Delivery,
    Notification,
    NotificationProfile,
    NotificationSetting,
    NotificationTemplate,
)
from portal.orgs.models import Membership, Organization
from portal.pagination import Page, paginate
from portal.tenancy import get_scoped_or_404, scoped
from portal.tokens import make_token, read_token

log = logging.getLogger(__name__)

BATCH_SIZE = 50  # deliveries a job sends over one SMTP connection


@dataclass
class Recipient:
    """A member of the org, or only an email address (an invitee without an account yet)."""

    user: User | None = None
    email: str | None = None

    @property
    def address(self) -> str:
        return self.user.email if self.user else (self.email or "")


# ---------------------------------------------------------------- preferences


def _settings(org: Organization, user_ids: list[int]) -> dict[tuple[int | None, str, str], bool]:
    """Org defaults (user None) and the given users' choices, keyed by (user_id, event, channel)."""
    query = scoped(NotificationSetting, org).where(
        (NotificationSetting.user_id.is_(None)) | (NotificationSetting.user_id.in_(user_ids or [-1]))
    )
    return {(s.user_id, s.event, s.channel): s.enabled for s in db.session.scalars(query)}


def resolve(settings: dict, user_id: int | None, event: Event, channel: str, org_defaults: bool = True) -> bool:
    """Is channel on for this user and event? User choice, else org default, else the catalog's default.

    org_defaults=False for platform staff (support agents) told about an org's tickets: an org admin
    muting an event for their members must not mute it for the people answering them.
    """
    if event.critical and channel in event.channels:
        return True
    keys = ((user_id, event.name, channel), (None, event.name, channel)) if org_defaults else ((user_id, event.name, channel),)
    for key in keys:
        if key in settings:
            return settings[key]
    return channel in event.channels


def preference_matrix(org: Organization, user: User | None) -> list[dict]:
    """For each event: {event, description, critical, channels: {channel: on}}; user None gives org defaults."""
    settings = _settings(org, [user.id] if user else [])
    return [
        {
            "event": event.name,
            "description": event.description,
            "critical": event.critical,
            "channels": {c: resolve(settings, user.id if user else None, event, c) for c in CHANNELS},
            "locked": {c: event.critical and c in event.channels for c in CHANNELS},
        }
        for event in EVENTS.values()
        if event.name != "message"
    ]


def _choice_errors(choices: dict[str, dict[str, bool]]) -> dict[str, str]:
    """Field errors of an event × channel matrix: unknown events and channels."""
    errors = {}
    for event_name, channels in choices.items():
        if event_name not in EVENTS:
            errors[event_name] = "Unknown event."
            continue
        for channel in channels:
            if channel not in CHANNELS:
                errors[f"{event_name}.{channel}"] = f"Unknown channel; use {', '.join(CHANNELS)}."
    return errors


def save_preferences(org: Organization, user: User | None, choices: dict[str, dict[str, bool]]) -> None:
    """Store event × channel choices (user None: the org's defaults); critical channels stay on."""
    errors = _choice_errors(choices)
    if errors:
        raise ValidationFailed(errors)
    user_id = user.id if user else None
    owner = NotificationSetting.user_id.is_(None) if user_id is None else NotificationSetting.user_id == user_id
    existing = {(s.event, s.channel): s for s in db.session.scalars(scoped(NotificationSetting, org).where(owner))}
    for event_name, channels in choices.items():
        event = EVENTS[event_name]
        for channel, enabled in channels.items():
            if event.critical and channel in event.channels:
                continue  # cannot be muted: silently kept on, the page shows it locked
            row = existing.get((event_name, channel))
            if row is None:
                db.session.add(NotificationSetting(org_id=org.id, user_id=user_id, event=event_name, channel=channel, enabled=bool(enabled)))
            else:
                row.enabled = bool(enabled)
    db.session.commit()


def replace_preferences(org: Organization, user: User, choices: dict[str, dict[str, bool]], quiet_start: str | None, quiet_end: str | None) -> None:
    """Store a whole preferences document (matrix and quiet hours): all of it, or nothing when any part is bad."""
    errors = {**_choice_errors(choices), **_quiet_hours_errors(quiet_start, quiet_end)}
    if errors:
        raise ValidationFailed(errors)
    save_preferences(org, user, choices)
    set_quiet_hours(user, quiet_start, quiet_end)


def profile_for(user: User) -> NotificationProfile:
    """The user's notification profile, created on first use."""
    profile = db.session.scalar(select(NotificationProfile).filter_by(user_id=user.id))
    if profile is None:
        profile = NotificationProfile(user_id=user.id)
        db.session.add(profile)
        db.session.flush()
    return profile


def _parse_hhmm(value: str | None) -> time | None:
    if not value:
        return None
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes))


def _quiet_hours_errors(start: str | None, end: str | None) -> dict[str, str]:
    """Field errors (quiet_start, quiet_end) of a pair of quiet hours; empty when both are fine."""
    errors = {}
    parsed = {}
    for name, value in (("quiet_start", start), ("quiet_end", end)):
        try:
            parsed[name] = _parse_hhmm(value)
        except ValueError:
            errors[name] = "Use HH:MM, like 22:00."
    if not errors and bool(parsed["quiet_start"]) != bool(parsed["quiet_end"]):
        errors["quiet_end" if parsed["quiet_start"] else "quiet_start"] = "Set both ends of the quiet hours, or neither."
    if not errors and parsed["quiet_start"] and parsed["quiet_start"] == parsed["quiet_end"]:
        errors["quiet_end"] = "The quiet hours must not start and end at the same time."
    return errors


def set_quiet_hours(user: User, start: str | None, end: str | None) -> NotificationProfile:
    """Set (or clear, with empty values) the daily quiet hours in the user's time zone."""
    errors = _quiet_hours_errors(start, end)
    if errors:
        raise ValidationFailed(errors)
    profile = profile_for(user)
    profile.quiet_start = start or None
    profile.quiet_end = end or None
    db.session.commit()
    return profile


def quiet_until(profile: NotificationProfile | None, zone: str, now: datetime) -> datetime | None:
    """When the user's quiet hours end (UTC), if `now` falls inside them; else None."""
    if profile is None or not profile.quiet_start or not profile.quiet_end:
        return None
    tz = ZoneInfo(zone or "UTC")
    local = now.astimezone(tz)
    start, end = _parse_hhmm(profile.quiet_start), _parse_hhmm(profile.quiet_end)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if (start < end or t < end) else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(ZoneInfo("UTC"))


# ---------------------------------------------------------------- phone verification


def _code_hash(code: str) -> str:
    return hmac.new(current_app.secret_key.encode(), code.encode(), hashlib.sha256).hexdigest()


def start_phone_verification(user: User, phone: str) -> None:
    """Send a 6-digit code to phone; SMS is enabled for the user once they type it back."""
    phone = (phone or "").strip().replace(" ", "")
    if not is_e164(phone):
        raise ValidationFailed({"phone": "Use the international format with a plus sign, like +14155550123."})
    profile = profile_for(user)
    code = f"{secrets.randbelow(10**6):06d}"
    try:
        send_sms(phone, f"Your VetrAI Portal verification code is {code}. It expires in 10 minutes.")
    except SMSError as exc:
        db.session.rollback()
        raise ValidationFailed({"phone": f"We couldn't send a code to this number: {exc}"}) from exc
    profile.pending_phone = phone
    profile.code_hash = _code_hash(code)
    profile.code_expires_at = utcnow() + timedelta(minutes=10)
    profile.code_attempts = 0
    db.session.commit()


def confirm_phone(user: User, code: str) -> NotificationProfile:
    """Check the code; five wrong tries or ten minutes end it."""
    profile = profile_for(user)
    if not profile.pending_phone or not profile.code_hash:
        raise ValidationFailed({"code": "Ask for a code first."})
    if profile.code_expires_at < utcnow() or profile.code_attempts >= 5:
        raise ValidationFailed({"code": "This code has expired. Ask for a new one."})
    if not hmac.compare_digest(profile.code_hash, _code_hash((code or "").strip())):
        profile.code_attempts += 1
        db.session.commit()
        raise ValidationFailed({"code": "That code is not right."})
    profile.phone, profile.phone_verified_at = profile.pending_phone, utcnow()
    profile.pending_phone = profile.code_hash = profile.code_expires_at = None
    db.session.commit()
    return profile


def remove_phone(user: User) -> None:
    """Forget the user's phone number (verified or pending): SMS stops reaching them."""
    profile = profile_for(user)
    profile.phone = profile.phone_verified_at = profile.pending_phone = profile.code_hash = None
    db.session.commit()


# ---------------------------------------------------------------- templates


def template_for(org: Organization, event: Event, channel: str) -> tuple[str, str, bool]:
    """(subject, body, customized) used for this org, event and channel."""
    override = db.session.scalar(scoped(NotificationTemplate, org).filter_by(event=event.name, channel=channel))
    if override is not None:
        return override.subject, override.body, True
    return (*event.default_template(channel), False)


def save_template(org: Organization, event_name: str, channel: str, subject: str, body: str) -> NotificationTemplate:
    """Store an org's override after checking it renders in the sandbox with the event's variables."""
    event = _known_event(event_name)
    if channel not in CHANNELS:
        raise ValidationFailed({"channel": "Unknown channel."})
    templating.validate_override(event, channel, subject, body)
    row = db.session.scalar(scoped(NotificationTemplate, org).filter_by(event=event.name, channel=channel))
    if row is None:
        row = NotificationTemplate(org_id=org.id, event=event.name, channel=channel, subject=subject, body=body)
        db.session.add(row)
    else:
        row.subject, row.body = subject, body
    db.session.commit()
    return row


def reset_template(org: Organization, event_name: str, channel: str) -> None:
    """Go back to the built-in template."""
    row = db.session.scalar(scoped(NotificationTemplate, org).filter_by(event=_known_event(event_name).name, channel=channel))
    if row is not None:
        db.session.delete(row)
        db.session.commit()


def preview(event_name: str, channel: str, subject: str, body: str) -> dict:
    """Render a draft on sample data: {"subject", "body"} or {"error"}."""
    event = _known_event(event_name)
    try:
        templating.validate_override(event, channel, subject, body)
    except ValidationFailed as exc:
        return {"errors": exc.fields}
    data = templating.sample_data(event)
    return {"subject": templating.render(subject, data) if subject else "", "body": templating.render(body, data)}


def _known_event(name: str) -> Event:
    try:
        return get_event(name)
    except KeyError as exc:
        raise ValidationFailed({"event": f"Unknown event {name!r}."}) from exc


# ---------------------------------------------------------------- notify


def render_for(org: Organization, event: Event, channel: str, data: dict, cache: dict | None = None) -> tuple[str, str]:
    """(subject, body) of the org's template for event and channel, rendered with data."""
    cache = {} if cache is None else cache
    key = (org.id, event.name, channel)
    if key not in cache:
        cache[key] = template_for(org, event, channel)[:2]
    subject, body = cache[key]
    try:
        return templating.render(subject, data), templating.render(body, data)
    except templating.TemplateProblem:
        # A customized template that no longer fits its data must not lose the message.
        log.warning("org %s template for %s/%s failed; using the default", org.slug, event.name, channel)
        default_subject, default_body = event.default_template(channel)
        return templating.render(default_subject, data), templating.render(default_body, data)


def notify(
    org: Organization,
    recipients: list[User | str],
    event_name: str,
    data: dict,
    *,
    channels: list[str] | None = None,
) -> list[Notification]:
    """Fan an event out to recipients by their preferences; every delivery is committed, then enqueued."""
    event = get_event(event_name)
    missing = [v for v in event.variables if v not in data]
    if missing:
        raise ValueError(f"{event_name} needs data for: {', '.join(missing)}")
    wanted = [c for c in CHANNELS if channels is None or c in channels]
    people = [Recipient(user=r) if isinstance(r, User) else Recipient(email=str(r)) for r in recipients]
    user_ids = [p.user.id for p in people if p.user]
    settings = _settings(org, user_ids)
    profiles = {p.user_id: p for p in db.session.scalars(select(NotificationProfile).where(NotificationProfile.user_id.in_(user_ids or [-1])))}
    now, cache = utcnow(), {}
    members = set(db.session.scalars(select(Membership.user_id).where(Membership.org_id == org.id, Membership.user_id.in_(user_ids or [-1]))))
    notes, plans = _fan_out(org, event, people, data, wanted, settings, members, profiles, now, cache)
    # Bulk INSERT ... RETURNING rather than the unit of work: 10,000 recipients in a few statements.
    created = list(db.session.scalars(insert(Notification).returning(Notification, sort_by_parameter_order=True), notes)) if notes else []
    rows = [{**row, "notification_id": note.id} for note, planned in zip(created, plans, strict=True) for row in planned]
    due = []
    if rows:
        table = Delivery.__table__  # Core, not the ORM's bulk path: that one fetched RETURNING rows in quadratic time
        inserted = db.session.execute(insert(table).returning(table.c.id, table.c.channel, table.c.next_attempt_at, table.c.status), rows)
        due = [(i, channel, at) for i, channel, at, status in inserted if status == "queued"]
    db.session.commit()
    _enqueue(due)
    return created


def _fan_out(org, event, people, data, wanted, settings, members, profiles, now, cache) -> tuple[list[dict], list[list[dict]]]:
    """The notification row of each recipient, and the delivery rows planned for it."""
    notes, plans = [], []
    for person in people:
        values = {"org_name": org.name, "recipient_name": person.user.display_name if person.user else person.address, "url": "", **data}
        title, body = render_for(org, event, "in_app", values, cache)
        planned = [row for channel in wanted if (row := _plan_delivery(org, event, channel, person, settings, members, profiles, now)) is not None]
        in_inbox = any(row["channel"] == "in_app" and row["status"] == "delivered" for row in planned)
        notes.append({"org_id": org.id, "user_id": person.user.id if person.user else None, "email": person.email, "event": event.name,
                      "title": title[:300], "body": body, "data": data, "in_inbox": in_inbox})
        plans.append(planned)
    return notes, plans


def _delivery(org: Organization, channel: str, status: str, **values) -> dict:
    """A delivery row with every column given: one bulk INSERT takes rows that all have the same keys."""
    row = {"to_address": "", "attempts": 0, "last_error": None, "next_attempt_at": None, "sent_at": None, "delivered_at": None}
    return {"org_id": org.id, "channel": channel, "status": status, **row, **values}


def _plan_delivery(org, event, channel, person: Recipient, settings, members, profiles, now) -> dict | None:
    """The delivery row for one channel, with its starting status; None when the channel doesn't apply."""
    if person.user is None:
        # Only an address: email is the one way to reach them, and no preferences exist yet.
        return _delivery(org, "email", "queued", to_address=person.address, next_attempt_at=now) if channel == "email" else None
    user = person.user
    on = resolve(settings, user.id, event, channel, org_defaults=user.id in members)
    if channel == "in_app":
        if on:
            return _delivery(org, channel, "delivered", to_address=user.public_id, sent_at=now, delivered_at=now)
        return _delivery(org, channel, "skipped", to_address=user.public_id, last_error="muted by preference")
    if not on:
        return _delivery(org, channel, "skipped", last_error="muted by preference") if channel in event.channels else None
    profile = profiles.get(user.id)
    address = user.email
    if channel == "sms":
        if profile is None or not profile.phone_verified_at:
            return _delivery(org, channel, "skipped", last_error="no verified phone number")
        address = profile.phone
    due = None if event.critical else quiet_until(profile, user.timezone, now)
    return _delivery(org, channel, "queued", to_address=address, next_attempt_at=due or now)


def _due(deliveries: list[Delivery]) -> list[tuple[int, str, datetime | None]]:
    """What _enqueue needs of each delivery, read before a commit expires them (after it, one query per row)."""
    return [(d.id, d.channel, d.next_attempt_at) for d in deliveries]


def _enqueue(due: list[tuple[int, str, datetime | None]]) -> None:
    """Hand queued deliveries to the job runner, in batches; the reconciler catches any that fail to enqueue."""
    now = utcnow()
    groups: dict[tuple[str, int], list[int]] = {}
    for delivery_id, channel, next_attempt_at in due:
        delay = max(0, int((next_attempt_at - now).total_seconds())) if next_attempt_at else 0
        groups.setdefault((channel, delay), []).append(delivery_id)
    for (channel, delay), ids in groups.items():
        for start in range(0, len(ids), BATCH_SIZE):
            try:
                jobs.enqueue("portal.notifications.tasks.deliver_batch", ids[start:start + BATCH_SIZE], delay=delay or None)
            except Exception:  # noqa: BLE001 - Redis down: rows stay queued, the reconciler re-enqueues them
                log.exception("could not enqueue %d %s deliveries; the reconciler will retry", len(ids), channel)


# ---------------------------------------------------------------- inbox


def inbox(org: Organization, user: User, *, unread_only: bool = False, event: str | None = None, archived: bool = False, page: int = 1, per_page: int = 20) -> Page:
    """The user's in-app notifications in org, newest first."""
    query = scoped(Notification, org).where(Notification.user_id == user.id, Notification.in_inbox.is_(True))
    query = query.where(Notification.archived_at.is_not(None) if archived else Notification.archived_at.is_(None))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if event:
        query = query.where(Notification.event == event)
    return paginate(query.order_by(Notification.created_at.desc(), Notification.id.desc()), page, per_page)


def staff_inbox(user: User, *, event_prefix: str = "", page: int = 1, per_page: int = 20) -> Page:
    """The user's in-app notifications in every org, newest first: platform staff (support agents) get events
    from the orgs they serve without being members, so the org inbox can't show them."""
    query = select(Notification).where(Notification.user_id == user.id, Notification.in_inbox.is_(True), Notification.archived_at.is_(None))
    if event_prefix:
        query = query.where(Notification.event.startswith(event_prefix, autoescape=True))
    return paginate(query.order_by(Notification.created_at.desc(), Notification.id.desc()), page, per_page)


def unread_count(org: Organization, user: User) -> int:
    """Unread, unarchived in-app notifications: the number on the nav badge."""
    query = select(func.count(Notification.id)).where(
        Notification.org_id == org.id, Notification.user_id == user.id, Notification.in_inbox.is_(True),
        Notification.read_at.is_(None), Notification.archived_at.is_(None),
    )
    return db.session.scalar(query) or 0


def own_notification(org: Organization, user: User, public_id: str) -> Notification:
    """One of the user's notifications; anyone else's is a 404."""
    note = get_scoped_or_404(Notification, org, public_id)
    if note.user_id != user.id:
        from flask import abort

        abort(404)
    return note


def mark_read(org: Organization, user: User, public_id: str, read: bool = True) -> Notification:
    """Mark one of the user's notifications read (or unread again, with read=False)."""
    note = own_notification(org, user, public_id)
    note.read_at = (note.read_at or utcnow()) if read else None
    db.session.commit()
    return note


def mark_all_read(org: Organization, user: User) -> int:
    """Mark every unread notification of the user in org as read; returns how many."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.org_id == org.id, Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return result.rowcount


def archive(org: Organization, user: User, public_id: str) -> Notification:
    """Move one of the user's notifications out of the inbox (and mark it read)."""
    note = own_notification(org, user, public_id)
    note.archived_at = utcnow()
    note.read_at = note.read_at or utcnow()
    db.session.commit()
    return note


# ---------------------------------------------------------------- delivery log


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
        raise ServiceError("Only failed deliveries can be resent.", code="not_failed", status=409)
    delivery.status, delivery.attempts, delivery.last_error, delivery.next_attempt_at = "queued", 0, None, utcnow()
    due = _due([delivery])
    db.session.commit()
    _enqueue(due)
    return delivery


def reconcile(overdue_seconds: int = 60, stuck_sending_seconds: int = 600) -> dict[str, int]:
    """Re-enqueue deliveries left queued (Redis was down); fail ones stuck in sending (never send twice)."""
    now = utcnow()
    overdue = list(db.session.scalars(
        select(Delivery).where(Delivery.status == "queued", Delivery.next_attempt_at < now - timedelta(seconds=overdue_seconds))
    ))
    stuck = db.session.execute(
        update(Delivery)
        .where(Delivery.status == "sending", Delivery.updated_at < now - timedelta(seconds=stuck_sending_seconds))
        .values(status="failed", last_error="the worker stopped while sending; not retried to avoid a duplicate (resend by hand)")
    ).rowcount
    due = _due(overdue)
    db.session.commit()
    _enqueue(due)
    return {"requeued": len(overdue), "failed_stuck": stuck}


SMS_FINAL = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}


def record_sms_status(message_sid: str, status: str, error_code: str | None = None) -> Delivery | None:
    """Apply a provider delivery report to the SMS delivery it is about; other statuses are ignored."""
    delivery = db.session.scalar(select(Delivery).where(Delivery.channel == "sms", Delivery.provider_message_id == message_sid))
    if delivery is None or status not in SMS_FINAL or delivery.status in ("delivered", "failed"):
        return delivery
    delivery.status = SMS_FINAL[status]
    if delivery.status == "delivered":
        delivery.delivered_at = utcnow()
    else:
        delivery.last_error = f"the carrier reported {status}" + (f" (Twilio error {error_code})" if error_code else "")
    db.session.commit()
    return delivery


# ---------------------------------------------------------------- unsubscribe links


def unsubscribe_token(org: Organization, user: User, event_name: str) -> str:
    """The signed token of the link in an email that opens this user's preferences without a login."""
    return make_token("unsubscribe", {"o": org.public_id, "u": user.public_id, "e": event_name})


def from_unsubscribe_token(token: str) -> tuple[Organization, User, str]:
    """The (org, user, event) an unsubscribe link stands for; a ServiceError when it is not valid."""
    data = read_token("unsubscribe", token)
    org = db.session.scalar(select(Organization).filter_by(public_id=data["o"]))
    user = db.session.scalar(select(User).filter_by(public_id=data["u"]))
    if org is None or user is None or db.session.scalar(scoped(Membership, org).filter_by(user_id=user.id)) is None:
        raise ServiceError("This link is not valid any more.", code="token_invalid", status=400)
    return org, user, data["e"]


def unsubscribe(token: str) -> tuple[Organization, User, str]:
    """One-click unsubscribe: turn email off for the link's event (critical events stay on)."""
    org, user, event_name = from_unsubscribe_token(token)
    if event_name in EVENTS:
        save_preferences(org, user, {event_name: {"email": False}})
    return org, user, event_name
