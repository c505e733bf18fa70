"""Billing's tables: each org's account (plan and subscription), the usage ledger and its counters, and the
provider's webhook events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models import OrgScopedMixin, PublicIdMixin, TimestampMixin, UTCDateTime, utcnow
from portal.orgs.models import Organization

# Subscription statuses as Stripe names them; "active" and "trialing" give the plan's limits.
STATUSES = ("active", "trialing", "past_due", "unpaid", "incomplete", "incomplete_expired", "canceled")


class BillingAccount(PublicIdMixin, OrgScopedMixin, TimestampMixin, db.Model):
    """One org's plan and subscription: assigned by a super admin, or mirrored from the provider's webhooks."""

    __tablename__ = "billing_account"
    public_id_prefix = "bil"
    __table_args__ = (UniqueConstraint("org_id", name="uq_billing_account_org"),)
    # What the plan in force depends on: API keys cache their plan's rate-limit ceiling (portal.keys.invalidation).
    KEY_AUTH_FIELDS = ("org_id", "plan", "status", "trial_end", "payment_failed_at", "stripe_subscription_id")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan: Mapped[str] = mapped_column(String(20), nullable=False, default="free")
    interval: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(24), nullable=False, default="active")
    current_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trial_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trial_used: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    # Ordering of the provider's events (epoch seconds): the subscription they are about was created at
    # subscription_created, and the newest event applied to it was sent at state_at. Older ones are stale.
    stripe_subscription_created: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    stripe_state_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # A failed payment starts the grace period; a later payment clears it. payment_state_at orders those events.
    payment_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_state_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    org: Mapped[Organization] = relationship()


class UsageCounter(OrgScopedMixin, db.Model):
    """How much of a metered metric an org used in one period: the row quotas are checked on atomically."""

    __tablename__ = "billing_usage_counter"
    __table_args__ = (UniqueConstraint("org_id", "metric", "period", name="uq_usage_counter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), nullable=False)
    period: Mapped[str] = mapped_column(String(7), nullable=False)  # YYYY-MM (UTC)
    used: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # The highest threshold (percent) already announced this period: claimed with a conditional UPDATE.
    notified_percent: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class UsageRecord(OrgScopedMixin, db.Model):
    """The usage ledger: one row per recorded quantity; the same idempotency key is recorded once."""

    __tablename__ = "billing_usage_record"
    __table_args__ = (
        UniqueConstraint("org_id", "idempotency_key", name="uq_usage_record_key"),
        Index("ix_usage_record_org_metric_time", "org_id", "metric", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), nullable=False)
    quantity: Mapped[int] = mapped_column(BigInteger, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    period: Mapped[str] = mapped_column(String(7), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class WebhookEvent(db.Model):
    """A provider event, stored once by its id when received and processed once on the job runner.

    Not an org table: an event names a provider customer, which the processing job maps to an org."""

    __tablename__ = "billing_webhook_event"
    __table_args__ = (Index("ix_billing_webhook_event_pending", "processed_at", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_event_id: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    created: Mapped[int] = mapped_column(BigInteger, nullable=False)
    data: Mapped[dict] = mapped_column(JSON, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(60))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
