"""Customers' support pages, under /o/<org_slug>/tickets: file tickets, follow them, reply, close, reopen and rate."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, flash, render_template, request, url_for

from portal.errors import ServiceError
from portal.extensions import talisman
from portal.notifications import service as notifications
from portal.support import bp, pages, service
from portal.support.attachments import UploadRefused
from portal.support.forms import AttachmentForm, RatingForm, ReplyForm, StatusForm, TicketForm, uploads
from portal.support.models import STATUSES, Ticket
from portal.tenancy import current_membership, current_org, org_required
from portal.web import after_change, render_page, wants_fragment

# What a customer's close and reopen buttons say they did.
STATUS_DONE = {"closed": "Ticket closed.", "open": "Ticket reopened."}


def _ticket(ticket_id: str) -> Ticket:
    return service.ticket_for_member(current_org, pages.me(), current_membership, ticket_id)


def _ticket_url(ticket_id: str) -> str:
    return url_for("support.show", org_slug=current_org.slug, ticket_id=ticket_id)


def _list_context() -> dict:
    """One keyset page of the tickets the member may see (all of them, page after page), and the next page's link."""
    filters = service.QueueFilters(status=request.args.get("status", ""), q=request.args.get("q", ""), after=request.args.get("after", ""))
    tickets, next_cursor = service.customer_queue(current_org, pages.me(), current_membership, filters)
    kept = {k: v for k, v in (("status", filters.status), ("q", filters.q)) if v}
    next_url = f"{url_for('support.index', org_slug=current_org.slug)}?{urlencode({**kept, 'after': next_cursor})}" if next_cursor else None
    return {"org": current_org, "tickets": tickets, "filters": filters, "next_url": next_url, "statuses": STATUSES}


def _main(ticket: Ticket, **extra) -> str:
    """The ticket page below its title (thread, reply box, buttons), as it is after a change: fresh, empty forms."""
    return render_template("support/_ticket_main.html", **_show_context(ticket, form=ReplyForm(formdata=None),
                                                                        rating_form=RatingForm(formdata=None), **extra))


def _show_context(ticket: Ticket, **extra) -> dict:
    return {"org": current_org, "ticket": ticket, "comments": service.timeline(ticket, for_agent=False),
            "attachments": service.attachments(ticket, for_agent=False), "form": extra.pop("form", None) or ReplyForm(),
            "rating_form": extra.pop("rating_form", None) or RatingForm(), "agent_view": False, "number": ticket.short_number, **extra}


@bp.get("/o/<org_slug>/tickets")
@org_required("tickets.create")
def index(org_slug: str):
    context = _list_context()
    if wants_fragment() and request.args.get("after"):
        return render_template("support/_list_rows.html", **context)
    return render_page("support/index.html", "support/_list.html", form=TicketForm(), **context)


@bp.post("/o/<org_slug>/tickets")
@org_required("tickets.create")
def create(org_slug: str):
    form = TicketForm()

    def file_it() -> str:
        ticket = service.create_ticket(current_org, pages.me(), subject=form.subject.data, body=form.body.data, category=form.category.data,
                                       priority=form.priority.data, files=uploads(form.file))
        flash("Your ticket was filed. We'll reply here and by email.", "success")
        return _ticket_url(ticket.public_id)

    return pages.submit(form, file_it, lambda: render_template("support/index.html", form=form, **_list_context()))


@bp.get("/o/<org_slug>/tickets/<ticket_id>")
@org_required("tickets.create")
def show(org_slug: str, ticket_id: str):
    ticket = _ticket(ticket_id)
    # Opening the ticket reads what the viewer's inbox says about it (before the page's badge counts it).
    notifications.mark_read_about(current_org, pages.me(), "ticket_id", ticket.public_id)
    return render_page("support/show.html", "support/_thread.html", **_show_context(ticket))


@bp.get("/o/<org_slug>/tickets/<ticket_id>/thread")
@org_required("tickets.create")
def thread(org_slug: str, ticket_id: str):
    """The thread fragment; the page polls it so that new replies appear without a reload."""
    return render_template("support/_thread.html", **_show_context(_ticket(ticket_id)))


@bp.post("/o/<org_slug>/tickets/<ticket_id>/comments")
@org_required("tickets.create")
def reply(org_slug: str, ticket_id: str):
    ticket, form = _ticket(ticket_id), ReplyForm()

    def send() -> str:
        service.add_comment(ticket, pages.me(), form.body.data or "", as_agent=False, files=uploads(form.file))
        return pages.done(_ticket_url(ticket_id), "Reply sent.", lambda: _main(ticket))

    # refused: the page (htmx: the part the form swaps) again, the reason next to the field
    return pages.submit(form, send, lambda: render_page("support/show.html", "support/_ticket_main.html", **_show_context(ticket, form=form)))


@bp.post("/o/<org_slug>/tickets/<ticket_id>/status")
@org_required("tickets.create")
def change_status(org_slug: str, ticket_id: str):
    ticket, form = _ticket(ticket_id), StatusForm()

    def change() -> Response:
        try:
            service.set_status(ticket, form.status.data, pages.me(), as_agent=False)
        except ServiceError as exc:  # a refused move: in place, the ticket as it is and why (a browser: the error page, 409)
            return pages.refused_in_place(exc, lambda: _main(ticket))
        return pages.done(_ticket_url(ticket_id), STATUS_DONE.get(form.status.data, "Ticket updated."), lambda: _main(ticket))

    return pages.press(form, change)


@bp.post("/o/<org_slug>/tickets/<ticket_id>/rating")
@org_required("tickets.create")
def rate(org_slug: str, ticket_id: str):
    ticket, form = _ticket(ticket_id), RatingForm()
    if not form.validate_on_submit():
        return render_template("support/show.html", **_show_context(ticket, rating_form=form)), 422
    # Refused before the ticket is resolved: the error page says why (the form itself shows only once resolved).
    service.rate(ticket, pages.me(), form.rating.data, form.comment.data or "")
    flash("Thank you for rating this ticket.", "success")
    return after_change(_ticket_url(ticket_id))


@bp.post("/o/<org_slug>/tickets/<ticket_id>/attachments")
@org_required("tickets.create")
def attach(org_slug: str, ticket_id: str):
    ticket, form = _ticket(ticket_id), AttachmentForm()
    files = uploads(form.file) if form.validate_on_submit() else []
    if not files:
        raise UploadRefused("Choose a file to upload.", code="file_missing")
    service.add_attachments(ticket, pages.me(), files)
    return after_change(_ticket_url(ticket_id))


@bp.get("/o/<org_slug>/tickets/<ticket_id>/attachments/<attachment_id>")
@org_required("tickets.create")
def download(org_slug: str, ticket_id: str, attachment_id: str):
    return pages.download(service.attachment_of(_ticket(ticket_id), attachment_id, for_agent=False))


@bp.get("/o/<org_slug>/tickets/<ticket_id>/attachments/<attachment_id>/preview")
@org_required("tickets.create")
@talisman(content_security_policy=pages.PREVIEW_CSP)
def preview(org_slug: str, ticket_id: str, attachment_id: str):
    return pages.preview(service.attachment_of(_ticket(ticket_id), attachment_id, for_agent=False))
