"""Notification pages: inbox and badge, preferences, org defaults and templates, delivery log, unsubscribe."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import ServiceError
from portal.extensions import csrf
from portal.notifications import bp, service
from portal.notifications.catalog import CHANNEL_LABELS, CHANNELS, EVENTS, get_event
from portal.notifications.templating import ALLOWED_FILTERS
from portal.pagination import clamp
from portal.tenancy import current_org, org_required
from portal.web import render_page

STATUSES = ("queued", "sending", "sent", "delivered", "failed", "skipped")


@bp.app_context_processor
def unread_badge():
    """`unread_notifications()` for the nav badge: counted only on pages that show an org."""
    return {"unread_notifications": lambda: service.unread_count(current_org, _me())}


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
    """The unread count in the nav; the badge polls this fragment."""
    return render_template("notifications/_badge.html", org=current_org, unread=service.unread_count(current_org, _me()))


@bp.post("/o/<org_slug>/notifications/<notification_id>/read")
@org_required()
def mark_read(org_slug: str, notification_id: str):
    note = service.mark_read(current_org, _me(), notification_id, read=request.form.get("read", "1") == "1")
    return _after_change(note)


@bp.post("/o/<org_slug>/notifications/<notification_id>/archive")
@org_required()
def archive(org_slug: str, notification_id: str):
    service.archive(current_org, _me(), notification_id)
    return _after_change(None)


@bp.post("/o/<org_slug>/notifications/read-all")
@org_required()
def mark_all_read(org_slug: str):
    service.mark_all_read(current_org, _me())
    return _after_change(None)


def _after_change(note):
    """HTMX gets the changed row (or nothing, for a removed one), the unread count out of band, and a
    badge refresh; browsers a redirect."""
    if not request.headers.get("HX-Request"):
        filters = {k: v for k in ("state", "event") if (v := request.args.get(k))}
        return redirect(url_for("notifications.inbox", org_slug=current_org.slug, **filters), 303)
    headers = {"HX-Trigger": "notifications-changed"}
    if request.endpoint == "notifications.mark_all_read":
        return render_template("notifications/_inbox.html", **_inbox_context()), 200, headers
    body = render_template("notifications/_item.html", org=current_org, n=note) if note is not None else ""
    count = render_template("notifications/_unread_count.html", oob=True, unread=service.unread_count(current_org, _me()))
    return body + count, 200, headers


# ---------------------------------------------------------------- preferences


def _choices_from_form(form) -> dict[str, dict[str, bool]]:
    """Checkbox names are "event|channel"; every event × channel shown is decided by presence."""
    return {name: {c: f"{name}|{c}" in form for c in CHANNELS} for name in EVENTS if name != "message"}


@bp.route("/o/<org_slug>/notifications/preferences", methods=["GET", "POST"])
@org_required()
def preferences(org_slug: str):
    me = _me()
    errors = {}
    if request.method == "POST":
        action = request.form.get("action", "matrix")
        try:
            if action == "matrix":
                service.save_preferences(current_org, me, _choices_from_form(request.form))
                flash("Notification preferences saved.", "success")
            elif action == "quiet":
                service.set_quiet_hours(me, request.form.get("quiet_start", ""), request.form.get("quiet_end", ""))
                flash("Quiet hours saved.", "success")
            elif action == "phone":
                service.start_phone_verification(me, request.form.get("phone", ""))
                flash("We sent a code by SMS. Type it below.", "info")
            elif action == "confirm":
                service.confirm_phone(me, request.form.get("code", ""))
                flash("Your phone number is verified: SMS notifications can reach you.", "success")
            elif action == "remove_phone":
                service.remove_phone(me)
                flash("Phone number removed.", "info")
        except ServiceError as exc:
            errors = exc.fields or {"form": exc.message}
        else:
            return redirect(url_for("notifications.preferences", org_slug=org_slug), 303)
    profile = service.profile_for(me)
    return render_template(
        "notifications/preferences.html", org=current_org, matrix=service.preference_matrix(current_org, me),
        channels=CHANNELS, labels=CHANNEL_LABELS, profile=profile, errors=errors, form=request.form, token=None,
    ), 422 if errors else 200


# ---------------------------------------------------------------- org settings: defaults and templates


@bp.route("/o/<org_slug>/notifications/settings", methods=["GET", "POST"])
@org_required("notifications.manage")
def settings(org_slug: str):
    if request.method == "POST":
        service.save_preferences(current_org, None, _choices_from_form(request.form))
        flash("Organization defaults saved. Members' own choices still win.", "success")
        return redirect(url_for("notifications.settings", org_slug=org_slug), 303)
    templates = [
        {"event": e, "channel": c, "customized": service.template_for(current_org, e, c)[2]}
        for e in EVENTS.values()
        for c in ("in_app", "email", "sms")
    ]
    return render_template(
        "notifications/settings.html", org=current_org, matrix=service.preference_matrix(current_org, None),
        channels=CHANNELS, labels=CHANNEL_LABELS, templates=templates,
    )


@bp.route("/o/<org_slug>/notifications/templates/<event_name>/<channel>", methods=["GET", "POST"])
@org_required("notifications.manage")
def edit_template(org_slug: str, event_name: str, channel: str):
    if event_name not in EVENTS or channel not in CHANNELS:
        from flask import abort

        abort(404)
    event = get_event(event_name)
    subject, body, customized = service.template_for(current_org, event, channel)
    errors = {}
    if request.method == "POST":
        subject, body = request.form.get("subject", ""), request.form.get("body", "")
        try:
            service.save_template(current_org, event_name, channel, subject, body)
        except ServiceError as exc:
            errors = exc.fields
        else:
            flash("Template saved.", "success")
            return redirect(url_for("notifications.edit_template", org_slug=org_slug, event_name=event_name, channel=channel), 303)
    return render_template(
        "notifications/template.html", org=current_org, event=event, channel=channel, label=CHANNEL_LABELS[channel],
        subject=subject, body=body, customized=customized, errors=errors, filters=ALLOWED_FILTERS,
        preview=service.preview(event_name, channel, subject, body),
    ), 422 if errors else 200


@bp.post("/o/<org_slug>/notifications/templates/<event_name>/<channel>/preview")
@org_required("notifications.manage")
def preview_template(org_slug: str, event_name: str, channel: str):
    """Live preview on sample data, as the admin types."""
    result = service.preview(event_name, channel, request.form.get("subject", ""), request.form.get("body", ""))
    return render_template("notifications/_preview.html", preview=result, channel=channel)


@bp.post("/o/<org_slug>/notifications/templates/<event_name>/<channel>/reset")
@org_required("notifications.manage")
def reset_template(org_slug: str, event_name: str, channel: str):
    service.reset_template(current_org, event_name, channel)
    flash("Back to the built-in template.", "info")
    return redirect(url_for("notifications.edit_template", org_slug=org_slug, event_name=event_name, channel=channel), 303)


# ---------------------------------------------------------------- delivery log


@bp.get("/o/<org_slug>/notifications/deliveries")
@org_required("notifications.manage")
def delivery_log(org_slug: str):
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"), 50)
    filters = {k: request.args.get(k, "") for k in ("status", "channel", "event")}
    result = service.deliveries(current_org, **{k: v or None for k, v in filters.items()}, page=page, per_page=per_page)
    return render_page(
        "notifications/deliveries.html", "notifications/_deliveries.html", org=current_org, result=result,
        filters=filters, statuses=STATUSES, channels=CHANNELS, events=sorted(EVENTS),
    )


@bp.post("/o/<org_slug>/notifications/deliveries/<delivery_id>/resend")
@org_required("notifications.manage")
def resend(org_slug: str, delivery_id: str):
    delivery = service.resend(current_org, delivery_id)
    if request.headers.get("HX-Request"):
        return render_template("notifications/_delivery_row.html", org=current_org, d=delivery)
    flash("Delivery queued again.", "success")
    return redirect(url_for("notifications.delivery_log", org_slug=org_slug), 303)


# ---------------------------------------------------------------- unsubscribe (no login: the signed link is the key)


@bp.route("/notifications/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # mail clients' one-click POST carries no CSRF token; the signed link is the credential
def unsubscribe(token: str):
    """The link in every email: opens that user's preferences; a one-click POST mutes the event's email."""
    try:
        org, user, event_name = service.from_unsubscribe_token(token)
    except ServiceError as exc:
        return render_template("notifications/unsubscribed.html", problem=exc.message), 400
    if request.method == "POST":
        if request.form.get("List-Unsubscribe") == "One-Click":  # RFC 8058: mail clients post this
            service.unsubscribe(token)
            return "", 200
        service.save_preferences(org, user, _choices_from_form(request.form))
        flash("Your preferences are saved.", "success")
        return redirect(url_for("notifications.unsubscribe", token=token), 303)
    return render_template(
        "notifications/preferences.html", org=org, matrix=service.preference_matrix(org, user), channels=CHANNELS,
        labels=CHANNEL_LABELS, profile=None, errors={}, form={}, token=token, highlight=event_name, who=user,
    )


# ---------------------------------------------------------------- provider webhooks


@bp.post("/webhooks/twilio/status")
@csrf.exempt  # Twilio signs the request instead (X-Twilio-Signature)
def twilio_status():
    """Twilio's delivery reports: mark SMS deliveries delivered or failed."""
    from flask import abort

    from portal.infra.sms import verify_twilio_signature
    from portal.tokens import external_url

    # Twilio signs the URL it was given, which is built from BASE_URL (the proxy may change the host).
    if not verify_twilio_signature(external_url("notifications.twilio_status"), request.form.to_dict(), request.headers.get("X-Twilio-Signature", "")):
        abort(403)
    service.record_sms_status(request.form.get("MessageSid", ""), request.form.get("MessageStatus", ""), request.form.get("ErrorCode"))
    return "", 204
