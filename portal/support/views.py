"""Support pages: customers' tickets under /o/<org_slug>/tickets, the agents' queue under /support/."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import ServiceError
from portal.extensions import htmx, talisman
from portal.forms import apply_errors
from portal.infra.storage import content_disposition
from portal.pagination import clamp
from portal.support import bp, service
from portal.support.attachments import PREVIEWABLE
from portal.support.forms import RatingForm, ReplyForm, TicketForm
from portal.support.markdown import render as render_markdown
from portal.support.models import CATEGORIES, PRIORITIES, SLA_STATES, STATUSES, Ticket
from portal.tenancy import current_membership, current_org, org_required, platform_required
from portal.web import render_page, wants_fragment


@bp.app_template_filter("support_markdown")
def _markdown(text: str):
    """Ticket Markdown as sanitized HTML (markdown-it-py, then nh3)."""
    return render_markdown(text)


@bp.app_context_processor
def _labels():
    return {"ticket_status_label": lambda s: service.STATUS_LABELS.get(s, s)}


def _me():
    return current_user._get_current_object()


def _files(field: str = "file") -> list[tuple[str, bytes]]:
    """The uploaded files of a form field (none when the field was left empty)."""
    out = []
    for f in request.files.getlist(field):
        if f and (f.filename or "") != "":
            out.append((f.filename, f.read()))
    return out


def _after_change(url: str):
    """303 to url for a browser; HX-Redirect for htmx."""
    if htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)


def _serve(att) -> Response:
    """Download: stream from local disk with Content-Disposition: attachment, or a short-lived presigned S3 link."""
    from portal.infra.storage import storage

    if storage().name == "s3":
        return redirect(service.download_url(att), code=303)
    response = Response(service.attachment_bytes(att), mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = content_disposition(att.filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# An image preview is a document of its own that can run nothing: no sources, sandboxed.
PREVIEW_CSP = {"default-src": "'none'", "img-src": "'self'", "sandbox": ""}


def _preview(att) -> Response:
    """An image shown inline, only for raster types sniffed on upload; sandboxed, never rendered as a document."""
    if att.content_type not in PREVIEWABLE:
        abort(404)
    response = Response(service.attachment_bytes(att), mimetype=att.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# ================================================================ customers


def _customer_ticket(ticket_id: str) -> Ticket:
    return service.ticket_for_member(current_org, _me(), current_membership, ticket_id)


def _list_context() -> dict:
    """One keyset page of the tickets the member may see (all of them, page after page), and the next page's link."""
    filters = service.QueueFilters(status=request.args.get("status", ""), q=request.args.get("q", ""), after=request.args.get("after", ""))
    tickets, next_cursor = service.customer_queue(current_org, _me(), current_membership, filters)
    kept = {k: v for k, v in (("status", filters.status), ("q", filters.q)) if v}
    next_url = f"{url_for('support.index', org_slug=current_org.slug)}?{urlencode({**kept, 'after': next_cursor})}" if next_cursor else None
    return {"org": current_org, "tickets": tickets, "filters": filters, "next_url": next_url, "statuses": STATUSES}


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
    if form.validate_on_submit():
        try:
            ticket = service.create_ticket(current_org, _me(), subject=form.subject.data, body=form.body.data, category=form.category.data,
                                           priority=form.priority.data, files=_files())
        except ServiceError as exc:
            apply_errors(form, exc)
            status = exc.status
        else:
            flash("Your ticket was filed. We'll reply here and by email.", "success")
            return _after_change(url_for("support.show", org_slug=org_slug, ticket_id=ticket.public_id))
    else:
        status = 422
    return render_template("support/index.html", form=form, **_list_context()), status


def _show_context(ticket: Ticket, **extra) -> dict:
    return {"org": current_org, "ticket": ticket, "comments": service.thread(ticket, for_agent=False),
            "attachments": service.attachments(ticket, for_agent=False), "form": extra.pop("form", None) or ReplyForm(),
            "rating_form": RatingForm(), "agent_view": False, **extra}


@bp.get("/o/<org_slug>/tickets/<ticket_id>")
@org_required("tickets.create")
def show(org_slug: str, ticket_id: str):
    ticket = _customer_ticket(ticket_id)
    return render_page("support/show.html", "support/_thread.html", **_show_context(ticket))


@bp.get("/o/<org_slug>/tickets/<ticket_id>/thread")
@org_required("tickets.create")
def thread(org_slug: str, ticket_id: str):
    """The thread fragment; the page polls it so that new replies appear without a reload."""
    ticket = _customer_ticket(ticket_id)
    return render_template("support/_thread.html", **_show_context(ticket))


@bp.post("/o/<org_slug>/tickets/<ticket_id>/comments")
@org_required("tickets.create")
def reply(org_slug: str, ticket_id: str):
    ticket = _customer_ticket(ticket_id)
    form = ReplyForm()
    if form.validate_on_submit():
        try:
            service.add_comment(ticket, _me(), form.body.data or "", as_agent=False, files=_files())
        except ServiceError as exc:
            apply_errors(form, exc)
            return render_template("support/show.html", **_show_context(ticket, form=form)), exc.status
        return _after_change(url_for("support.show", org_slug=org_slug, ticket_id=ticket_id))
    return render_template("support/show.html", **_show_context(ticket, form=form)), 422


@bp.post("/o/<org_slug>/tickets/<ticket_id>/status")
@org_required("tickets.create")
def change_status(org_slug: str, ticket_id: str):
    ticket = _customer_ticket(ticket_id)
    service.set_status(ticket, request.form.get("status", ""), _me(), as_agent=False)
    return _after_change(url_for("support.show", org_slug=org_slug, ticket_id=ticket_id))


@bp.post("/o/<org_slug>/tickets/<ticket_id>/rating")
@org_required("tickets.create")
def rate(org_slug: str, ticket_id: str):
    ticket = _customer_ticket(ticket_id)
    form = RatingForm()
    if not form.validate_on_submit():
        return render_template("support/show.html", **_show_context(ticket, rating_form=form)), 422
    service.rate(ticket, _me(), form.rating.data, form.comment.data or "")
    flash("Thank you for rating this ticket.", "success")
    return _after_change(url_for("support.show", org_slug=org_slug, ticket_id=ticket_id))


@bp.post("/o/<org_slug>/tickets/<ticket_id>/attachments")
@org_required("tickets.create")
def attach(org_slug: str, ticket_id: str):
    ticket = _customer_ticket(ticket_id)
    files = _files()
    if not files:
        raise ServiceError("Choose a file to upload.", code="file_missing", fields={"file": "Choose a file."}, status=422)
    for name, data in files:
        service.add_attachment(ticket, _me(), name, data)
    return _after_change(url_for("support.show", org_slug=org_slug, ticket_id=ticket_id))


@bp.get("/o/<org_slug>/tickets/<ticket_id>/attachments/<attachment_id>")
@org_required("tickets.create")
def download(org_slug: str, ticket_id: str, attachment_id: str):
    return _serve(service.attachment_of(_customer_ticket(ticket_id), attachment_id, for_agent=False))


@bp.get("/o/<org_slug>/tickets/<ticket_id>/attachments/<attachment_id>/preview")
@org_required("tickets.create")
@talisman(content_security_policy=PREVIEW_CSP)
def preview(org_slug: str, ticket_id: str, attachment_id: str):
    return _preview(service.attachment_of(_customer_ticket(ticket_id), attachment_id, for_agent=False))


# ================================================================ agents

QUEUE_KEYS = ("status", "priority", "category", "org", "assignee", "sla", "q", "sort")


def _queue_filters() -> service.QueueFilters:
    args = {k: request.args.get(k, "") for k in (*QUEUE_KEYS, "after")}
    if not args["sort"]:
        args["sort"] = "activity"
    return service.QueueFilters(**args)


def _queue_context(full: bool) -> dict:
    """The queue's rows; with `full`, also what only the whole page shows (filters' choices, bulk form, saved views)."""
    filters = _queue_filters()
    tickets, next_cursor = service.queue(filters, _me())
    kept = {k: getattr(filters, k) for k in QUEUE_KEYS if getattr(filters, k)}
    next_url = f"{url_for('support.queue')}?{urlencode({**kept, 'after': next_cursor})}" if next_cursor else None
    context = {"tickets": tickets, "filters": filters, "next_url": next_url, "query_string": urlencode(kept), "first_page": not filters.after,
               # built once, not once per row: url_for is a tenth of the rows' rendering time
               "ticket_url_prefix": url_for("support.agent_show", ticket_id="-").removesuffix("-")}
    if full:
        context.update(statuses=STATUSES, priorities=PRIORITIES, categories=CATEGORIES, sla_states=SLA_STATES, agents=service.agents(),
                       views=service.saved_views(_me()), available=service.is_available(_me()))
    return context


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
    return render_template("support/notifications.html", result=service.agent_inbox(_me(), page=page, per_page=per_page))


@bp.post("/support/queue/bulk")
@platform_required("platform.support")
def bulk():
    ids = request.form.getlist("ticket")
    changed, problems = service.bulk_update(ids, _me(), status=request.form.get("status") or None,
                                            assignee_id=request.form.get("assignee_id") if request.form.get("assignee_id") else None)
    flash(f"Updated {changed} ticket(s)." + (" " + " ".join(problems) if problems else ""), "success" if not problems else "warning")
    return _after_change(url_for("support.queue") + ("?" + request.form["query"] if request.form.get("query") else ""))


@bp.post("/support/availability")
@platform_required("platform.support")
def availability():
    service.set_available(_me(), request.form.get("available") == "1")
    return _after_change(url_for("support.queue"))


@bp.post("/support/views")
@platform_required("platform.support")
def save_view():
    view = service.save_view(_me(), request.form.get("name", ""), request.form.get("query", ""))
    return _after_change(url_for("support.queue") + ("?" + view.query if view.query else ""))


@bp.post("/support/views/<view_id>/delete")
@platform_required("platform.support")
def delete_view(view_id: str):
    service.delete_view(_me(), view_id)
    return _after_change(url_for("support.queue"))


def _agent_context(ticket: Ticket, **extra) -> dict:
    return {"org": ticket.org, "ticket": ticket, "comments": service.thread(ticket, for_agent=True),
            "attachments": service.attachments(ticket, for_agent=True), "form": extra.pop("form", None) or ReplyForm(),
            "agent_view": True, "agents": service.agents(), "statuses": STATUSES, "priorities": PRIORITIES, "categories": CATEGORIES,
            "canned": service.canned_replies(), "sla": service.sla_status(ticket), **extra}


@bp.get("/support/tickets/<ticket_id>")
@platform_required("platform.support")
def agent_show(ticket_id: str):
    ticket = service.ticket_for_agent(ticket_id)
    return render_page("support/agent_show.html", "support/_thread.html", **_agent_context(ticket))


@bp.get("/support/tickets/<ticket_id>/thread")
@platform_required("platform.support")
def agent_thread(ticket_id: str):
    return render_template("support/_thread.html", **_agent_context(service.ticket_for_agent(ticket_id)))


@bp.post("/support/tickets/<ticket_id>/comments")
@platform_required("platform.support")
def agent_reply(ticket_id: str):
    ticket = service.ticket_for_agent(ticket_id)
    form = ReplyForm()
    body = form.body.data or ""
    if request.form.get("canned_id"):
        body = (service.render_canned(request.form["canned_id"], ticket, _me()) + "\n\n" + body).strip()
    try:
        service.add_comment(ticket, _me(), body, as_agent=True, internal=request.form.get("internal") == "1", files=_files())
    except ServiceError as exc:
        apply_errors(form, exc)
        return render_template("support/agent_show.html", **_agent_context(ticket, form=form)), exc.status
    return _after_change(url_for("support.agent_show", ticket_id=ticket_id))


@bp.post("/support/tickets/<ticket_id>/update")
@platform_required("platform.support")
def agent_update(ticket_id: str):
    ticket = service.ticket_for_agent(ticket_id)
    form = request.form
    service.update_ticket(ticket, _me(), as_agent=True, status=form.get("status") or None, priority=form.get("priority") or None,
                          category=form.get("category") or None, assignee_id=form.get("assignee_id") if "assignee_id" in form else None)
    return _after_change(url_for("support.agent_show", ticket_id=ticket_id))


@bp.get("/support/tickets/<ticket_id>/attachments/<attachment_id>")
@platform_required("platform.support")
def agent_download(ticket_id: str, attachment_id: str):
    return _serve(service.attachment_of(service.ticket_for_agent(ticket_id), attachment_id, for_agent=True))


@bp.get("/support/tickets/<ticket_id>/attachments/<attachment_id>/preview")
@platform_required("platform.support")
@talisman(content_security_policy=PREVIEW_CSP)
def agent_preview(ticket_id: str, attachment_id: str):
    return _preview(service.attachment_of(service.ticket_for_agent(ticket_id), attachment_id, for_agent=True))


@bp.get("/support/canned")
@platform_required("platform.support")
def canned():
    return render_template("support/canned.html", replies=service.canned_replies())


@bp.post("/support/canned")
@platform_required("platform.support")
def create_canned():
    service.create_canned(request.form.get("title", ""), request.form.get("body", ""))
    return _after_change(url_for("support.canned"))


@bp.get("/support/report")
@platform_required("platform.support")
def report():
    from datetime import UTC, datetime, timedelta

    def day(name: str, default: datetime) -> datetime:
        try:
            return datetime.fromisoformat(request.args[name]).replace(tzinfo=UTC)
        except (KeyError, ValueError):
            return default

    # "To" is the last day counted: the period runs up to the midnight after it.
    last = day("end", datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0))
    start = day("start", last - timedelta(days=29))
    return render_template("support/report.html", rows=service.sla_report(start, last + timedelta(days=1)), start=start, end=last)


@bp.route("/support/orgs/<org_id>/sla", methods=["GET", "POST"])
@platform_required("platform.support")
def org_sla(org_id: str):
    """An organization's business hours (time zone, days, hours, holidays) and SLA targets per priority."""
    org = service.org_or_404(org_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        try:
            service.set_calendar(org, timezone=form.get("timezone", "UTC").strip(), work_days=",".join(form.getlist("work_days")),
                                 start_time=form.get("start_time", ""), end_time=form.get("end_time", ""),
                                 holidays=[h.strip() for h in form.get("holidays", "").split() if h.strip()])
            for p in PRIORITIES:
                service.set_policy(org, p, int(form.get(f"{p}_first") or 0), int(form.get(f"{p}_resolution") or 0))
        except ValueError:
            errors["calendar"] = "Targets are whole numbers of minutes."
        except ServiceError as exc:
            errors.update(exc.fields or {"calendar": exc.message})
        if not errors:
            flash(f"Saved the SLA settings of {org.name}.", "success")
            return _after_change(url_for("support.org_sla", org_id=org_id))
    return render_template("support/org_sla.html", org=org, cal=service.calendar_row(org), policies=service.policies_for(org),
                           priorities=PRIORITIES, errors=errors), (422 if errors else 200)
