"""Session login, security headers (CSP with nonces), and the unauthorized answer."""

from __future__ import annotations

from flask import Flask, current_app, flash, g, redirect, request, url_for
from flask_login import current_user

from portal.accounts.service import load_session_user
from portal.extensions import csrf, htmx, login_manager, talisman
from portal.http import json_error, wants_json
from portal.keys import auth as key_auth

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def init_app(app: Flask) -> None:
    """Login, the unauthorized answer, API keys and CSRF, and the security headers."""
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Log in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_session_user)

    @login_manager.unauthorized_handler
    def unauthorized():
        if wants_json():
            return json_error(401, "Log in or send an API key.", "unauthenticated")
        flash(login_manager.login_message, login_manager.login_message_category)
        target = url_for("accounts.login", next=request.full_path.rstrip("?"))
        if htmx:  # any htmx request, boosted or not: htmx follows HX-Redirect
            return "", 401, {"HX-Redirect": target}
        return redirect(target)

    init_api_keys_and_csrf(app)

    production = app.config["PRODUCTION"]
    talisman.init_app(
        app,
        force_https=False,  # TLS ends at the proxy in front of gunicorn
        strict_transport_security=production,
        session_cookie_secure=production,
        content_security_policy=CSP,
        content_security_policy_nonce_in=["script-src", "style-src"],
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
    )


def init_api_keys_and_csrf(app: Flask) -> None:
    """API keys authenticate /api/ requests (portal.keys.auth); CSRF protects every other write.

    A key-authenticated request carries no cookie a browser could send on its own, so CSRF does not
    apply to it; session requests stay CSRF-protected. This is Flask-WTF's documented pattern:
    WTF_CSRF_CHECK_DEFAULT off, and csrf.protect() called here. The hook runs first, where
    CSRFProtect's own check ran before.
    """
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    key_auth.init_app(app)

    def authenticate_api_key_or_check_csrf():
        refusal = key_auth.before_request()
        if refusal is not None:
            return json_error(refusal.status, refusal.message, refusal.code, refusal.fields, headers=refusal.headers)
        if g.api_key is None and app.config["WTF_CSRF_ENABLED"]:
            if _anonymous_api_write():
                # Say what is missing (credentials), not that a token of a session nobody has is stale.
                return json_error(401, "Log in or send an API key.", "unauthenticated", headers={"WWW-Authenticate": "Bearer"})
            csrf.protect(apply_exemptions=True)
        return None

    app.before_request_funcs.setdefault(None, []).insert(0, authenticate_api_key_or_check_csrf)


def _anonymous_api_write() -> bool:
    """A write to an /api/ endpoint that needs a caller (one with a permission check), with none."""
    if request.method in SAFE_METHODS or not wants_json() or current_user.is_authenticated:
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "required_permission", None) is not None
