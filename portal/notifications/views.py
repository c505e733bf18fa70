"""Notification pages: inbox and badge, preferences, org defaults and templates, delivery log, unsubscribe."""

from __future__ import annotations

import json

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import Forbidden, NotFound, ServiceError, ValidationFailed
from portal.extensions import csrf
from portal.forms import apply_errors
from portal.infra.sms import verify_twilio_signature
from portal.notifications import bp, service
from portal.notifications.catalog import CHANNEL_LABELS, CHANNELS, EVENTS, get_event
from portal.notifications.forms import (
    ActionForm,
    ConfirmPhoneForm,
    MatrixForm,
    OneClickForm,
    PhoneForm,
    PreferencesForm,
    ReadForm,
    TemplateForm,
)
from portal.notifications.links import link_for
from portal.notifications.models import DELIVERY_STATUSES
from portal.notifications.schemas import TwilioStatusReport
from portal.notifications.templating import ALLOWED_FILTERS
from portal.pagination import clamp
from portal.tenancy import current_org, org_required
from portal.tokens import external_url
from portal.uow import refused
from portal.web import after_change, flash_error, render_page, toast, wants_fragment


@bp.app_context_processor
def unread_badge():
    """`unread_notifications()` for the nav badge: counted only on pages that show an org."""
    return {"unread_notifications": lambda: service.unread_count(current_org, _me())}


@bp.app_context_processor
def event_words():
    """`event_label(name)`: what an event is in words ("A ticket got a reply"), for inbox items and filters."""
    return {"event_label": lambda name: EVENTS[name].description if name in EVENTS else name}


def _me():
    return current_user._get_current_object()


# ---------------------------------------------------------------- inbox


def _inbox_context() -> dict:
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"), 20)
    filters = {"state": request.args.get("state", "all"), "event": request.args.get("event", "")}
    result = service.inbox(
        current_org, _me(), unread_only=filters["state"] == "unread", archived=filters["state"] == "archived",
        event=filters["event"] or None, page=page, per_page=per_page,
    )
    return {"org": current_org, "result": result, "filters": filters, "events": sorted(EVENTS), "unread": service.unread_count(current_org, _me())}


@bp.get("/o/<org_slug>/notifications")
@org_required()
def inbox(org_slug: str):
    return render_page("notifications/inbox.html", "notifications/_inbox.html", **_inbox_context())


@bp.get("/o/<org_slug>/notifications/badge")
@org_required()
def badge(org_slug: str):
    """The bell's label with the unread count; the nav polls this fragment."""
    return render_template("notifications/_bell_label.html", org=current_org, unread=service.unread_count(current_org, _me()))


BELL_SIZE = 5


@bp.get("/o/<org_slug>/notifications/bell")
@org_required()
def bell(org_slug: str):
    """The bell's dropdown: the latest notifications, loaded when it opens."""
    return _bell()


def _bell():
    return render_template("notifications/_bell.html", org=current_org, notes=service.latest(current_org, _me(), BELL_SIZE))


@bp.get("/o/<org_slug>/notifications/<notification_id>/open")
@org_required()
def open_notification(org_slug: str, notification_id: str):
    """Follow a notification: mark it read and go to what it is about (a plain link, so it works without JS)."""
    note = service.mark_read(current_org, _me(), notification_id)
    return redirect(link_for(note, current_org.slug), 303)


@bp.post("/o/<org_slug>/notifications/<notification_id>/read")
@org_required()
def mark_read(org_slug: str, notification_id: str):
    note = service.mark_read(current_org, _me(), notification_id, read=ReadForm().wants_read())
    return _after_change(note)


@bp.post("/o/<org_slug>/notifications/<notification_id>/archive")
@org_required()
def archive(org_slug: str, notification_id: str):
    service.archive(current_org, _me(), notification_id)
    return _after_change(None, "Notification archived: it is under Archived.")


@bp.post("/o/<org_slug>/notifications/read-all")
@org_required()
def mark_all_read(org_slug: str):
    service.mark_all_read(current_org, _me())
    return _after_change(None)


def _after_change(note, said: str | None = None):
    """web.after_change for browsers; for htmx the changed row (or nothing, for a removed one), the unread
    count out of band and a badge refresh, which the shared helper doesn't know about. `said`: a toast (a flash)."""
    if not wants_fragment():
        filters = {k: v for k in ("state", "event") if (v := request.args.get(k))}
        response = after_change(url_for("notifications.inbox", org_slug=current_org.slug, **filters))
        return toast(response, said) if said else response
    headers = {"HX-Trigger": "notifications-changed"}
    if request.form.get("view") == "bell":  # the bell's own "Mark all read": its list again
        return _bell(), 200, headers
    if request.endpoint == "notifications.mark_all_read":
        return render_template("notifications/_inbox.html", **_inbox_context()), 200, headers
    body = render_template("notifications/_item.html", org=current_org, n=note) if note is not None else ""
    count = render_template("notifications/_unread_count.html", oob=True, unread=service.unread_count(current_org, _me()))
    if not said:
        return body + count, 200, headers
    # The badge refresh and the toast in one HX-Trigger: as JSON, which toast() adds its event to.
    return toast(make_response(body + count, 200, {"HX-Trigger": json.dumps({"notifications-changed": True})}), said)


# ---------------------------------------------------------------- preferences

_PREFERENCE_FORMS = {"matrix": PreferencesForm, "phone": PhoneForm, "confirm": ConfirmPhoneForm, "remove_phone": ActionForm}
_SAVED = {
    "matrix": ("Notification preferences saved.", "success"),
    "phone": ("We sent a code by SMS. Type it below.", "info"),
    "confirm": ("Your phone number is verified: SMS notifications can reach you.", "success"),
    "remove_phone": ("Phone number removed.", "info"),
}


def _save_preferences(action: str, form, me) -> None:
    """Call the service for the form that was posted."""
    if action == "matrix":
        service.replace_preferences(current_org, me, form.choices(), form.quiet_start.data, form.quiet_end.data)
    elif action == "phone":
        service.start_phone_verification(me, form.phone.data)
    elif action == "confirm":
        service.confirm_phone(me, form.code.data)
    else:
        service.remove_phone(me)


def _shown(matrix: list[dict], choices: dict[str, dict[str, bool]]) -> list[dict]:
    """The grid as the person ticked it (a refused form shows their choices again, locked boxes still on)."""
    return [{**row, "channels": {c: row["locked"][c] or choices[row["event"]][c] for c in CHANNELS}} for row in matrix]


@bp.route("/o/<org_slug>/notifications/preferences", methods=["GET", "POST"])
@org_required()
def preferences(org_slug: str):
    me = _me()
    action, posted = None, None
    if request.method == "POST":
        action = ActionForm().action.data or "matrix"
        if action not in _PREFERENCE_FORMS:
            raise ValidationFailed({"action": "Unknown action."})
        posted = _PREFERENCE_FORMS[action]()
        try:
            _save_preferences(action, posted, me)
        except ServiceError as exc:
            apply_errors(posted, exc)  # rolls the request back (keeping a wrong code's attempt)
        else:
            flash(*_SAVED[action])
            return after_change(url_for("notifications.preferences", org_slug=org_slug))
    profile = service.profile_for(me)
    forms = {
        "matrix": PreferencesForm(formdata=None, quiet_start=profile.quiet_start, quiet_end=profile.quiet_end),
        "phone": PhoneForm(formdata=None),
        "confirm": ConfirmPhoneForm(formdata=None),
    }
    matrix = service.preference_matrix(current_org, me)
    if posted is not None:
        forms[action] = posted
        if action == "matrix":
            matrix = _shown(matrix, posted.choices())
    return render_template(
        "notifications/preferences.html", org=current_org, matrix=matrix, channels=CHANNELS, labels=CHANNEL_LABELS,
        profile=profile, forms=forms, problems=posted.form_errors if posted is not None else [], token=None,
    ), 422 if posted is not None else 200


# ---------------------------------------------------------------- org settings: defaults and templates


@bp.route("/o/<org_slug>/notifications/settings", methods=["GET", "POST"])
@org_required("notifications.manage")
def settings(org_slug: str):
    if request.method == "POST":
        service.save_preferences(current_org, None, MatrixForm().choices())
        flash("Organization defaults saved. Members' own choices still win.", "success")
        return after_change(url_for("notifications.settings", org_slug=org_slug))
    templates = [
        {"event": e, "channel": c, "customized": service.template_for(current_org, e, c)[2]}
        for e in EVENTS.values()
        for c in CHANNELS
    ]
    return render_template(
        "notifications/settings.html", org=current_org, matrix=service.preference_matrix(current_org, None),
        channels=CHANNELS, labels=CHANNEL_LABELS, templates=templates,
    )


@bp.route("/o/<org_slug>/notifications/templates/<event_name>/<channel>", methods=["GET", "POST"])
@org_required("notifications.manage")
def edit_template(org_slug: str, event_name: str, channel: str):
    if event_name not in EVENTS or channel not in CHANNELS:
        raise NotFound()
    event = get_event(event_name)
    subject, body, customized = service.template_for(current_org, event, channel)
    form = TemplateForm() if request.method == "POST" else TemplateForm(subject=subject, body=body)
    if request.method == "POST":
        try:
            service.save_template(current_org, event_name, channel, form.subject.data or "", form.body.data or "")
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            flash("Template saved.", "success")
            return after_change(url_for("notifications.edit_template", org_slug=org_slug, event_name=event_name, channel=channel))
    has_errors = any(f.errors for f in form) or bool(form.form_errors)
    return render_template(
        "notifications/template.html", org=current_org, event=event, channel=channel, label=CHANNEL_LABELS[channel],
        form=form, customized=customized, filters=ALLOWED_FILTERS,
        preview=service.preview(event_name, channel, form.subject.data or "", form.body.data or ""),
    ), 422 if has_errors else 200


@bp.post("/o/<org_slug>/notifications/templates/<event_name>/<channel>/preview")
@org_required("notifications.manage")
def preview_template(org_slug: str, event_name: str, channel: str):
    """Live preview on sample data, as the admin types."""
    form = TemplateForm()
    result = service.preview(event_name, channel, form.subject.data or "", form.body.data or "")
    return render_template("notifications/_preview.html", preview=result, channel=channel)


@bp.post("/o/<org_slug>/notifications/templates/<event_name>/<channel>/reset")
@org_required("notifications.manage")
def reset_template(org_slug: str, event_name: str, channel: str):
    service.reset_template(current_org, event_name, channel)
    flash("Back to the built-in template.", "info")
    return after_change(url_for("notifications.edit_template", org_slug=org_slug, event_name=event_name, channel=channel))


# ---------------------------------------------------------------- delivery log


@bp.get("/o/<org_slug>/notifications/deliveries")
@org_required("notifications.manage")
def delivery_log(org_slug: str):
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"), 50)
    filters = {k: request.args.get(k, "") for k in ("status", "channel", "event")}
    result = service.deliveries(current_org, **{k: v or None for k, v in filters.items()}, page=page, per_page=per_page)
    return render_page(
        "notifications/deliveries.html", "notifications/_deliveries.html", org=current_org, result=result,
        filters=filters, statuses=DELIVERY_STATUSES, channels=CHANNELS, events=sorted(EVENTS),
    )


@bp.post("/o/<org_slug>/notifications/deliveries/<delivery_id>/resend")
@org_required("notifications.manage")
def resend(org_slug: str, delivery_id: str):
    log_url = url_for("notifications.delivery_log", org_slug=org_slug)
    try:
        delivery = service.resend(current_org, delivery_id)
    except ServiceError as exc:
        flash_error(exc)
        return after_change(log_url)
    if not wants_fragment():
        flash("Delivery queued again.", "success")
    return after_change(log_url, "notifications/_delivery_row.html", org=current_org, d=delivery)


# ---------------------------------------------------------------- unsubscribe (no login: the signed link is the key)


@bp.route("/notifications/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # mail clients' one-click POST carries no CSRF token; the signed link is the credential
def unsubscribe(token: str):
    """The link in every email: opens that user's preferences; a one-click POST mutes the event's email."""
    try:
        org, user, event_name = service.from_unsubscribe_token(token)
    except ServiceError as exc:
        refused(exc)
        return render_template("notifications/unsubscribed.html", problem=exc.message), 400
    if request.method == "POST":
        if OneClickForm(meta={"csrf": False}).is_one_click():  # RFC 8058: mail clients post this
            service.unsubscribe(token)
            return "", 200
        service.save_preferences(org, user, MatrixForm(meta={"csrf": False}).choices())
        flash("Your preferences are saved.", "success")
        return after_change(url_for("notifications.unsubscribe", token=token))
    return render_template(
        "notifications/preferences.html", org=org, matrix=service.preference_matrix(org, user), channels=CHANNELS,
        labels=CHANNEL_LABELS, profile=None, forms={}, problems=[], token=token, highlight=event_name, who=user,
    )


# ---------------------------------------------------------------- provider webhooks


@bp.post("/webhooks/twilio/status")
@csrf.exempt  # Twilio signs the request instead (X-Twilio-Signature)
def twilio_status():
    """Twilio's delivery reports: mark SMS deliveries delivered or failed."""
    posted = request.form.to_dict()
    # Twilio signs the URL it was given, which is built from BASE_URL (the proxy may change the host).
    if not verify_twilio_signature(external_url("notifications.twilio_status"), posted, request.headers.get("X-Twilio-Signature", "")):
        raise Forbidden("This report is not signed by the SMS provider.")
    report = TwilioStatusReport.model_validate(posted)
    service.record_sms_status(report.MessageSid, report.MessageStatus, report.ErrorCode)
    return "", 204
