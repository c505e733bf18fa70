"""Unsubscribe links: a signed token in every email opens that member's preferences without a login."""

from __future__ import annotations

from sqlalchemy import select

from portal.accounts.models import User
from portal.errors import ServiceError
from portal.extensions import db
from portal.notifications.catalog import EVENTS
from portal.notifications.services.preferences import save_preferences
from portal.orgs import members
from portal.orgs.models import Organization
from portal.tokens import make_token, read_token


def unsubscribe_token(org: Organization, user: User, event_name: str) -> str:
    """The signed token of the link in an email that opens this user's preferences without a login."""
    return make_token("unsubscribe", {"o": org.public_id, "u": user.public_id, "e": event_name})


def from_unsubscribe_token(token: str) -> tuple[Organization, User, str]:
    """The (org, user, event) an unsubscribe link stands for; a ServiceError when it is not valid."""
    data = read_token("unsubscribe", token)
    org = db.session.scalar(select(Organization).filter_by(public_id=data["o"]))
    user = db.session.scalar(select(User).filter_by(public_id=data["u"]))
    # Someone who left the org keeps old emails: their link must not open the org's preferences.
    if org is None or user is None or not members.is_member(org, user):
        raise ServiceError("This link is not valid any more.", code="token_invalid", status=400)
    return org, user, data["e"]


def unsubscribe(token: str) -> tuple[Organization, User, str]:
    """One-click unsubscribe: turn email off for the link's event (critical events stay on)."""
    org, user, event_name = from_unsubscribe_token(token)
    if event_name in EVENTS:
        save_preferences(org, user, {event_name: {"email": False}})
    return org, user, event_name
