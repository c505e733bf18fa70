"""What support adds to the app: customer and agent pages, the API, their template helpers, and the SLA job."""

from flask import Flask

from portal.infra import jobs, periodic
from portal.support import api, bp, tasks, views_agent, views_customer  # noqa: F401  (the views and api attach their routes)
from portal.support.markdown import render as render_markdown
from portal.support.service import STATUS_LABELS


def _labels() -> dict:
    return {"ticket_status_label": lambda status: STATUS_LABELS.get(status, status)}


def init_app(app: Flask) -> None:
    """Register the support pages, their Markdown filter and status labels, and the SLA job (every minute)."""
    app.register_blueprint(bp)
    app.add_template_filter(render_markdown, "support_markdown")  # ticket Markdown as sanitized HTML
    app.context_processor(_labels)
    jobs.register(app, tasks.check_sla)
    periodic.every(app, 60, tasks.check_sla)
