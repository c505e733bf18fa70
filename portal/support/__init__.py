"""Support tickets: customers file and follow tickets, platform agents work an SLA-driven queue."""

from flask import Blueprint

bp = Blueprint("support", __name__)
