"""Notifications over the JSON API: send, inbox, read, deliveries, preferences."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from portal.api import bp
from portal.api.helpers import page_envelope, parse_body, parse_query
from portal.api.idempotency import idempotent
from portal.api.openapi import route
from portal.errors import ValidationFailed
from portal.notifications import schemas, service
from portal.pagination import clamp
from portal.tenancy import current_membership, current_org, org_required

_DOC_FIELDS = {"quiet_start": "quiet_hours.start", "quiet_end": "quiet_hours.end"}  # service field → document field


def _note(n) -> dict:
    return schemas.NotificationOut(
        id=n.public_id, event=n.event, title=n.title, body=n.body, data=n.data, read=n.read_at is not None,
        created_at=n.created_at, recipient=n.user.public_id if n.user else (n.email or ""),
    ).model_dump(mode="json")


def _me():
    return current_user._get_current_object()


@route(bp, "/notifications", "POST", summary="Send a notification to members", tag="notifications",
       body=schemas.SendIn, response=schemas.SendOut, status=202, errors=(400, 401, 403, 404, 409), idempotent=True)
@org_required("notifications.manage")
@idempotent
def send():
    body = parse_body(schemas.SendIn)
    notes = service.send_to_members(current_org, body.to, body.event, body.data, title=body.title, body=body.body, channels=body.channels)
    return jsonify({"notifications": [_note(n) for n in notes]}), 202


@route(bp, "/notifications", "GET", summary="The caller's notifications", tag="notifications",
       query=schemas.NotificationQuery, response=schemas.NotificationListOut, errors=(400, 401, 404))
@org_required()
def list_notifications():
    query = parse_query(schemas.NotificationQuery)
    page, per_page = clamp(query.page, query.per_page, 20)
    result = service.inbox(current_org, _me(), unread_only=query.unread, page=page, per_page=per_page)
    return jsonify(page_envelope(result, [_note(n) for n in result.items], "api.list_notifications"))


@route(bp, "/notifications/<notification_id>/read", "PUT", summary="Mark a notification read (or unread)",
       tag="notifications", body=schemas.ReadIn, body_required=False, response=schemas.NotificationOut)
@org_required()
def read_notification(notification_id: str):
    service.own_notification(current_org, _me(), notification_id)  # the id before the body
    read = parse_body(schemas.ReadIn).read if request.content_length else True  # no body: mark it read
    return jsonify(_note(service.mark_read(current_org, _me(), notification_id, read=read)))


@route(bp, "/notifications/<notification_id>/deliveries", "GET", summary="Deliveries of a notification",
       tag="notifications", response=schemas.DeliveryListOut, errors=(401, 404))
@org_required()
def notification_deliveries(notification_id: str):
    found = service.notification_deliveries(current_org, _me(), current_membership.role, notification_id)
    data = [
        schemas.DeliveryOut(
            id=d.public_id, channel=d.channel, status=d.status, attempts=d.attempts, last_error=d.last_error,
            provider_message_id=d.provider_message_id, created_at=d.created_at, sent_at=d.sent_at, delivered_at=d.delivered_at,
        ).model_dump(mode="json")
        for d in found
    ]
    return jsonify({"data": data})


def _preferences_doc() -> dict:
    profile = service.find_profile(_me())
    matrix = service.preference_matrix(current_org, _me())
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
        service.replace_preferences(current_org, _me(), doc.events, doc.quiet_hours.start, doc.quiet_hours.end)
    except ValidationFailed as exc:  # name the fields as the document does
        raise ValidationFailed({_DOC_FIELDS.get(k, k): v for k, v in exc.fields.items()}) from exc
    return jsonify(_preferences_doc())
