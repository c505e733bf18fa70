from __future__ import annotations

import mimetypes

from flask import Response, abort, current_app, jsonify, redirect, url_for
from flask_login import current_user
from itsdangerous import BadSignature
from sqlalchemy import text

from portal.core import bp
from portal.extensions import db
from portal.infra import jobs
from portal.infra.storage import StorageError, content_disposition, read_download_token, storage


@bp.get("/")
def home():
    """Send people to their first organization, platform staff to their console, others to log in."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    from portal.orgs.service import orgs_of

    memberships = orgs_of(current_user)
    if memberships:
        return redirect(url_for("orgs.dashboard", org_slug=memberships[0].org.slug))
    if current_user.platform_role == "super_admin":
        return redirect(url_for("admin.index"))
    if current_user.platform_role == "support_agent" and "support.queue" in current_app.view_functions:
        return redirect(url_for("support.queue"))
    return redirect(url_for("orgs.new_org"))


@bp.get("/health")
def health():
    """Liveness: the process answers."""
    return jsonify(status="ok")


def _check(name: str, probe) -> dict:
    try:
        ok = bool(probe())
        return {"name": name, "ok": ok}
    except Exception as exc:  # readiness reports any failure instead of raising it
        return {"name": name, "ok": False, "error": type(exc).__name__}


@bp.get("/health/ready")
def ready():
    """Readiness: database, job queue (Redis when configured) and storage all answer."""
    checks = [
        _check("database", lambda: db.session.execute(text("SELECT 1")).scalar() == 1),
        _check(f"jobs:{jobs.runner().name}", jobs.runner().ping),
        _check(f"storage:{storage().name}", storage().ping),
    ]
    ok = all(c["ok"] for c in checks)
    return jsonify(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503


@bp.get("/files/<token>")
def download(token: str):
    """Serve a local-disk file through a signed, expiring link, always as a download."""
    try:
        key, filename = read_download_token(token)
        data = storage().get(key)
    except (BadSignature, StorageError):
        abort(404)
    mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
