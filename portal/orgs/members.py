"""Who belongs to an organization: the member lookups every other domain asks instead of reading tables.

Its own module, below `orgs.service`, so that domains orgs itself calls (notifications, for invitations)
can ask it too without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func
from sqlalchemy.orm import contains_eager

from portal.accounts.models import User
from portal.extensions import db
from portal.orgs.models import Membership, Organization
from portal.tenancy import scoped


def _with_users(org: Organization):
    return scoped(Membership, org).join(User, Membership.user_id == User.id).options(contains_eager(Membership.user))


def member_by(org: Organization, ref: str) -> Membership | None:
    """The member of org named by a user id (usr_...), a membership id (mem_...) or an email; None if none."""
    ref = (ref or "").strip()
    query = _with_users(org)
    if ref.startswith("usr_"):
        query = query.where(User.public_id == ref)
    elif ref.startswith("mem_"):
        query = query.where(Membership.public_id == ref)
    elif "@" in ref:
        query = query.where(func.lower(User.email) == ref.lower())
    else:
        return None
    return db.session.scalar(query)


def members_by_refs(org: Organization, refs: Iterable[str]) -> tuple[list[User], list[str]]:
    """The users of org that refs name (emails or user ids), each once in the order named, and the refs
    that name no member."""
    wanted = [r.strip() for r in refs]
    emails = {r.lower() for r in wanted if "@" in r}
    ids = {r for r in wanted if "@" not in r}
    found = db.session.scalars(
        _with_users(org).where((func.lower(User.email).in_(emails or [""])) | (User.public_id.in_(ids or [""])))
    ).all()
    by_ref = {}
    for m in found:
        by_ref[m.user.email.lower()] = m.user
        by_ref[m.user.public_id] = m.user
    users, seen, unknown = [], set(), []
    for r in wanted:
        user = by_ref.get(r.lower() if "@" in r else r)
        if user is None:
            unknown.append(r)
        elif user.id not in seen:
            seen.add(user.id)
            users.append(user)
    return users, unknown


def active_members(org: Organization) -> list[Membership]:
    """Members whose account is not suspended (users loaded), by name then email."""
    query = _with_users(org).where(User.is_suspended.is_(False)).order_by(func.lower(User.name), func.lower(User.email), Membership.id)
    return list(db.session.scalars(query))


def member_user_ids(org: Organization, user_ids: Iterable[int]) -> set[int]:
    """Which of these users are members of org."""
    ids = list(user_ids)
    if not ids:
        return set()
    return set(db.session.scalars(scoped(Membership, org).with_only_columns(Membership.user_id).where(Membership.user_id.in_(ids))))


def is_member(org: Organization, user: User) -> bool:
    """True when user belongs to org."""
    return db.session.scalar(scoped(Membership, org).where(Membership.user_id == user.id).limit(1)) is not None


def admins(org: Organization, roles: tuple[str, ...] = ("org_admin",)) -> list[User]:
    """The users of org holding one of these roles (not suspended)."""
    query = _with_users(org).where(Membership.role.in_(roles), User.is_suspended.is_(False)).order_by(User.id)
    return [m.user for m in db.session.scalars(query)]
