"""Support tickets in the JSON API: customers see their organization's tickets, agents every organization's."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import g, jsonify, request, url_for
from flask_login import current_user

from portal.api import bp
from portal.api.helpers import parse_body, parse_query
from portal.api.idempotency import idempotent
from portal.api.openapi import route
from portal.errors import ServiceError, ValidationFailed
from portal.support import schemas, service
from portal.support.models import Ticket
from portal.tenancy import current_membership, current_org, org_required


def support_api(permission: str = "tickets.create"):
    """Platform support staff (signed in, no org-bound API key) act across organizations; everyone else
    is scoped to one organization by tenancy.org_required (a ticket of another org is a 404)."""
    return org_required(permission, platform="platform.support")


def _agent() -> bool:
    return bool(g.get("platform_staff"))


def _me():
    return current_user._get_current_object()


def _ticket(ticket_id: str) -> Ticket:
    if _agent():
        return service.ticket_for_agent(ticket_id)
    return service.ticket_for_member(current_org, _me(), current_membership, ticket_id)


def _out(t: Ticket) -> dict:
    return schemas.TicketOut(
        id=t.public_id, org=t.org.slug, subject=t.subject, description=t.body, category=t.category, priority=t.priority, status=t.status,
        sla_state=t.sla_state, requester_id=t.requester.public_id if t.requester else None, assignee_id=t.assignee.public_id if t.assignee else None,
        first_response_due_at=t.first_response_due_at, resolution_due_at=t.resolution_due_at, rating=t.rating, created_at=t.created_at,
        last_activity_at=t.last_activity_at,
    ).model_dump(mode="json")


def _comment(c) -> dict:
    return schemas.CommentOut(id=c.public_id, body=c.body, internal=c.internal, by_agent=c.by_agent,
                              author_name=c.author.display_name if c.author else "", created_at=c.created_at).model_dump(mode="json")


def _attachment(a) -> dict:
    return schemas.AttachmentOut(id=a.public_id, filename=a.filename, content_type=a.content_type, size=a.size, created_at=a.created_at).model_dump(mode="json")


def _detail(t: Ticket) -> dict:
    agent = _agent()
    return {**_out(t), "comments": [_comment(c) for c in service.thread(t, for_agent=agent)],
            "attachments": [_attachment(a) for a in service.attachments(t, for_agent=agent)]}


@route(bp, "/tickets", "POST", summary="File a support ticket", tag="support", body=schemas.TicketIn, response=schemas.TicketDetailOut, status=201,
       errors=(400, 401, 403, 404, 409), idempotent=True)
@org_required("tickets.create")
@idempotent
def create_ticket():
    data = parse_body(schemas.TicketIn)
    ticket = service.create_ticket(current_org, _me(), subject=data.subject, body=data.description, category=data.category, priority=data.priority)
    g.support_agent = False
    return jsonify(_detail(ticket)), 201, {"Location": url_for("api.get_ticket", ticket_id=ticket.public_id)}


@route(bp, "/tickets", "GET", summary="List tickets (customers: their org's; agents: every org's)", tag="support",
       response=schemas.TicketListOut, query=schemas.TicketQuery, errors=(400, 401, 403, 404))
@support_api("tickets.create")
def list_tickets():
    query = parse_query(schemas.TicketQuery)
    if query.after and not service.valid_cursor(query.after, query.sort):
        raise ValidationFailed({"after": "Not a cursor from this list's `next` link (with the same sort): start again without it."})
    filters = service.QueueFilters(status=query.status, priority=query.priority, category=query.category, sla=query.sla,
                                   assignee=query.assignee, q=query.q, sort=query.sort, after=query.after, org=query.org)
    if _agent():
        tickets, cursor = service.queue(filters, _me(), per_page=query.per_page)
    else:
        tickets, cursor = service.customer_queue(current_org, _me(), current_membership, filters, per_page=query.per_page)
    next_url = None
    if cursor:
        args = {k: v for k, v in request.args.items() if k != "after"}
        next_url = url_for("api.list_tickets") + "?" + urlencode({**args, "after": cursor})
    return jsonify({"data": [_out(t) for t in service.with_requesters(tickets)], "next": next_url})


@route(bp, "/tickets/<ticket_id>", "GET", summary="One ticket with its thread (internal notes for agents only)", tag="support",
       response=schemas.TicketDetailOut)
@support_api("tickets.create")
def get_ticket(ticket_id: str):
    return jsonify(_detail(_ticket(ticket_id)))


@route(bp, "/tickets/<ticket_id>", "PUT", summary="Change status, priority, category or assignee (by permission)", tag="support",
       body=schemas.TicketUpdate, response=schemas.TicketDetailOut, errors=(401, 403, 404, 409))
@support_api("tickets.create")
def update_ticket(ticket_id: str):
    ticket = _ticket(ticket_id)
    data = parse_body(schemas.TicketUpdate)
    service.update_ticket(ticket, _me(), as_agent=_agent(), status=data.status, priority=data.priority, category=data.category,
                          assignee_id=data.assignee_id)
    return jsonify(_detail(ticket))


@route(bp, "/tickets/<ticket_id>/comments", "POST", summary="Reply, or (agents) add an internal note", tag="support",
       body=schemas.CommentIn, response=schemas.CommentOut, status=201)
@support_api("tickets.create")
def create_comment(ticket_id: str):
    ticket = _ticket(ticket_id)
    data = parse_body(schemas.CommentIn)
    comment = service.add_comment(ticket, _me(), data.body, as_agent=_agent(), internal=data.internal)
    return jsonify(_comment(comment)), 201


@route(bp, "/tickets/<ticket_id>/attachments", "POST", summary="Attach a file (multipart/form-data, field `file`)", tag="support",
       response=schemas.AttachmentOut, status=201, multipart={"file": "The file (10 MB at most; type checked on its bytes)"})
@support_api("tickets.create")
def create_attachment(ticket_id: str):
    ticket = _ticket(ticket_id)
    upload = request.files.get("file")
    if upload is None:
        raise ServiceError("Send the file as multipart/form-data in the field `file`.", code="file_missing", fields={"file": "Required."}, status=422)
    att = service.add_attachment(ticket, _me(), upload.filename or "", upload.read())
    return jsonify(_attachment(att)), 201
