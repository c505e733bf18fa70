"""Organizations and their members: create, invite, accept, change role, remove."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import contains_eager

from portal.accounts.models import User
from portal.audit import service as audit
from portal.billing import service as billing
from portal.errors import Conflict, Forbidden, ServiceError, ValidationFailed
from portal.extensions import db
from portal.models import utcnow
from portal.notifications import service as notifications
from portal.orgs import members
from portal.orgs.models import Invitation, Membership, Organization
from portal.pagination import Page, paginate
from portal.roles import ORG_ROLES, ROLE_LABELS
from portal.search import search
from portal.tenancy import get_scoped_or_404, scoped, scoped_by_org_id, unscoped
from portal.text import normalize_email
from portal.tokens import external_url, make_token, read_token

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
RESERVED_SLUGS = frozenset({"admin", "api", "static", "new", "support", "health", "login", "signup", "www", "o"})
MEMBER_SORTS = {"name": User.name, "email": User.email, "role": Membership.role, "joined": Membership.created_at}


def slug_problem(slug: str) -> str | None:
    """Why a slug cannot be used, or None."""
    if not SLUG.match(slug or ""):
        return "Use 3 to 40 lowercase letters, digits and dashes, starting and ending with a letter or digit."
    if slug in RESERVED_SLUGS:
        return "This address is reserved. Pick another."
    if org_by_slug(slug) is not None:
        return "This address is taken. Pick another."
    return None


def org_by_slug(slug: str) -> Organization | None:
    """The organization at this address, or None."""
    return db.session.scalar(select(Organization).where(Organization.slug == slug))


def org_problems(name: str, slug: str) -> dict[str, str]:
    """Why an organization with this name and address would be refused, by field (empty when it would not be)."""
    errors = {}
    if problem := slug_problem(slug):
        errors["slug"] = problem
    if not name.strip() or len(name.strip()) > 120:
        errors["name"] = "Use 1 to 120 characters."
    return errors


def create_org(name: str, slug: str, owner: User) -> Organization:
    """Create an organization with `owner` as its org_admin."""
    if errors := org_problems(name, slug):
        raise ValidationFailed(errors)
    org = Organization(name=name.strip(), slug=slug)
    db.session.add(org)
    db.session.flush()
    db.session.add(Membership(org_id=org.id, user_id=owner.id, role="org_admin"))
    audit.record("org.created", org=org, actor=owner, target=slug)
    return org


def add_member(org: Organization, user: User, role: str) -> Membership:
    """Make user a member of org with role; someone who is a member already keeps the role they have."""
    _check_role(role)
    membership = db.session.scalar(scoped(Membership, org).where(Membership.user_id == user.id))
    if membership is None:
        membership = Membership(org_id=org.id, user_id=user.id, role=role)
        db.session.add(membership)
        db.session.flush()
    return membership


# The org switcher of every page outside an org (the agents' desk, the profile): built once (see tenancy.scoped_by_org_id).
_MEMBERSHIPS_OF = (
    unscoped(Membership, reason="a user's own memberships, one in each of their organizations")
    .join(Membership.org)
    .options(contains_eager(Membership.org))
    .where(Membership.user_id == bindparam("user_id"))
    .order_by(Organization.name)
)


def orgs_of(user: User) -> list[Membership]:
    """The user's memberships, by organization name: what the org switcher lists."""
    return list(db.session.scalars(_MEMBERSHIPS_OF, {"user_id": user.id}))


def membership_of(org: Organization, user: User) -> Membership | None:
    """The user's membership in org, or None when they are not a member."""
    return db.session.scalar(scoped(Membership, org).where(Membership.user_id == user.id))


def list_members(org: Organization, *, q: str = "", role: str = "", sort: str = "name", desc: bool = False, page: int = 1, per_page: int = 25) -> Page:
    """One page of members, filtered by a search over name and email and by role, sorted by a known column."""
    query = scoped(Membership, org).join(User, Membership.user_id == User.id).options(contains_eager(Membership.user))
    query = search(query, q, User.name, User.email)
    if role in ORG_ROLES:
        query = query.where(Membership.role == role)
    column = MEMBER_SORTS.get(sort, User.name)
    query = query.order_by(column.desc() if desc else column.asc(), Membership.id)
    return paginate(query, page, per_page)


def get_membership(org: Organization, membership_id: str) -> Membership:
    """One membership of org by public id, or NotFound."""
    return get_scoped_or_404(Membership, org, membership_id)


def count_members(org: Organization) -> int:
    """How many members org has."""
    return db.session.scalar(select(func.count()).select_from(scoped(Membership, org).subquery())) or 0


@dataclass(frozen=True)
class HeadCount:
    """An org's members and its invitations still open, counted together."""

    members: int
    invited: int

    @property
    def seats(self) -> int:
        """The plan's seats these hold: an open invitation keeps a seat for its invitee."""
        return self.members + self.invited


def _open_invitation(now) -> tuple:
    """An invitation still waiting for its answer at `now`."""
    return Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > now


# The home page's counts, and every invitation's seat check: built once (see tenancy.scoped_by_org_id).
_HEAD_COUNT = select(
    select(func.count()).select_from(scoped_by_org_id(Membership).subquery()).scalar_subquery(),
    select(func.count()).select_from(scoped_by_org_id(Invitation).where(*_open_invitation(bindparam("now"))).subquery()).scalar_subquery(),
)


def head_count(org: Organization) -> HeadCount:
    """org's members and pending invitations in one round trip (the home page shows both, and the seats they make)."""
    row = db.session.execute(_HEAD_COUNT, {"org_id": org.id, "now": utcnow()}).one()
    return HeadCount(int(row[0] or 0), int(row[1] or 0))


def seats_held(org: Organization) -> int:
    """The plan's seats org holds now: its members and the invitations still open (what an invitation is checked against)."""
    return head_count(org).seats


def _pending(org: Organization):
    return scoped(Invitation, org).where(*_open_invitation(utcnow()))


def pending_invitations(org: Organization) -> list[Invitation]:
    """Invitations not yet accepted, withdrawn or expired, newest first."""
    return list(db.session.scalars(_pending(org).order_by(Invitation.created_at.desc())))


def _check_role(role: str) -> None:
    if role not in ORG_ROLES:
        raise ValidationFailed({"role": f"Choose one of: {', '.join(ORG_ROLES)}."})


def invite(org: Organization, email: str, role: str, by: User) -> Invitation:
    """Invite an email address to org with a role; the signed link goes out by email."""
    email = normalize_email(email)
    _check_role(role)
    if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise ValidationFailed({"email": "Enter a valid email address."})
    if members.member_by(org, email) is not None:
        raise Conflict(f"{email} is already a member.", field="email")
    pending_now = pending_invitations(org)
    # The plan's seats: members and the invitations still open (one to this address is replaced, not added).
    billing.check(org, "seats", 1, current=count_members(org) + sum(1 for p in pending_now if p.email != email))
    for pending in pending_now:
        if pending.email == email:
            pending.revoked_at = utcnow()  # a new invitation replaces the old one
    invitation = Invitation(
        org_id=org.id,
        email=email,
        role=role,
        invited_by_id=by.id,
        expires_at=utcnow() + timedelta(seconds=current_app.config["TOKEN_MAX_AGE"]["invite"]),
    )
    db.session.add(invitation)
    db.session.flush()  # the link carries the invitation's public id
    audit.record("member.invited", org=org, actor=by, target=email, data={"role": role})
    link = external_url("orgs.accept_invitation", token=invitation_token(invitation))
    notifications.notify(org, [email], "member.invited", {"inviter_name": by.display_name, "role": ROLE_LABELS.get(role, role), "invite_url": link, "url": link,
                                                    "invitation_id": invitation.public_id})
    return invitation


def invitation_token(invitation: Invitation) -> str:
    """The signed token of an invitation's emailed link."""
    return make_token("invite", {"i": invitation.public_id})


def invitation_from_token(token: str) -> Invitation:
    """The pending invitation a link stands for, or a ServiceError that says why not."""
    data = read_token("invite", token)
    # The link itself names the organization: whoever holds it may see which one invites them.
    query = unscoped(Invitation, reason="an invitation link is opened before its reader belongs to the org")
    invitation = db.session.scalar(query.where(Invitation.public_id == data["i"]))
    if invitation is None or invitation.revoked_at is not None:
        raise ServiceError("This invitation was withdrawn. Ask for a new one.", code="token_invalid")
    if invitation.accepted_at is not None:
        raise ServiceError("This invitation was already accepted.", code="token_used")
    if invitation.expires_at < utcnow():
        raise ServiceError("This invitation has expired. Ask for a new one.", code="token_expired")
    return invitation


def accept_invitation(token: str, user: User) -> Membership:
    """Join the invitation's organization as `user`, whose email must be the invited one."""
    invitation = invitation_from_token(token)
    if user.email != invitation.email:
        raise Forbidden(f"This invitation is for {invitation.email}. Log in with that address to accept it.", code="wrong_account")
    return join_by_invitation(invitation, user)


def join_by_invitation(invitation: Invitation, user: User) -> Membership:
    """Make the invited user a member with the invitation's role (the caller checked the invitation)."""
    invitation.accepted_at = utcnow()
    user.email_verified_at = user.email_verified_at or utcnow()  # the link proves the mailbox
    membership = add_member(invitation.org, user, invitation.role)
    audit.record("member.joined", org=invitation.org, actor=user, target=user.email, data={"role": invitation.role})
    return membership


def revoke_invitation(org: Organization, invitation_id: str, by: User) -> Invitation:
    """Withdraw a pending invitation of org (one already answered stays as it is)."""
    invitation = get_scoped_or_404(Invitation, org, invitation_id)
    if invitation.status == "pending":
        invitation.revoked_at = utcnow()
        audit.record("invitation.revoked", org=org, actor=by, target=invitation.email)
    return invitation


def _admin_count(org: Organization) -> int:
    return db.session.scalar(
        select(func.count()).select_from(scoped(Membership, org).where(Membership.role == "org_admin").subquery())
    )


def _guard_last_admin(org: Organization, membership: Membership, action: str) -> None:
    if membership.role == "org_admin" and _admin_count(org) <= 1:
        raise Conflict(f"You can't {action} the last org admin. Make another member org admin first.", code="last_admin")


def change_role(org: Organization, membership_id: str, role: str, by: User) -> Membership:
    """Give a member another role; the last org_admin keeps theirs."""
    _check_role(role)
    membership = get_scoped_or_404(Membership, org, membership_id)
    if membership.role != role:
        if role != "org_admin":
            _guard_last_admin(org, membership, "demote")
        old = membership.role
        membership.role = role
        audit.record("member.role_changed", org=org, actor=by, target=membership.user.email, data={"from": old, "to": role})
    return membership


def remove_member(org: Organization, membership_id: str, by: User) -> None:
    """Remove a member from org; the last org_admin stays."""
    membership = get_scoped_or_404(Membership, org, membership_id)
    _guard_last_admin(org, membership, "remove")
    audit.record("member.removed", org=org, actor=by, target=membership.user.email, data={"role": membership.role})
    db.session.delete(membership)
    db.session.flush()
