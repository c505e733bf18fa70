"""The in-app inbox: a member's notifications in an org, read and archived states, the unread count."""

from __future__ import annotations

from sqlalchemy import bindparam, func, update

from portal.accounts.models import User
from portal.errors import NotFound
from portal.extensions import db
from portal.models import utcnow
from portal.notifications.catalog import OBJECT_KEYS
from portal.notifications.models import Delivery, Notification
from portal.orgs.models import Organization
from portal.pagination import Page, paginate
from portal.roles import role_allows
from portal.tenancy import get_scoped_or_404, scoped, scoped_by_org_id, unscoped


def _in_inbox_of(user_id) -> tuple:
    """A notification addressed to user_id (an id, or a bound parameter) that reached the inbox."""
    return Notification.user_id == user_id, Notification.in_inbox.is_(True)


def _mine(org: Organization, user: User):
    """The user's notifications in org that reached the inbox."""
    return scoped(Notification, org).where(*_in_inbox_of(user.id))


def inbox(org: Organization, user: User, *, unread_only: bool = False, event: str | None = None, archived: bool = False, page: int = 1, per_page: int = 20) -> Page:
    """The user's in-app notifications in org, newest first."""
    query = _mine(org, user).where(Notification.archived_at.is_not(None) if archived else Notification.archived_at.is_(None))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if event:
        query = query.where(Notification.event == event)
    return paginate(query.order_by(Notification.created_at.desc(), Notification.id.desc()), page, per_page)


def staff_inbox(user: User, *, event_prefix: str = "", page: int = 1, per_page: int = 20) -> Page:
    """The user's in-app notifications in every org, newest first: platform staff (support agents) get events
    from the orgs they serve without being members, so the org inbox can't show them."""
    query = unscoped(Notification, reason="platform staff are told about the orgs they serve, being members of none").where(
        Notification.user_id == user.id, Notification.in_inbox.is_(True), Notification.archived_at.is_(None)
    )
    if event_prefix:
        query = query.where(Notification.event.startswith(event_prefix, autoescape=True))
    return paginate(query.order_by(Notification.created_at.desc(), Notification.id.desc()), page, per_page)


def latest(org: Organization, user: User, limit: int = 5) -> list[Notification]:
    """The user's newest unarchived notifications in org, read or not: the bell's preview."""
    query = _mine(org, user).where(Notification.archived_at.is_(None))
    return list(db.session.scalars(query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


# The nav badge's count, on every page: built once (see tenancy.scoped_by_org_id for why).
_UNREAD_COUNT = scoped_by_org_id(Notification).with_only_columns(func.count(Notification.id)).where(
    *_in_inbox_of(bindparam("user_id")), Notification.read_at.is_(None), Notification.archived_at.is_(None))


def unread_count(org: Organization, user: User) -> int:
    """Unread, unarchived in-app notifications: the number on the nav badge."""
    return db.session.scalar(_UNREAD_COUNT, {"org_id": org.id, "user_id": user.id}) or 0


def own_notification(org: Organization, user: User, public_id: str) -> Notification:
    """One of the user's notifications; anyone else's is NotFound."""
    note = get_scoped_or_404(Notification, org, public_id)
    if note.user_id != user.id:
        raise NotFound()
    return note


def mark_read(org: Organization, user: User, public_id: str, read: bool = True) -> Notification:
    """Mark one of the user's notifications read (or unread again, with read=False)."""
    note = own_notification(org, user, public_id)
    note.read_at = (note.read_at or utcnow()) if read else None
    db.session.flush()
    return note


def resolve_for(org: Organization, event: str, object_id: str) -> int:
    """Mark read, for every recipient, the org's unread `event` notifications about one object (an approval
    request once the run is decided or cancelled: the action item is done, whoever did it); returns how many."""
    key = OBJECT_KEYS[event]  # KeyError: an event about no object has nothing to resolve (the caller's mistake)
    unread = scoped(Notification, org).where(
        Notification.event == event, Notification.read_at.is_(None), Notification.data[key].as_string() == object_id
    )
    result = db.session.execute(update(Notification).where(unread.whereclause).values(read_at=utcnow()),
                                execution_options={"synchronize_session": False})
    return result.rowcount


def mark_read_about(org: Organization, user: User, key: str, object_id: str) -> int:
    """Mark read the user's own unread notifications in org about one object (key is its id's name in the data,
    e.g. "ticket_id": opening the ticket's page reads what it says about it); returns how many."""
    events = sorted(event for event, object_key in OBJECT_KEYS.items() if object_key == key)
    if not events or not object_id:
        return 0
    unread = scoped(Notification, org).where(
        Notification.user_id == user.id, Notification.event.in_(events), Notification.read_at.is_(None),
        Notification.data[key].as_string() == object_id,
    )
    result = db.session.execute(update(Notification).where(unread.whereclause).values(read_at=utcnow()),
                                execution_options={"synchronize_session": False})
    return result.rowcount


def mark_all_read(org: Organization, user: User) -> int:
    """Mark every unread notification of the user in org as read; returns how many."""
    # One UPDATE with the conditions tenancy.scoped() puts on a SELECT: the org's rows only.
    unread = scoped(Notification, org).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    result = db.session.execute(update(Notification).where(unread.whereclause).values(read_at=utcnow()))
    return result.rowcount


def archive(org: Organization, user: User, public_id: str) -> Notification:
    """Move one of the user's notifications out of the inbox (and mark it read)."""
    note = own_notification(org, user, public_id)
    note.archived_at = utcnow()
    note.read_at = note.read_at or utcnow()
    db.session.flush()
    return note


def notification_deliveries(org: Organization, user: User, role: str | None, public_id: str) -> list[Delivery]:
    """The deliveries of a notification: recipients see their own; those who send notifications, any in org."""
    if role_allows(role, "notifications.manage"):
        note = get_scoped_or_404(Notification, org, public_id)
    else:
        note = own_notification(org, user, public_id)
    return list(note.deliveries)
