"""Notifications: the one way any domain tells people something (in-app, email, SMS)."""

from flask import Blueprint

bp = Blueprint("notifications", __name__)

from portal.infra.periodic import every  # noqa: E402

every(60, "portal.notifications.tasks.reconcile")
