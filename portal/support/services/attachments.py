"""Ticket attachments: checked before anything is stored, kept in the storage port, listed and fetched per audience."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.billing import service as billing
from portal.errors import NotFound
from portal.extensions import db
from portal.infra.storage import storage
from portal.models import utcnow
from portal.orgs.models import Organization
from portal.support.attachments import check_upload
from portal.support.models import Ticket, TicketAttachment, TicketComment
from portal.tenancy import scoped


@dataclass(frozen=True)
class Upload:
    """A file that passed the checks: its safe name, sniffed type and bytes."""

    name: str
    mime: str
    data: bytes


# The plan entitlement support files count against (a gauge: the bytes the org holds now).
STORAGE_METRIC = "storage_bytes"


def stored_bytes(org: Organization) -> int:
    """The bytes of every support file org holds: its usage of the attachment-storage entitlement."""
    return int(db.session.scalar(scoped(TicketAttachment, org).with_only_columns(func.coalesce(func.sum(TicketAttachment.size), 0))) or 0)


def check_files(org: Organization, ticket: Ticket | None, files: list[tuple[str, bytes]] | None) -> list[Upload]:
    """Check every (filename, bytes) against the limits (the ticket's files so far included) and the org's
    attachment-storage quota (QuotaExceeded, 402), before any is stored."""
    used = 0
    if ticket is not None and ticket.id is not None:
        used = int(db.session.scalar(
            select(func.coalesce(func.sum(TicketAttachment.size), 0)).where(TicketAttachment.ticket_id == ticket.id)) or 0)
    checked = []
    for filename, data in files or []:
        name, mime = check_upload(filename, data, max_file=current_app.config["SUPPORT_MAX_FILE_BYTES"],
                                  max_ticket=current_app.config["SUPPORT_MAX_TICKET_BYTES"], ticket_total=used)
        used += len(data)
        checked.append(Upload(name, mime, data))
    if checked:
        billing.check(org, STORAGE_METRIC, sum(len(u.data) for u in checked), current=stored_bytes(org))
    return checked


def store(ticket: Ticket, user: User, uploads: list[Upload], *, comment: TicketComment | None = None) -> list[TicketAttachment]:
    """Put checked files in storage and record them on the ticket (internal when the comment is an internal note)."""
    rows = []
    for upload in uploads:
        key = f"support/{ticket.org_id}/{ticket.public_id}/{secrets.token_hex(12)}"
        storage().put(key, upload.data, upload.mime)
        rows.append(TicketAttachment(org_id=ticket.org_id, ticket_id=ticket.id, comment_id=comment.id if comment else None, uploaded_by_id=user.id,
                                     filename=upload.name, content_type=upload.mime, size=len(upload.data), storage_key=key,
                                     internal=bool(comment and comment.internal)))
    db.session.add_all(rows)
    db.session.flush()
    return rows


def add_attachments(ticket: Ticket, user: User, files: list[tuple[str, bytes]]) -> list[TicketAttachment]:
    """Attach (filename, bytes) files to the ticket: all of them are checked before the first is stored."""
    rows = store(ticket, user, check_files(ticket.org, ticket, files))
    ticket.last_activity_at = utcnow()
    return rows


def add_attachment(ticket: Ticket, user: User, filename: str, data: bytes) -> TicketAttachment:
    """Attach one checked file to the ticket."""
    return add_attachments(ticket, user, [(filename, data)])[0]


def attachments(ticket: Ticket, *, for_agent: bool) -> list[TicketAttachment]:
    """The ticket's files; files added to internal notes only for agents."""
    query = scoped(TicketAttachment, ticket.org).where(TicketAttachment.ticket_id == ticket.id)
    if not for_agent:
        query = query.where(TicketAttachment.internal.is_(False))
    return list(db.session.scalars(query.order_by(TicketAttachment.id)))


def attachment_of(ticket: Ticket, public_id: str, *, for_agent: bool) -> TicketAttachment:
    """One of the ticket's files the caller may see, else NotFound."""
    query = scoped(TicketAttachment, ticket.org).where(TicketAttachment.ticket_id == ticket.id, TicketAttachment.public_id == public_id)
    if not for_agent:
        query = query.where(TicketAttachment.internal.is_(False))
    att = db.session.scalar(query)
    if att is None:
        raise NotFound()
    return att


def download_url(att: TicketAttachment) -> str:
    """A short-lived link that downloads the file as an attachment (whatever the storage adapter)."""
    return storage().url(att.storage_key, att.filename, expires=current_app.config["SUPPORT_DOWNLOAD_SECONDS"])


def attachment_bytes(att: TicketAttachment) -> bytes:
    """The stored file's bytes."""
    return storage().get(att.storage_key)
