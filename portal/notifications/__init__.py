"""Notifications: the one way any domain tells people something (in-app, email, SMS)."""

from flask import Blueprint

bp = Blueprint("notifications", __name__)
