"""API key pages: the list, the create dialog that shows a key once, a key's page (usage chart, last
use, settings, rotate, revoke) and the org's key policy. Thin: parse, call the service, render."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from portal.errors import Conflict, ServiceError
from portal.extensions import db
from portal.forms import apply_errors
from portal.keys import bp, service
from portal.keys.chart import usage_chart
from portal.keys.forms import KeyForm, NewKeyForm, PolicyForm, RotateForm
from portal.pagination import clamp
from portal.tenancy import current_membership, current_org, org_required
from portal.themes.optout import no_custom_code
from portal.web import after_change, flash_error, render_page, wants_fragment

NO_STORE = {"Cache-Control": "no-store"}


def _expiry(value) -> datetime | None:
    """A date from the form: the key stops at 00:00 UTC that day."""
    return datetime.combine(value, time(0, 0), tzinfo=UTC) if value else None


def _list_context() -> dict:
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"), 25)
    status = request.args.get("status", "")
    filters = {"status": status if status in service.STATUSES else "", "q": request.args.get("q", "").strip()[:100]}
    result = service.list_keys(current_org, current_membership, status=filters["status"] or None, q=filters["q"], page=page, per_page=per_page)
    return {
        "org": current_org, "result": result, "filters": filters, "statuses": service.STATUSES,
        "totals": service.usage_totals(result.items), "used": service.last_used(result.items),
        "manage": service.can_manage(current_membership), "me": current_membership.user_id,
        "ceiling": service.rate_ceiling(current_org),
    }


def _owner_choices(form: NewKeyForm) -> NewKeyForm:
    """Org admins pick the owner among the org's members (themselves first); others get no owner field."""
    if not service.can_manage(current_membership):
        del form.owner
        return form
    me = current_membership.user_id
    members = service.owner_candidates(current_org)
    members.sort(key=lambda m: m.user_id != me)  # stable: the rest stay by name
    form.owner.choices = [
        (m.user.public_id, f"{m.user.display_name} ({m.user.email})" + (" · you" if m.user_id == me else "")) for m in members
    ]
    return form


def _submit_token(form: NewKeyForm) -> str | None:
    """The create form's one-time token as posted; None for a form without one (it creates as before)."""
    token = (form.submit_token.raw_data or [""])[0]
    return token if 16 <= len(token) <= 64 else None


def _key_form_context(form: KeyForm) -> dict:
    return {"org": current_org, "form": form, "policy": service.policy_for(current_org), "role": current_membership.role}


@bp.get("/o/<org_slug>/keys")
@org_required("keys.create")
def index(org_slug: str):
    return render_page("keys/index.html", "keys/_table.html", **_list_context())


@bp.get("/o/<org_slug>/keys/new")
@org_required("keys.create")
def new(org_slug: str):
    form = NewKeyForm(formdata=None, rate_limit=service.default_rate_limit(current_org), owner=current_user.public_id)
    return render_page("keys/new.html", "keys/_new_dialog.html", **_key_form_context(_owner_choices(form)))


@bp.post("/o/<org_slug>/keys")
@no_custom_code
@org_required("keys.create")
def create(org_slug: str):
    form = NewKeyForm()
    token = _submit_token(form)
    if token and (key := service.created_with(current_org, current_membership, token)) is not None:
        return _created(key, secret=None)  # the same form again (Reload, Back and resend): its secret was shown once
    owner = form.owner.data  # read before a non-admin's form loses the field: naming someone else is refused
    form = _owner_choices(form)
    if form.validate_on_submit():
        try:
            key, secret = service.create_key(
                current_org, current_membership, name=form.name.data, scopes=form.scopes.data,
                expires_at=_expiry(form.expires_at.data), rate_limit=form.rate_limit.data, owner=owner, form_token=token,
            )
        except ServiceError as exc:
            apply_errors(form, exc)
        except IntegrityError:
            # A second click's post, in flight with the first: its insert waited for the first's commit and lost on
            # the form's token. That insert is the request's first write, so rolling back undoes nothing else.
            db.session.rollback()
            if not token:
                raise
            if (key := service.created_with(current_org, current_membership, token)) is None:  # someone else's form
                raise Conflict("This form was already sent. Open a new one to create another key.", code="form_used") from None
            return _created(key, secret=None)
        else:
            return _created(key, secret)
    return render_page("keys/new.html", "keys/_new_dialog.html", **_key_form_context(form)), 422


def _created(key, secret: str | None):
    """The "Key created" page or dialog: with its secret, once; without it for a repeated post of the same form."""
    return render_page(
        "keys/created.html", "keys/_created_dialog.html", key=key, secret=secret, rotated_until=None, **_list_context()
    ), 200, NO_STORE


def _show_context(key, form: KeyForm | None = None, notice: str | None = None) -> dict:
    usage = service.usage(key)
    if form is None:
        form = KeyForm(formdata=None, obj=key, expires_at=key.expires_at.date() if key.expires_at else None)
    return {
        "org": current_org, "key": key, "usage": usage, "chart": usage_chart(usage["days"]),
        "used": service.last_used([key])[key.id], "form": form, "rotate_form": RotateForm(formdata=None),
        "manage": service.can_manage(current_membership), "grace_secrets": service.secrets_in_grace(key), "notice": notice,
        "ceiling": service.rate_ceiling(current_org),
    }


def _changed(key, message: str):
    """After a change on the key's page: htmx swaps in the details with a notice; a browser gets a flash and a 303."""
    if wants_fragment():
        return render_template("keys/_details.html", **_show_context(key, notice=message))
    flash(message, "success")
    return redirect(url_for("keys.show", org_slug=current_org.slug, key_id=key.public_id), 303)


@bp.get("/o/<org_slug>/keys/<key_id>")
@org_required("keys.create")
def show(org_slug: str, key_id: str):
    key = service.get_key(current_org, current_membership, key_id)
    return render_page("keys/show.html", "keys/_details.html", **_show_context(key))


@bp.post("/o/<org_slug>/keys/<key_id>")
@org_required("keys.create")
def update(org_slug: str, key_id: str):
    key = service.get_key(current_org, current_membership, key_id)
    form = KeyForm()
    if form.validate_on_submit():
        changes = {"name": form.name.data, "scopes": form.scopes.data, "expires_at": _expiry(form.expires_at.data),
                   "rate_limit": form.rate_limit.data if form.rate_limit.data is not None else key.rate_limit}
        try:
            key = service.update_key(current_org, current_membership, key_id, changes)
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            return _changed(key, "Key settings saved.")
    return render_page("keys/show.html", "keys/_details.html", **_show_context(key, form)), 422



@bp.post("/o/<org_slug>/keys/<key_id>/rotate")
@no_custom_code
@org_required("keys.create")
def rotate(org_slug: str, key_id: str):
    form = RotateForm()
    grace = form.grace_period.data if form.validate_on_submit() else -1
    try:
        key, secret, until = service.rotate_key(current_org, current_membership, key_id, grace)
    except ServiceError as exc:  # a stale page: the key was revoked or expired meanwhile
        flash_error(exc)
        return after_change(url_for("keys.show", org_slug=org_slug, key_id=key_id))
    context = {**_list_context(), **_show_context(key)}
    return render_page("keys/created.html", "keys/_created_dialog.html", secret=secret, rotated_until=until, **context), 200, NO_STORE


@bp.post("/o/<org_slug>/keys/<key_id>/revoke")
@org_required("keys.create")
def revoke(org_slug: str, key_id: str):
    key = service.revoke_key(current_org, current_membership, key_id)
    return _changed(key, f"Key {key.name} is revoked: calls with it now fail.")


@bp.route("/o/<org_slug>/keys/policy", methods=["GET", "POST"])
@org_required("keys.manage")
def policy(org_slug: str):
    current = service.policy_for(current_org)
    form = PolicyForm(obj=current) if request.method == "POST" else PolicyForm(formdata=None, obj=current)
    if request.method == "POST" and form.validate_on_submit():
        try:
            service.save_policy(current_org, form.max_lifetime_days.data, form.user_scopes.data, by=current_membership.user)
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            flash("Key policy saved. It applies to keys created or changed from now on.", "success")
            return after_change(url_for("keys.policy", org_slug=org_slug))
    status = 422 if form.errors or getattr(form, "form_errors", None) else 200
    return render_page("keys/policy.html", "keys/_policy_form.html", org=current_org, form=form), status
