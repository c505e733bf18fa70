"""Who wants what: the event × channel matrix (member choices over org defaults over the catalog), quiet hours."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal.accounts.models import User
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.notifications.catalog import CHANNELS, EVENTS, Event
from portal.notifications.models import NotificationProfile, NotificationSetting
from portal.orgs.models import Organization
from portal.tenancy import scoped

Choices = dict[str, dict[str, bool]]


def settings_for(org: Organization, user_ids: Iterable[int]) -> dict[tuple[int | None, str, str], bool]:
    """Org defaults (user None) and the given users' choices, keyed by (user_id, event, channel)."""
    ids = list(user_ids)
    query = scoped(NotificationSetting, org).where(
        (NotificationSetting.user_id.is_(None)) | (NotificationSetting.user_id.in_(ids or [-1]))
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
    settings = settings_for(org, [user.id] if user else [])
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


def _choice_errors(choices: Choices) -> dict[str, str]:
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


def _write_choices(org: Organization, user: User | None, choices: Choices) -> None:
    """Store checked choices; critical channels are left alone (they stay on, the page shows them locked)."""
    user_id = user.id if user else None
    owner = NotificationSetting.user_id.is_(None) if user_id is None else NotificationSetting.user_id == user_id
    existing = {(s.event, s.channel): s for s in db.session.scalars(scoped(NotificationSetting, org).where(owner))}
    for event_name, channels in choices.items():
        event = EVENTS[event_name]
        for channel, enabled in channels.items():
            if event.critical and channel in event.channels:
                continue
            row = existing.get((event_name, channel))
            if row is None:
                db.session.add(NotificationSetting(org_id=org.id, user_id=user_id, event=event_name, channel=channel, enabled=bool(enabled)))
            else:
                row.enabled = bool(enabled)


def save_preferences(org: Organization, user: User | None, choices: Choices) -> None:
    """Store event × channel choices (user None: the org's defaults); critical channels stay on."""
    errors = _choice_errors(choices)
    if errors:
        raise ValidationFailed(errors)
    _write_choices(org, user, choices)
    db.session.flush()


def replace_preferences(org: Organization, user: User, choices: Choices, quiet_start: str | None, quiet_end: str | None) -> None:
    """Store a whole preferences document (matrix and quiet hours): all of it, or nothing when any part is bad."""
    # Every part is checked before the first write, so a refusal leaves nothing half-saved.
    errors = {**_choice_errors(choices), **_quiet_hours_errors(quiet_start, quiet_end)}
    if errors:
        raise ValidationFailed(errors)
    _write_choices(org, user, choices)
    _write_quiet_hours(user, quiet_start, quiet_end)
    db.session.flush()


def find_profile(user: User) -> NotificationProfile | None:
    """The user's notification profile, if they have one yet."""
    return db.session.scalar(select(NotificationProfile).filter_by(user_id=user.id))


def profile_for(user: User) -> NotificationProfile:
    """The user's notification profile, created on first use."""
    profile = find_profile(user)
    if profile is None:
        profile = NotificationProfile(user_id=user.id)
        db.session.add(profile)
        db.session.flush()
    return profile


def profiles_of(user_ids: Iterable[int]) -> dict[int, NotificationProfile]:
    """The profiles these users have, by user id (one query for a whole fan-out)."""
    ids = list(user_ids)
    if not ids:
        return {}
    return {p.user_id: p for p in db.session.scalars(select(NotificationProfile).where(NotificationProfile.user_id.in_(ids)))}


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


def _write_quiet_hours(user: User, start: str | None, end: str | None) -> NotificationProfile:
    profile = profile_for(user)
    profile.quiet_start = start or None
    profile.quiet_end = end or None
    return profile


def set_quiet_hours(user: User, start: str | None, end: str | None) -> NotificationProfile:
    """Set (or clear, with empty values) the daily quiet hours in the user's time zone."""
    errors = _quiet_hours_errors(start, end)
    if errors:
        raise ValidationFailed(errors)
    profile = _write_quiet_hours(user, start, end)
    db.session.flush()
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
