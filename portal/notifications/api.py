"""Notifications over the JSON API: send, inbox, read, deliveries, preferences."""

from __future__ import annotations

from flask import jsonify
from flask_login import current_user
from sqlalchemy import select

from portal.accounts.models import User
from portal.api import bp
from portal.api.helpers import page_envelope, parse_body, parse_query
from portal.api.openapi import route
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.notifications import schemas, service
from portal.notifications.catalog import EVENTS
from portal.orgs.models import Membership
from portal.pagination import clamp
from portal.tenancy import current_org, org_required, scoped


def _note(n) -> dict:
    return schemas.NotificationOut(
        id=n.public_id, event=n.event, title=n.title, body=n.body, data=n.data, read=n.read_at is not None,
        created_at=n.created_at, recipient=n.user.public_id if n.user else (n.email or ""),
    ).model_dump(mode="json")


def _recipients(to: list[str]) -> list[User]:
    """Members of the current org named by email or user id; anyone else is reported as unknown."""
    members = {
        key: m.user
        for m in db.session.scalars(scoped(Membership, current_org))
        for key in (m.user.email, m.user.public_id)
    }
    unknown = [t for t in to if t.strip().lower() not in members and t.strip() not in members]
    if unknown:
        raise ValidationFailed({"to": f"Not a member of this organization: {', '.join(unknown)}"})
    seen, users = set(), []
    for t in to:
        user = members.get(t.strip()) or members[t.strip().lower()]
        if user.id not in seen:
            seen.add(user.id)
            users.append(user)
    return users


@route(bp, "/notifications", "POST", summary="Send a notification to members", tag="notifications",
       body=schemas.SendIn, response=schemas.SendOut, status=202, errors=(400, 401, 403, 404))
@org_required("notifications.manage")
def send():
    body = parse_body(schemas.SendIn)
    if body.event not in EVENTS:
        raise ValidationFailed({"event": f"Unknown event; use one of: {', '.join(sorted(EVENTS))}."})
    data = dict(body.data)
    if body.event == "message":
        if not body.title.strip():
            raise ValidationFailed({"title": "A message needs a title."})
        data.update(title=body.title, body=body.body)
    missing = [v for v in EVENTS[body.event].variables if v not in data]
    if missing:
        raise ValidationFailed({"data": f"{body.event} needs values for: {', '.join(missing)}"})
    notes = service.notify(current_org, _recipients(body.to), body.event, data, channels=body.channels)
    return jsonify({"notifications": [_note(n) for n in notes]}), 202


@route(bp, "/notifications", "GET", summary="The caller's notifications", tag="notifications",
       query=schemas.NotificationQuery, response=schemas.NotificationListOut, errors=(400, 401, 404))
@org_required()
def list_notifications():
    query = parse_query(schemas.NotificationQuery)
    page, per_page = clamp(query.page, query.per_page, 20)
    result = service.inbox(current_org, current_user, unread_only=query.unread, page=page, per_page=per_page)
    return jsonify(page_envelope(result, [_note(n) for n in result.items], "api.list_notifications"))


@route(bp, "/notifications/<notification_id>/read", "PUT", summary="Mark a notification read (or unread)",
       tag="notifications", body=schemas.ReadIn, response=schemas.NotificationOut, errors=(401, 404))
@org_required()
def read_notification(notification_id: str):
    from flask import request

    read = parse_body(schemas.ReadIn).read if request.content_length else True
    return jsonify(_note(service.mark_read(current_org, current_user, notification_id, read=read)))


@route(bp, "/notifications/<notification_id>/deliveries", "GET", summary="Deliveries of a notification",
       tag="notifications", response=schemas.DeliveryListOut, errors=(401, 404))
@org_required()
def notification_deliveries(notification_id: str):
    from portal.notifications.models import Notification
    from portal.tenancy import get_scoped_or_404
    from portal.web import can

    # Recipients see their own; those who send notifications see any in their org.
    if can("notifications.manage"):
        note = get_scoped_or_404(Notification, current_org, notification_id)
    else:
        note = service.own_notification(current_org, current_user, notification_id)
    data = [
        schemas.DeliveryOut(
            id=d.public_id, channel=d.channel, status=d.status, attempts=d.attempts, last_error=d.last_error,
            provider_message_id=d.provider_message_id, created_at=d.created_at, sent_at=d.sent_at, delivered_at=d.delivered_at,
        ).model_dump(mode="json")
        for d in note.deliveries
    ]
    return jsonify({"data": data})


def _preferences_doc() -> dict:
    profile = db.session.scalar(select(service.NotificationProfile).filter_by(user_id=current_user.id))
    matrix = service.preference_matrix(current_org, current_user)
    return schemas.PreferencesDoc(
        org=current_org.slug,
        events={row["event"]: row["channels"] for row in matrix},
        quiet_hours=schemas.QuietHours(start=profile.quiet_start if profile else None, end=profile.quiet_end if profile else None),
        phone=schemas.PhoneOut(number=profile.phone if profile else None, verified=bool(profile and profile.phone_verified_at)),
    ).model_dump(mode="json")


@route(bp, "/preferences", "GET", summary="The caller's notification preferences", tag="notifications",
       response=schemas.PreferencesDoc, errors=(400, 401, 404))
@org_required()
def get_preferences():
    return jsonify(_preferences_doc())


@route(bp, "/preferences", "PUT", summary="Replace the caller's notification preferences", tag="notifications",
       body=schemas.PreferencesDoc, response=schemas.PreferencesDoc, errors=(400, 401, 404))
@org_required()
def put_preferences():
    doc = parse_body(schemas.PreferencesDoc)
    try:
        service.replace_preferences(current_org, current_user._get_current_object(), doc.events, doc.quiet_hours.start, doc.quiet_hours.end)
    except ValidationFailed as exc:  # name the fields as the document does
        raise ValidationFailed({_DOC_FIELDS.get(k, k): v for k, v in exc.fields.items()}) from exc
    return jsonify(_preferences_doc())


_DOC_FIELDS = {"quiet_start": "quiet_hours.start", "quiet_end": "quiet_hours.end"}
