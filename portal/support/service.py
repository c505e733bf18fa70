"""Support logic: the one place pages, the API and jobs call. A façade over `services/`, one module per concern
(sla, tickets, attachments, queue, desk, report), so that callers keep calling `support.service.<name>`.

Internal notes never leave through here to a customer: every customer-facing read goes through
`thread(..., for_agent=False)`.
"""

from __future__ import annotations

from portal.support.services.attachments import (
    add_attachment,
    add_attachments,
    attachment_bytes,
    attachment_of,
    attachments,
    download_url,
)
from portal.support.services.desk import (
    agent_inbox,
    agents,
    canned_replies,
    compose_reply,
    create_canned,
    delete_canned,
    delete_view,
    is_available,
    render_canned,
    save_view,
    saved_views,
    set_available,
)
from portal.support.services.health import at_risk, busiest_orgs, desk_health
from portal.support.services.queue import (
    SORTS,
    QueueFilters,
    QueueRow,
    customer_queue,
    org_choices,
    queue,
    queue_rows,
    search_condition,
    valid_cursor,
    with_requesters,
)
from portal.support.services.report import report_period, sla_report, sla_report_days
from portal.support.services.sla import (
    DEFAULT_POLICIES,
    CalendarSettings,
    calendar_for,
    calendar_row,
    check_sla_all,
    check_sla_batch,
    org_or_404,
    policies_for,
    recompute_due,
    recompute_open_tickets,
    refresh_sla,
    save_sla_settings,
    set_calendar,
    set_policy,
    sla_status,
    targets_for,
)
from portal.support.services.tickets import (
    STATUS_LABELS,
    TRANSITIONS,
    add_comment,
    allowed_statuses,
    assign,
    bulk_update,
    create_ticket,
    events,
    rate,
    set_status,
    thread,
    ticket_by_number,
    ticket_for_agent,
    ticket_for_member,
    timeline,
    update_ticket,
)

__all__ = [
    "DEFAULT_POLICIES", "SORTS", "STATUS_LABELS", "TRANSITIONS", "CalendarSettings", "QueueFilters", "QueueRow", "add_attachment", "add_attachments",
    "add_comment", "agent_inbox", "at_risk", "busiest_orgs", "desk_health", "agents", "allowed_statuses", "assign", "attachment_bytes", "attachment_of", "attachments",
    "bulk_update", "calendar_for", "calendar_row", "canned_replies", "compose_reply", "check_sla_all", "check_sla_batch", "create_canned", "delete_canned",
    "create_ticket", "events", "timeline", "customer_queue", "delete_view", "download_url", "is_available", "org_choices", "org_or_404", "policies_for", "queue", "queue_rows", "with_requesters",
    "rate", "report_period", "recompute_due", "recompute_open_tickets", "refresh_sla", "render_canned", "save_sla_settings", "save_view",
    "saved_views", "search_condition", "set_available", "set_calendar", "set_policy", "set_status", "sla_report", "sla_report_days", "sla_status",
    "targets_for", "thread", "ticket_by_number", "ticket_for_agent", "ticket_for_member", "update_ticket", "valid_cursor",
]
