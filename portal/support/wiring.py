"""What support adds to the app: customer and agent pages, the API, their template helpers, and the SLA job."""

from flask import Flask

from portal.billing import service as billing
from portal.infra import jobs, periodic
from portal.support import api, bp, tasks, views_agent, views_customer  # noqa: F401  (the views and api attach their routes)
from portal.support.labels import label, sla_label, sla_target
from portal.support.markdown import render as render_markdown
from portal.support.services.attachments import STORAGE_METRIC, stored_bytes


def _labels() -> dict:
    return {"ticket_status_label": lambda status: label(status, "status"), "sla_label": sla_label, "sla_target": sla_target}


def init_app(app: Flask) -> None:
    """Register the support pages, their Markdown filter and labels, the SLA job (every minute) and the storage gauge."""
    app.register_blueprint(bp)
    billing.measure(STORAGE_METRIC, stored_bytes)  # the billing page's attachment storage: the bytes the org's files hold
    app.add_template_filter(render_markdown, "support_markdown")  # ticket Markdown as sanitized HTML
    app.add_template_filter(label, "support_label")  # {{ t.priority | support_label("priority") }}: codes in words
    app.context_processor(_labels)
    jobs.register(app, tasks.check_sla)
    periodic.every(app, 60, tasks.check_sla)
