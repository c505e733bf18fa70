"""The super admin console: every organization and user."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

