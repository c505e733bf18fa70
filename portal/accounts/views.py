from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.accounts import bp, service, web
from portal.accounts.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    ProfileForm,
    ResetPasswordForm,
    SignupForm,
)
from portal.errors import NotFound, ServiceError
from portal.extensions import limiter
from portal.forms import apply_errors
from portal.orgs import service as orgs
from portal.orgs.models import Organization
from portal.tenancy import brand_request
from portal.text import normalize_email
from portal.themes.optout import no_custom_code
from portal.uow import refused
from portal.web import flash_error


def _safe_next(target: str | None, org: Organization | None = None) -> str:
    """Only same-site paths are followed after login (no open redirects); else the org's dashboard or home."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    if org is not None:
        # A non-member who logged in on this org's page gets its dashboard's 404 rather than a hint; send them home.
        return url_for("orgs.dashboard", org_slug=org.slug) if orgs.membership_of(org, current_user) else url_for("core.home")
    return url_for("core.home")


def _status(form) -> int:
    """A form shown again with errors answers 422; a fresh one 200."""
    return 422 if form.errors else 200


def _login_email() -> str:
    return normalize_email(request.form.get("email", "")) or request.remote_addr or "-"


@bp.route("/signup", methods=["GET", "POST"])
@no_custom_code
def signup():
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = service.signup(form.email.data, form.password.data, form.name.data, form.org_name.data, form.org_slug.data)
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            web.start_session(user)
            flash(f"Welcome! We sent a verification link to {user.email}.", "success")
            return redirect(url_for("core.home"))
    return render_template("accounts/signup.html", form=form), _status(form)


_LOGIN_LIMITS = (
    limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_IP"], methods=["POST"]),
    limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"], key_func=_login_email, methods=["POST"]),
)


def _login_limited(view):
    """Both login pages share the per-address and per-account limits."""
    for limit in reversed(_LOGIN_LIMITS):
        view = limit(view)
    return view


def _brand(slug: str | None) -> Organization | None:
    """The organization an anonymous page should wear the look of (login, forgot password), if it exists."""
    org = orgs.org_by_slug(slug) if slug else None
    if org is not None and not org.is_suspended:
        brand_request(org)
        return org
    return None


def _login_page(org: Organization | None):
    """Log in; from an org's own login page the form wears its theme and lands in it."""
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(_safe_next(next_url, org))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = service.authenticate(form.email.data, form.password.data)
        except ServiceError as exc:
            apply_errors(form, exc)  # the refusal keeps its audit row (persist)
            return render_template("accounts/login.html", form=form, login_org=org), exc.status
        web.start_session(user, remember=form.remember.data)
        return redirect(_safe_next(next_url, org))
    return render_template("accounts/login.html", form=form, login_org=org), _status(form)


@bp.route("/login", methods=["GET", "POST"])
@no_custom_code
@_login_limited
def login():
    return _login_page(None)


# <slug>, not <org_slug>: this page is public on purpose (it shows what the public theme API publishes, the org's
# name and look), while every <org_slug> route is for members only (tests/security walks them as such).
@bp.route("/o/<slug>/login", methods=["GET", "POST"])
@no_custom_code
@_login_limited
def org_login(slug: str):
    """An organization's own login page (Keycloak's per-realm login): its logo and colours, then its dashboard."""
    org = _brand(slug)
    if org is None:
        raise NotFound()
    return _login_page(org)


@bp.post("/logout")
@login_required
def logout():
    web.end_session(current_user._get_current_object())
    flash("You are logged out.", "info")
    return redirect(url_for("accounts.login"))


@bp.get("/verify/<token>")
def verify(token: str):
    try:
        service.verify_email(token)
    except ServiceError as exc:
        if exc.code == "token_used":  # not a failure: the address is verified already
            refused(exc)
            flash(exc.message, "info")
        else:
            flash_error(exc)
        return redirect(url_for("core.home"))
    flash("Your email address is verified.", "success")
    return redirect(url_for("core.home"))


@bp.post("/verify/resend")
@login_required
@limiter.limit("3 per hour", key_func=lambda: current_user.get_id())
def resend_verification():
    if not current_user.is_verified:
        service.send_verification(current_user)
        flash(f"We sent a new verification link to {current_user.email}.", "success")
    return redirect(request.referrer or url_for("core.home"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@no_custom_code
@limiter.limit("10 per hour", methods=["POST"])
def forgot_password():
    org = _brand(request.args.get("org"))
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        service.request_password_reset(form.email.data)
        flash("If an account uses that address, a reset link is on its way. It works for one hour, once.", "info")
        return redirect(url_for("accounts.org_login", slug=org.slug) if org else url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form, login_org=org), _status(form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@no_custom_code
def reset_password(token: str):
    try:
        service.user_for_reset(token)
    except ServiceError as exc:
        return render_template("accounts/reset.html", form=None, problem=exc.message), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = service.reset_password(token, form.password.data)
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            web.start_session(user)
            flash("Your password is changed. Other sessions were logged out.", "success")
            return redirect(url_for("core.home"))
    return render_template("accounts/reset.html", form=form, problem=None), _status(form)


@bp.route("/account", methods=["GET", "POST"])
@no_custom_code
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    password_form = ChangePasswordForm(prefix="pw")
    if form.validate_on_submit():
        try:
            service.update_profile(current_user, form.name.data or "", form.timezone.data, form.color_scheme.data)
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            flash("Profile saved.", "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form, password_form=password_form), _status(form)


@bp.post("/account/password")
@no_custom_code
@login_required
def change_password():
    form = ProfileForm(obj=current_user, formdata=None)
    password_form = ChangePasswordForm(prefix="pw")
    if password_form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            service.change_password(user, password_form.current_password.data, password_form.password.data)
        except ServiceError as exc:
            apply_errors(password_form, exc)
        else:
            web.renew_session(user)  # this session's cookie carries the new session token
            flash("Password changed. Your other sessions were logged out.", "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form, password_form=password_form), 422
