from __future__ import annotations

import mimetypes

from flask import Response, jsonify, redirect, url_for
from flask_login import current_user
from itsdangerous import BadSignature

from portal.core import bp, readiness
from portal.errors import NotFound
from portal.infra.storage import StorageError, content_disposition, read_download_token, storage
from portal.orgs.service import orgs_of


@bp.get("/")
def home():
    """Send people to their first organization, platform staff to their home (console, support desk), others to log in."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    memberships = orgs_of(current_user)
    if memberships:
        return redirect(url_for("orgs.dashboard", org_slug=memberships[0].org.slug))
    if current_user.platform_role == "super_admin":
        return redirect(url_for("admin.index"))
    if current_user.platform_role == "support_agent":
        return redirect(url_for("support.desk"))
    return redirect(url_for("orgs.new_org"))


@bp.get("/health")
def health():
    """Liveness: the process answers."""
    return jsonify(status="ok")


@bp.get("/health/ready")
def ready():
    """Readiness for the load balancer: 503 only without the database; Redis or storage down is 'degraded'."""
    checks = readiness.checks()
    state = readiness.status(checks)
    return jsonify(status=state, checks=checks), 503 if state == "unavailable" else 200


@bp.get("/files/<token>")
def download(token: str):
    """Serve a local-disk file through a signed, expiring link, always as a download."""
    try:
        key, filename = read_download_token(token)
        data = storage().get(key)
    except (BadSignature, StorageError) as exc:
        raise NotFound() from exc
    mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
