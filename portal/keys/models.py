"""API keys, their secrets (several while a rotation's grace lasts), daily usage and the org's key policy."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.extensions import db
from portal.models import OrgScopedMixin, PublicIdMixin, TimestampMixin, UTCDateTime, utcnow

SCOPES = ("read", "write", "admin")
SCOPE_LABELS = {
    "read": "read: GET endpoints",
    "write": "write: create and update",
    "admin": "admin: keys, members, billing, org settings",
}
OUTCOMES = ("2xx", "4xx", "402", "429", "5xx")  # 402: over the plan's API calls; 429: over the rate limit


class ApiKey(PublicIdMixin, OrgScopedMixin, TimestampMixin, db.Model):
    public_id_prefix = "key"
    # One key per create form: a second post of the same form (a double click, Reload) finds this one, even while
    # the first is still being written (the unique index makes the second insert wait for it, then fail).
    __table_args__ = (UniqueConstraint("org_id", "form_token", name="uq_api_key_org_form_token"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    scopes: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    rate_limit: Mapped[int] = mapped_column(Integer, nullable=False)  # requests per minute
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # The current secret's display parts; older secrets (in a rotation's grace) keep their own.
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    last4: Mapped[str] = mapped_column(String(4), nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_ip: Mapped[str | None] = mapped_column(String(64))
    # The smallest threshold (days before expiry) a key.expiring notice went out for; None: none yet.
    expiry_notice_days: Mapped[int | None] = mapped_column(Integer)
    form_token: Mapped[str | None] = mapped_column(String(64))  # the create form's one-time token; None for the API and CLI
    # What a cached key holds (portal.keys.invalidation): a change to these drops it in every process.
    # Not the bookkeeping (last use, reminders sent) nor the display parts, which auth never reads.
    KEY_AUTH_FIELDS = ("org_id", "user_id", "scopes", "rate_limit", "expires_at", "revoked_at")

    owner: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])
    secrets: Mapped[list[ApiKeySecret]] = relationship(back_populates="key", cascade="all, delete-orphan", order_by="ApiKeySecret.id")

    def status_at(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    @property
    def status(self) -> str:
        """active, expired or revoked."""
        return self.status_at(utcnow())

    @property
    def masked(self) -> str:
        from portal.keys.tokens import masked

        return masked(self.prefix, self.last4)

    def __repr__(self) -> str:
        return f"<ApiKey {self.public_id} {self.prefix}>"


class ApiKeySecret(db.Model):
    """One secret of a key, stored as its SHA-256. A rotation adds one and gives the older ones a grace end."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"), index=True, nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    last4: Mapped[str] = mapped_column(String(4), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # Set when a rotation replaced this secret: it works until then (the grace period).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    KEY_AUTH_FIELDS = ("key_id", "secret_hash", "expires_at")  # see ApiKey.KEY_AUTH_FIELDS

    key: Mapped[ApiKey] = relationship(back_populates="secrets")


class ApiKeyUsage(OrgScopedMixin, db.Model):
    """Requests of one key on one UTC day to one endpoint with one outcome (2xx, 4xx, 402, 429, 5xx)."""

    __table_args__ = (UniqueConstraint("key_id", "day", "endpoint", "outcome", name="uq_api_key_usage_bucket"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    endpoint: Mapped[str] = mapped_column(String(200), nullable=False)
    outcome: Mapped[str] = mapped_column(String(8), nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class ApiKeyPolicy(OrgScopedMixin, TimestampMixin, db.Model):
    """An organization's rules for keys: a maximum lifetime, and the scopes plain users may create."""

    __table_args__ = (UniqueConstraint("org_id", name="uq_api_key_policy_org"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    max_lifetime_days: Mapped[int | None] = mapped_column(Integer)
    user_scopes: Mapped[list] = mapped_column(JSON, nullable=False, default=lambda: ["read", "write"])
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
