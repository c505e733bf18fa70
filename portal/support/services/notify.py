"""How support tells people about tickets: through the notifications service, inside the change's unit of work."""

from __future__ import annotations

import logging
import re

from portal.accounts.models import User
from portal.extensions import db
from portal.notifications.service import notify
from portal.support.models import Ticket

log = logging.getLogger(__name__)


def tell(ticket: Ticket, people: list[User | None], event: str, **details: str) -> None:
    """Notify people (None and duplicates dropped) of a ticket event; a failure there never undoes the ticket's change.
    Every ticket event names the ticket three ways: its id (for the link), its short number and its subject.

    The notification rows join the caller's unit of work, so a refused or rolled-back change tells nobody. They are
    written in a savepoint: if the notifications service fails, only its own rows are undone, and the error is logged.
    """
    unique = list({p.id: p for p in people if p is not None}.values())
    if not unique:
        return
    data = {"ticket_id": ticket.public_id, "ticket_number": ticket.short_number, "subject": ticket.subject, **details}
    try:
        with db.session.begin_nested():
            notify(ticket.org, unique, event, data)
    except Exception:  # noqa: BLE001 - the ticket's change stands; the log says what was not sent
        log.exception("could not notify %s for %s", event, data.get("ticket_id"))


def excerpt(text: str, limit: int = 300) -> str:
    """A one-line excerpt of text for notifications."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
