"""The audit log: who did what, where, from which address."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.extensions import db
from portal.models import PublicIdMixin, UTCDateTime, utcnow
from portal.orgs.models import Organization


class AuditEvent(PublicIdMixin, db.Model):
    public_id_prefix = "aud"
    __table_args__ = (Index("ix_audit_event_org_created", "org_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Nullable: platform events (a failed login for an unknown email) belong to no organization.
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(60), nullable=False, index=True)
    target: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    ip: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)

    actor: Mapped[User | None] = relationship()
    org: Mapped[Organization | None] = relationship()
