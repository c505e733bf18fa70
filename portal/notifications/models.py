"""Notifications, their per-channel deliveries, preferences, template overrides, phone verification."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.extensions import db
from portal.models import OrgScopedMixin, PublicIdMixin, TimestampMixin, UTCDateTime
from portal.orgs.models import Organization


class Notification(PublicIdMixin, OrgScopedMixin, TimestampMixin, db.Model):
    """One message to one recipient; the in-app inbox shows the ones with in_app delivered."""

    public_id_prefix = "ntf"
    __table_args__ = (Index("ix_notification_inbox", "user_id", "org_id", "read_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Null for a recipient who is only an email address (an invitee without an account).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(254))
    event: Mapped[str] = mapped_column(String(60), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    data: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    in_inbox: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User | None] = relationship()
    org: Mapped[Organization] = relationship()
    deliveries: Mapped[list[Delivery]] = relationship(back_populates="notification", order_by="Delivery.id")


# queued → sending → sent → delivered | failed; skipped when a preference or a missing address stops it
DELIVERY_STATUSES = ("queued", "sending", "sent", "delivered", "failed", "skipped")


class Delivery(PublicIdMixin, OrgScopedMixin, TimestampMixin, db.Model):
    """One channel's attempt to deliver a notification: committed before its job is enqueued."""

    public_id_prefix = "dlv"
    __table_args__ = (Index("ix_delivery_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id", ondelete="CASCADE"), index=True, nullable=False)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    to_address: Mapped[str] = mapped_column(String(254), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="queued")  # one of DELIVERY_STATUSES
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    notification: Mapped[Notification] = relationship(back_populates="deliveries")


class NotificationSetting(OrgScopedMixin, db.Model):
    """An on/off choice for event × channel: user_id null is the organization's default."""

    __table_args__ = (UniqueConstraint("org_id", "user_id", "event", "channel", name="uq_notification_setting"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(60), nullable=False)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)


class NotificationTemplate(OrgScopedMixin, TimestampMixin, db.Model):
    """An organization's override of an event's subject and body for one channel."""

    __table_args__ = (UniqueConstraint("org_id", "event", "channel", name="uq_notification_template"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event: Mapped[str] = mapped_column(String(60), nullable=False)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    body: Mapped[str] = mapped_column(Text, nullable=False)


class NotificationProfile(TimestampMixin, db.Model):
    """Per-user contact details and quiet hours (a person's phone is theirs across organizations)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True, nullable=False)
    phone: Mapped[str | None] = mapped_column(String(20))
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pending_phone: Mapped[str | None] = mapped_column(String(20))
    code_hash: Mapped[str | None] = mapped_column(String(128))
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "22:00" in the user's time zone
    quiet_end: Mapped[str | None] = mapped_column(String(5))
