"""The audit log: who did what, per organization and for the platform."""

from flask import Blueprint

bp = Blueprint("audit", __name__)

