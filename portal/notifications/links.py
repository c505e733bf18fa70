"""Where an in-app notification leads: the one map from an event (and its data's object id) to a page.

The URL is built here from ids, never taken from the notification's data: the API lets a member send any
event with data of their choosing, and a link that trusted a URL in it would be an open redirect.
"""

from __future__ import annotations

from flask import url_for

from portal.notifications.catalog import object_id
from portal.notifications.models import Notification

# event (or event family, up to its dot) -> (endpoint of the object's page, its URL argument, the list page when
# data lacks the id: a notification sent through the API with partial data, or one written before the id was added)
_OBJECT_PAGES: dict[str, tuple[str, str, str]] = {
    "ticket": ("support.show", "ticket_id", "support.index"),
    "workflow": ("workflows.run", "run_id", "workflows.index"),
    "key.expiring": ("keys.show", "key_id", "keys.index"),
}
# Events about the org itself, or about an object shown on a list page (an invitation sits in the members page).
_PAGES: dict[str, str] = {
    "member.invited": "orgs.members",
    "usage.threshold_reached": "billing.index",
    "invoice.payment_failed": "billing.index",
}


def link_for(note: Notification, org_slug: str) -> str:
    """The path of the page a notification is about; the inbox, at the notification itself, when there is none."""
    family = note.event.split(".", 1)[0]
    page = _OBJECT_PAGES.get(note.event) or _OBJECT_PAGES.get(family)
    if page is not None:
        endpoint, argument, fallback = page
        public_id = object_id(note.event, note.data or {})
        if public_id:
            return url_for(endpoint, org_slug=org_slug, **{argument: public_id})
        return url_for(fallback, org_slug=org_slug)
    if note.event in _PAGES:
        return url_for(_PAGES[note.event], org_slug=org_slug)
    return url_for("notifications.inbox", org_slug=org_slug, _anchor=f"n-{note.public_id}")

