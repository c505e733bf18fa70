"""Routes that belong to no domain: home, health checks, local file downloads."""

from flask import Blueprint

bp = Blueprint("core", __name__)

