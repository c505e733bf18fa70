"""User accounts."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models import PublicIdMixin, TimestampMixin, UTCDateTime


def _session_token() -> str:
    return secrets.token_urlsafe(16)


class User(PublicIdMixin, TimestampMixin, UserMixin, db.Model):
    public_id_prefix = "usr"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    # "system" follows the device (prefers-color-scheme); "light" and "dark" set <html data-theme>.
    color_scheme: Mapped[str] = mapped_column(String(10), nullable=False, default="system", server_default="system")
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform_role: Mapped[str | None] = mapped_column(String(20))
    is_suspended: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Rotated on password change: every session cookie carries it, so old sessions stop working.
    session_token: Mapped[str] = mapped_column(String(32), nullable=False, default=_session_token)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An API key acts as its owner from a per-process cache of this row: a change to these columns drops
    # the owner's cached keys in every process at once (portal.keys.invalidation). A new column that
    # decides what a user may do (a lock, a role) belongs here too.
    KEY_AUTH_FIELDS = ("email", "name", "password_hash", "timezone", "email_verified_at", "platform_role", "is_suspended", "session_token")

    def get_id(self) -> str:
        return f"{self.public_id}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return not self.is_suspended

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    def rotate_session_token(self) -> None:
        self.session_token = _session_token()

    def __repr__(self) -> str:
        return f"<User {self.email}>"
