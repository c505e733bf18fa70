"""Support tickets: customers file and follow tickets, platform agents work an SLA-driven queue."""

from flask import Blueprint

bp = Blueprint("support", __name__)

from portal.infra.periodic import every  # noqa: E402

every(60, "portal.support.tasks.check_sla")
