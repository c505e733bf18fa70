"""Workflows: LangGraph graphs defined in the portal, run on the job runner with live progress."""

from flask import Blueprint

bp = Blueprint("workflows", __name__)

from portal.infra.periodic import every  # noqa: E402

every(15, "portal.workflows.tasks.reap")  # with a 30 s heartbeat timeout: a dead worker is noticed within 45 s
every(3600, "portal.workflows.tasks.prune")
