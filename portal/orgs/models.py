"""Organizations, memberships and invitations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.extensions import db
from portal.models import OrgScopedMixin, PublicIdMixin, TimestampMixin, UTCDateTime


class Organization(PublicIdMixin, TimestampMixin, db.Model):
    public_id_prefix = "org"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    is_suspended: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Columns whose change drops the org's cached API keys in every process (portal.keys.invalidation).
    KEY_AUTH_FIELDS = ("is_suspended",)

    def __repr__(self) -> str:
        return f"<Organization {self.slug}>"


class Membership(PublicIdMixin, OrgScopedMixin, TimestampMixin, db.Model):
    public_id_prefix = "mem"
    __table_args__ = (UniqueConstraint("org_id", "user_id", name="uq_membership_org_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True, nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    # A key stops working when its owner's membership goes; these changes drop cached keys at once
    # (portal.keys.invalidation).
    KEY_AUTH_FIELDS = ("org_id", "user_id", "role")

    # Loaded where needed (contains_eager / joinedload): joining both on every membership query cost
    # a join per row on the members page.
    user: Mapped[User] = relationship()
    org: Mapped[Organization] = relationship()


class Invitation(PublicIdMixin, OrgScopedMixin, TimestampMixin, db.Model):
    public_id_prefix = "inv"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    org: Mapped[Organization] = relationship()
    invited_by: Mapped[User | None] = relationship()

    @property
    def status(self) -> str:
        from portal.models import utcnow

        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at < utcnow():
            return "expired"
        return "pending"
