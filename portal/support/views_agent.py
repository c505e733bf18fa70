"""The support agents' pages, under /support/: the cross-organization queue, tickets, canned replies, the SLA
report and each organization's SLA settings. Platform staff only; anyone else gets a 404."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from flask import Response, flash, redirect, render_template, request, url_for

from portal.errors import ServiceError
from portal.extensions import talisman
from portal.notifications import service as notifications
from portal.pagination import clamp
from portal.support import bp, pages, service
from portal.support.forms import (
    AgentReplyForm,
    AvailabilityForm,
    BulkForm,
    CannedForm,
    ReportForm,
    SavedViewForm,
    SlaForm,
    TicketUpdateForm,
    uploads,
)
from portal.support.labels import plural
from portal.support.models import CATEGORIES, PRIORITIES, SLA_STATES, STATUSES, Ticket
from portal.tenancy import platform_required
from portal.text import sentence
from portal.web import after_change, flash_error, render_page, wants_fragment

QUEUE_KEYS = ("status", "priority", "category", "org", "assignee", "sla", "q", "sort")


def _queue_url(query: str = "") -> str:
    return url_for("support.queue") + (f"?{query}" if query else "")


def _queue_filters(source: Mapping[str, str]) -> service.QueueFilters:
    args = {k: source.get(k, "") for k in (*QUEUE_KEYS, "after")}
    args["sort"] = args["sort"] or "activity"
    return service.QueueFilters(**args)


def _queue_context(full: bool, query: str | None = None) -> dict:
    """The queue's rows (filtered by the URL's query, or by `query`, the filters a post carries); with `full`, also
    what only the whole page shows (filters' choices, bulk form, saved views)."""
    filters = _queue_filters(request.args if query is None else dict(parse_qsl(query)))
    tickets, next_cursor = service.queue_rows(filters, pages.me())  # the table's columns, not whole tickets
    kept = {k: getattr(filters, k) for k in QUEUE_KEYS if getattr(filters, k)}
    next_url = f"{_queue_url()}?{urlencode({**kept, 'after': next_cursor})}" if next_cursor else None
    context = {"tickets": tickets, "filters": filters, "next_url": next_url, "query_string": urlencode(kept), "first_page": not filters.after,
               # built once, not once per row: url_for is a tenth of the rows' rendering time
               "ticket_url_prefix": url_for("support.agent_show", ticket_id="-").removesuffix("-")}
    if full:
        context.update(statuses=STATUSES, priorities=PRIORITIES, categories=CATEGORIES, sla_states=SLA_STATES, agents=service.agents(),
                       orgs=service.org_choices(),  # the organization filter lists names; its value stays the slug old links carry
                       views=service.saved_views(pages.me()), available=service.is_available(pages.me()))
    return context


@bp.get("/support/")
@platform_required("platform.support")
def desk():
    """The support agents' home: the desk's health, the tickets nearest their SLA, the busiest organizations."""
    return render_template("support/desk.html", **pages.desk_context())


@bp.get("/support/queue")
@platform_required("platform.support")
def queue():
    fragment = wants_fragment()
    context = _queue_context(full=not fragment)
    if fragment and request.args.get("after"):
        return render_template("support/_queue_rows.html", **context)
    return render_page("support/queue.html", "support/_queue.html", **context)


@bp.get("/support/notifications")
@platform_required("platform.support")
def agent_notifications():
    """The agent's in-app ticket notifications from every organization."""
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"), 20)
    return render_template("support/notifications.html", result=service.agent_inbox(pages.me(), page=page, per_page=per_page))


@bp.post("/support/queue/bulk")
@platform_required("platform.support")
def bulk():
    form = BulkForm()

    def apply() -> Response:
        back, tickets = _queue_url(form.query.data), form.ticket.data or []
        if not tickets:  # nothing ticked: nothing to update, and nothing to swap
            return pages.done(back, "Select tickets first.", kind="warning")
        if not (form.status.data or form.assignee_id.data):
            return pages.done(back, "Choose a status or an assignee to apply.", kind="warning")
        changed, problems = service.bulk_update(tickets, pages.me(), status=form.status.data or None,
                                                assignee_id=form.assignee_id.data or None)
        message = " ".join([f"Updated {plural(changed, 'ticket')}.", *problems])

        def rows() -> str:  # the rows as they now are, under the same filters (the ticks cleared)
            return render_template("support/_queue.html", **_queue_context(full=False, query=form.query.data or ""))

        return pages.done(back, message, rows, kind="warning" if problems else "success")

    return pages.press(form, apply)


@bp.post("/support/availability")
@platform_required("platform.support")
def availability():
    form = AvailabilityForm()

    def mark() -> Response:
        service.set_available(pages.me(), form.available.data)
        return pages.done(_queue_url(), "You are available." if form.available.data else "You are away.", _availability)

    return pages.press(form, mark)


def _availability() -> str:
    return render_template("support/_availability.html", available=service.is_available(pages.me()))


def _saved_views() -> str:
    return render_template("support/_saved_views.html", views=service.saved_views(pages.me()))


@bp.post("/support/views")
@platform_required("platform.support")
def save_view():
    form = SavedViewForm()

    def save() -> Response:
        try:
            view = service.save_view(pages.me(), form.name.data or "", form.query.data or "")
        except ServiceError as exc:
            if wants_fragment():
                return pages.refused_in_place(exc, _saved_views)
            flash_error(exc)  # the form is a field on the queue page: back there, with the reason
            return after_change(_queue_url(form.query.data))
        return pages.done(_queue_url(view.query), "View saved.", _saved_views)

    return pages.press(form, save)


@bp.post("/support/views/<view_id>/delete")
@platform_required("platform.support")
def delete_view(view_id: str):
    service.delete_view(pages.me(), view_id)  # nothing to parse: the URL names the view, CSRF is checked app-wide
    return after_change(_queue_url())


def _agent_context(ticket: Ticket, **extra) -> dict:
    agents = service.agents()
    return {"org": ticket.org, "ticket": ticket, "comments": service.timeline(ticket, for_agent=True),
            "attachments": service.attachments(ticket, for_agent=True), "form": extra.pop("form", None) or AgentReplyForm(),
            "update_form": extra.pop("update_form", None) or TicketUpdateForm(ticket, agents), "agent_view": True,
            "canned": service.canned_replies(), "sla": service.sla_status(ticket), "number": ticket.short_number, **extra}


@bp.get("/support/tickets/<ticket_id>")
@platform_required("platform.support")
def agent_show(ticket_id: str):
    ticket = service.ticket_for_agent(ticket_id)
    # Opening the ticket reads what the agent's own inbox says about it (in the ticket's org, where they were told).
    notifications.mark_read_about(ticket.org, pages.me(), "ticket_id", ticket.public_id)
    return render_page("support/agent_show.html", "support/_thread.html", **_agent_context(ticket))


@bp.get("/support/tickets/<ticket_id>/thread")
@platform_required("platform.support")
def agent_thread(ticket_id: str):
    return render_template("support/_thread.html", **_agent_context(service.ticket_for_agent(ticket_id)))


@bp.post("/support/tickets/<ticket_id>/comments")
@platform_required("platform.support")
def agent_reply(ticket_id: str):
    ticket, form = service.ticket_for_agent(ticket_id), AgentReplyForm()

    def send() -> str:
        body = service.compose_reply(ticket, pages.me(), form.body.data or "", form.canned_id.data)
        service.add_comment(ticket, pages.me(), body, as_agent=True, internal=form.internal.data, files=uploads(form.file))
        flash("Internal note added." if form.internal.data else "Reply sent to the customer.", "success")
        return url_for("support.agent_show", ticket_id=ticket_id)

    return pages.submit(form, send, lambda: _agent_page(ticket, form=form))


@bp.get("/support/tickets/<ticket_id>/comments")
@bp.get("/support/tickets/<ticket_id>/update")
@platform_required("platform.support")
def agent_back_to_ticket(ticket_id: str):
    """The ticket page again: loading a refused reply's or save's URL (the post's) lands here, never on a 405."""
    return redirect(url_for("support.agent_show", ticket_id=ticket_id), code=303)


@bp.post("/support/tickets/<ticket_id>/compose")
@platform_required("platform.support")
def agent_compose(ticket_id: str):
    """Insert the chosen canned reply, its variables filled in, into the reply box for the agent to edit: nothing is sent."""
    ticket, form = service.ticket_for_agent(ticket_id), AgentReplyForm()
    chosen = request.form.get("canned", "")
    if chosen:
        try:
            form.body.data = "\n\n".join(p for p in (service.render_canned(chosen, ticket, pages.me()), (form.body.data or "").strip()) if p)
        except ServiceError as exc:
            form.body.errors = [*(form.body.errors or []), exc.message]
    if wants_fragment():
        return render_template("support/_reply_body.html", form=form)
    return _agent_page(ticket, form=form)


@bp.post("/support/tickets/<ticket_id>/reopen")
@platform_required("platform.support")
def agent_reopen(ticket_id: str):
    ticket = service.ticket_for_agent(ticket_id)
    service.set_status(ticket, "open", pages.me(), as_agent=True)  # a refused move is the error page (409)
    flash("Ticket reopened.", "success")
    return after_change(url_for("support.agent_show", ticket_id=ticket_id))


def _agent_page(ticket: Ticket, **extra) -> str:
    return render_template("support/agent_show.html", **_agent_context(ticket, **extra))


@bp.post("/support/tickets/<ticket_id>/update")
@platform_required("platform.support")
def agent_update(ticket_id: str):
    ticket = service.ticket_for_agent(ticket_id)
    form = TicketUpdateForm(ticket, service.agents())

    def change() -> str:
        service.update_ticket(ticket, pages.me(), as_agent=True, **form.changes())  # all or nothing
        flash("Ticket saved.", "success")
        return url_for("support.agent_show", ticket_id=ticket_id)

    return pages.submit(form, change, lambda: _agent_page(ticket, update_form=form))



@bp.get("/support/tickets/<ticket_id>/attachments/<attachment_id>")
@platform_required("platform.support")
def agent_download(ticket_id: str, attachment_id: str):
    return pages.download(service.attachment_of(service.ticket_for_agent(ticket_id), attachment_id, for_agent=True))


@bp.get("/support/tickets/<ticket_id>/attachments/<attachment_id>/preview")
@platform_required("platform.support")
@talisman(content_security_policy=pages.PREVIEW_CSP)
def agent_preview(ticket_id: str, attachment_id: str):
    return pages.preview(service.attachment_of(service.ticket_for_agent(ticket_id), attachment_id, for_agent=True))


@bp.get("/support/canned")
@platform_required("platform.support")
def canned():
    return render_template("support/canned.html", replies=service.canned_replies(), form=CannedForm())


@bp.post("/support/canned")
@platform_required("platform.support")
def create_canned():
    form = CannedForm()

    def create() -> Response:
        reply = service.create_canned(form.title.data or "", form.body.data or "")
        return pages.done(url_for("support.canned"), f"Canned reply “{reply.title}” saved.")

    return pages.submit(form, create, lambda: render_template("support/canned.html", replies=service.canned_replies(), form=form))


@bp.post("/support/canned/<canned_id>/delete")
@platform_required("platform.support")
def delete_canned(canned_id: str):
    reply = service.delete_canned(canned_id)
    return pages.done(url_for("support.canned"), f"Canned reply “{reply.title}” deleted.",
                      lambda: render_template("support/_canned_list.html", replies=service.canned_replies()))


@bp.get("/support/report")
@platform_required("platform.support")
def report():
    form = ReportForm(request.args)
    if not form.validate():  # a hand-edited URL: say which day is wrong and keep what was typed, rather than guess
        return render_template("support/report.html", form=form, rows=None), 400
    form.show_period(*service.report_period(form.start.data, form.end.data))
    return render_template("support/report.html", form=form, rows=service.sla_report_days(form.start.data, form.end.data))


@bp.get("/support/orgs/<org_id>/sla")
@platform_required("platform.support")
def org_sla(org_id: str):
    """An organization's business hours (time zone, days, hours, holidays) and SLA targets per priority."""
    org = service.org_or_404(org_id)
    return _sla_page(org, SlaForm(data=SlaForm.initial(service.calendar_row(org), service.policies_for(org))))


@bp.post("/support/orgs/<org_id>/sla")
@platform_required("platform.support")
def save_org_sla(org_id: str):
    org, form = service.org_or_404(org_id), SlaForm()

    def save() -> str:
        service.save_sla_settings(org, form.calendar(), form.policies())  # the calendar and every target, or none of them
        flash(sentence(f"Saved the SLA settings of {org.name}"), "success")
        return url_for("support.org_sla", org_id=org_id)

    return pages.submit(form, save, lambda: _sla_page(org, form))


def _sla_page(org, form: SlaForm) -> str:
    return render_template("support/org_sla.html", org=org, form=form, priorities=PRIORITIES)
