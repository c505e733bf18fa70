"""notify(): the one way every domain tells people something. It fans an event out to recipients by their
preferences, inside the caller's unit of work: its rows are flushed with the caller's change and their
deliveries enqueued only once that change commits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, and_, bindparam, insert, or_, select

from portal.accounts.models import User
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.models import utcnow
from portal.notifications.catalog import CHANNELS, EVENTS, Event, get_event
from portal.notifications.models import Delivery, Notification, NotificationProfile, NotificationSetting, NotificationTemplate
from portal.notifications.services.deliveries import dispatch
from portal.notifications.services.preferences import profiles_of, quiet_until, resolve, settings_for
from portal.notifications.services.templates import render_for
from portal.orgs import members
from portal.orgs.models import Membership, Organization


@dataclass
class Recipient:
    """A member of the org, or only an email address (an invitee without an account yet)."""

    user: User | None = None
    email: str | None = None

    @property
    def address(self) -> str:
        return self.user.email if self.user else (self.email or "")


def missing_data(event: Event, data: dict) -> list[str]:
    """The event's variables that data lacks."""
    return [v for v in event.variables if v not in data]


def notify(
    org: Organization,
    recipients: list[User | str],
    event_name: str,
    data: dict,
    *,
    channels: list[str] | None = None,
) -> list[Notification]:
    """Fan an event out to recipients by their preferences; deliveries are enqueued after the caller's commit.

    An unknown event (KeyError) or missing data (ValueError) is the calling code's mistake, not the user's.
    """
    event = get_event(event_name)
    missing = missing_data(event, data)
    if missing:
        raise ValueError(f"{event_name} needs data for: {', '.join(missing)}")
    wanted = [c for c in CHANNELS if channels is None or c in channels]
    people = [Recipient(user=r) if isinstance(r, User) else Recipient(email=str(r)) for r in recipients]
    user_ids = [p.user.id for p in people if p.user]
    settings = settings_for(org, user_ids)
    profiles = profiles_of(user_ids)
    in_org = members.member_user_ids(org, user_ids)
    notes, plans = _fan_out(org, event, people, data, wanted, settings, in_org, profiles, utcnow(), {})
    # Bulk INSERT ... RETURNING rather than adding objects: 10,000 recipients in a few statements. They run
    # in the caller's transaction and roll back with it.
    created = list(db.session.scalars(insert(Notification).returning(Notification, sort_by_parameter_order=True), notes)) if notes else []
    rows = [{**row, "notification_id": note.id} for note, planned in zip(created, plans, strict=True) for row in planned]
    if rows:
        table = Delivery.__table__  # Core, not the ORM's bulk path: that one fetched RETURNING rows in quadratic time
        inserted = db.session.execute(insert(table).returning(table.c.id, table.c.channel, table.c.next_attempt_at, table.c.status), rows)
        dispatch([(i, channel, at) for i, channel, at, status in inserted if status == "queued"])
    return created


def notify_member(org_id: int, user_id: int, event_name: str, data: dict | Callable[[Organization], dict]) -> int | None:
    """notify() for one user given by id, as a job that holds only ids sends it: the org, the user and all the
    fan-out reads of them (preferences, profile, membership, the org's template) in one query, its rows in two
    statements. data may be a function of the org (a link needs its slug). The notification's id; None when the
    org or the user is gone."""
    event = get_event(event_name)
    rows = db.session.execute(_member_query(), {"org_id": org_id, "user_id": user_id, "event": event.name}).all()
    if not rows:
        return None
    org, user, profile, member_id = rows[0][:4]
    settings = {(r[4], event.name, r[5]): r[6] for r in rows if r[5] is not None}
    template = (rows[0][7], rows[0][8]) if rows[0][8] is not None else event.default_template("in_app")[:2]
    values = data(org) if callable(data) else data
    missing = missing_data(event, values)
    if missing:
        raise ValueError(f"{event_name} needs data for: {', '.join(missing)}")
    in_org = {user.id} if member_id is not None else set()
    profiles = {user.id: profile} if profile is not None else {}
    cache = {(org.id, event.name, "in_app"): template}  # render_for() reads the template from here, not with a query
    notes, plans = _fan_out(org, event, [Recipient(user=user)], values, list(CHANNELS), settings, in_org, profiles, utcnow(), cache)
    # Core, not the ORM: the columns' defaults (public id, timestamps) are applied all the same, at a fraction of the cost.
    note_id = db.session.execute(_INSERT_NOTIFICATION, notes[0]).scalar_one()
    rows = [{**row, "notification_id": note_id} for row in plans[0]]
    if rows:
        inserted = db.session.execute(_INSERT_DELIVERIES, rows)
        dispatch([(i, channel, at) for i, channel, at, status in inserted if status == "queued"])
    return note_id


_INSERT_NOTIFICATION = insert(Notification.__table__).returning(Notification.__table__.c.id)
_deliveries = Delivery.__table__
_INSERT_DELIVERIES = insert(_deliveries).returning(_deliveries.c.id, _deliveries.c.channel, _deliveries.c.next_attempt_at, _deliveries.c.status)
_member_queries: list = []


def _member_query():
    """notify_member()'s query, built once (building it cost more than running it): one row per setting of the
    event that applies (the org's default or the user's own: resolve() reads no other), the org, user, profile,
    membership and in-app template columns repeated on each; no row when the org or the user is gone."""
    if _member_queries:
        return _member_queries[0]
    event = bindparam("event", type_=NotificationSetting.event.type)
    user_id = bindparam("user_id", type_=Integer)
    setting_applies = and_(NotificationSetting.org_id == Organization.id, NotificationSetting.event == event,
                           or_(NotificationSetting.user_id.is_(None), NotificationSetting.user_id == User.id))
    template_applies = and_(NotificationTemplate.org_id == Organization.id, NotificationTemplate.event == event,
                            NotificationTemplate.channel == "in_app")
    query = (
        select(Organization, User, NotificationProfile, Membership.user_id, NotificationSetting.user_id, NotificationSetting.channel,
               NotificationSetting.enabled, NotificationTemplate.subject, NotificationTemplate.body)
        .select_from(Organization)
        .join(User, User.id == user_id)
        .outerjoin(NotificationProfile, NotificationProfile.user_id == User.id)
        .outerjoin(Membership, and_(Membership.org_id == Organization.id, Membership.user_id == User.id))
        .outerjoin(NotificationSetting, setting_applies)
        .outerjoin(NotificationTemplate, template_applies)
        .where(Organization.id == bindparam("org_id", type_=Integer))
    )
    _member_queries.append(query)
    return query


def send_to_members(org: Organization, refs: list[str], event_name: str, data: dict, *, title: str = "", body: str = "",
                    channels: list[str] | None = None) -> list[Notification]:
    """Send an event (or an ad-hoc "message" with title and body) to members named by email or user id.

    Unlike notify(), the input comes from a person: every problem is a field error, found before anything is written.
    """
    errors: dict[str, str] = {}
    event = EVENTS.get(event_name)
    data = dict(data)
    if event is None:
        errors["event"] = f"Unknown event; use one of: {', '.join(sorted(EVENTS))}."
    elif event.name == "message":
        if not title.strip():
            errors["title"] = "A message needs a title."
        data.update(title=title, body=body)
    if event is not None and (missing := missing_data(event, data)):
        errors["data"] = f"{event.name} needs values for: {', '.join(missing)}"
    users, unknown = members.members_by_refs(org, refs)
    if unknown:
        errors["to"] = f"Not a member of this organization: {', '.join(unknown)}"
    if errors:
        raise ValidationFailed(errors)
    return notify(org, users, event_name, data, channels=channels)


def _fan_out(org, event, people, data, wanted, settings, in_org, profiles, now, cache) -> tuple[list[dict], list[list[dict]]]:
    """The notification row of each recipient, and the delivery rows planned for it."""
    notes, plans = [], []
    for person in people:
        values = {"org_name": org.name, "recipient_name": person.user.display_name if person.user else person.address, "url": "", **data}
        title, text = render_for(org, event, "in_app", values, cache)
        planned = [row for channel in wanted if (row := _plan_delivery(org, event, channel, person, settings, in_org, profiles, now)) is not None]
        in_inbox = any(row["channel"] == "in_app" and row["status"] == "delivered" for row in planned)
        notes.append({"org_id": org.id, "user_id": person.user.id if person.user else None, "email": person.email, "event": event.name,
                      "title": title[:300], "body": text, "data": data, "in_inbox": in_inbox})
        plans.append(planned)
    return notes, plans


def _delivery(org: Organization, channel: str, status: str, **values) -> dict:
    """A delivery row with every column given: one bulk INSERT takes rows that all have the same keys."""
    row = {"to_address": "", "attempts": 0, "last_error": None, "next_attempt_at": None, "sent_at": None, "delivered_at": None}
    return {"org_id": org.id, "channel": channel, "status": status, **row, **values}


def _plan_delivery(org: Organization, event: Event, channel: str, person: Recipient, settings: dict, in_org: set[int],
                   profiles: dict[int, NotificationProfile], now: datetime) -> dict | None:
    """The delivery row for one channel, with its starting status; None when the channel doesn't apply."""
    if person.user is None:
        # Only an address: email is the one way to reach them, and no preferences exist yet.
        return _delivery(org, "email", "queued", to_address=person.address, next_attempt_at=now) if channel == "email" else None
    user = person.user
    on = resolve(settings, user.id, event, channel, org_defaults=user.id in in_org)
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

