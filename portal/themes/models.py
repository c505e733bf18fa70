"""An organization's theme: one editable draft, immutable published versions, and the uploaded logo files."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.extensions import db
from portal.models import OrgScopedMixin, PublicIdMixin, TimestampMixin, UTCDateTime, utcnow

VERSION_KINDS = ("publish", "revert", "reset")


class ThemeVersion(PublicIdMixin, OrgScopedMixin, db.Model):
    """What members see once published; never changed afterwards (a revert publishes a copy)."""

    public_id_prefix = "thv"
    __table_args__ = (UniqueConstraint("org_id", "number", name="uq_theme_version_org_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False, default="publish")  # one of VERSION_KINDS
    settings: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    custom_css: Mapped[str] = mapped_column(Text, nullable=False, default="")  # as written; sanitized again when compiled
    custom_js: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")  # served only while allowed
    reverted_from: Mapped[int | None] = mapped_column(Integer)  # the number of the version a revert copied
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    created_by: Mapped[User | None] = relationship()


@event.listens_for(ThemeVersion, "before_update")
def _versions_are_immutable(_mapper, _connection, target: ThemeVersion) -> None:
    # Cached compiled themes are keyed by version id and never invalidated: a changed row would go unseen.
    raise ValueError(f"theme version {target.public_id} is immutable; publish a new one")


class Theme(OrgScopedMixin, TimestampMixin, db.Model):
    """The org's draft, and which version members see (none: the platform's look)."""

    __table_args__ = (UniqueConstraint("org_id", name="uq_theme_org_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    draft_css: Mapped[str] = mapped_column(Text, nullable=False, default="")
    draft_js: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    # Set by a super admin only (themes.service.set_custom_js_allowed, audit-logged): an org admin cannot turn it on.
    custom_js_allowed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=sa_false())
    published_version_id: Mapped[int | None] = mapped_column(ForeignKey("theme_version.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    published_version: Mapped[ThemeVersion | None] = relationship()


class ThemeAsset(PublicIdMixin, OrgScopedMixin, db.Model):
    """An uploaded logo or favicon, stored under its content hash: the same bytes are one row and one URL."""

    public_id_prefix = "tha"
    __table_args__ = (UniqueConstraint("org_id", "sha256", name="uq_theme_asset_org_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    filename: Mapped[str] = mapped_column(String(80), nullable=False)  # <hash>.<ext>: the URL's last part
    content_type: Mapped[str] = mapped_column(String(40), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    storage_key: Mapped[str] = mapped_column(String(200), nullable=False)
    colours: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # dominant colours, for the palette
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
