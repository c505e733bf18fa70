"""Logos and favicons: checked on their bytes, stored under their content hash through the storage port."""

from __future__ import annotations

import hashlib

from portal.accounts.models import User
from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.infra.storage import StorageError, storage
from portal.orgs.models import Organization
from portal.tenancy import get_scoped_or_404, scoped
from portal.themes import palette
from portal.themes.images import ImageRefused, check_image
from portal.themes.models import ThemeAsset
from portal.themes.services.drafts import draft, theme_for_update
from portal.themes.settings import ASSET_FIELDS, ASSET_LABELS
from portal.themes.urls import asset_path

VARIANT_LABELS = ASSET_LABELS
API_VARIANTS = {"light": "logo_light", "dark": "logo_dark", "favicon": "favicon"}  # the API's names → the draft's fields


def upload(org: Organization, variant: str, data: bytes, *, by: User | None = None) -> ThemeAsset:
    """Check and store an upload, and make it the draft's logo or favicon; ValidationFailed names `file` otherwise."""
    if variant not in ASSET_FIELDS:
        raise ValidationFailed({"variant": f"Choose one of: {', '.join(API_VARIANTS)}."})
    try:
        checked = check_image(data, variant)
    except ImageRefused as exc:
        raise ValidationFailed({"file": str(exc)}, "The file was refused.") from exc
    digest = hashlib.sha256(checked.data).hexdigest()
    asset = db.session.scalar(scoped(ThemeAsset, org).where(ThemeAsset.sha256 == digest))
    if asset is None:
        filename = f"{digest[:32]}.{checked.extension}"
        key = f"themes/{org.public_id}/{filename}"
        # Stored before the commit: should the request roll back, the file stays unreferenced, and the same
        # bytes uploaded again land on the same key (the name is their hash).
        storage().put(key, checked.data, checked.content_type)
        asset = ThemeAsset(org_id=org.id, sha256=digest, filename=filename, content_type=checked.content_type,
                           size=len(checked.data), width=checked.width, height=checked.height, storage_key=key,
                           colours=checked.colours, created_by_id=by.id if by is not None else None)
        db.session.add(asset)
        db.session.flush()  # gives the new row its public id
    theme = theme_for_update(org)
    theme.draft = {**draft(org).settings, variant: asset.public_id}
    theme.updated_by_id = by.id if by is not None else None
    db.session.flush()
    return asset


def remove(org: Organization, variant: str, *, by: User | None = None) -> None:
    """Take the logo or favicon off the draft (published versions keep theirs)."""
    if variant not in ASSET_FIELDS:
        raise ValidationFailed({"variant": f"Choose one of: {', '.join(API_VARIANTS)}."})
    theme = theme_for_update(org)
    theme.draft = {**draft(org).settings, variant: None}
    theme.updated_by_id = by.id if by is not None else None
    db.session.flush()


def assets_by_id(org: Organization, public_ids: set[str]) -> dict[str, ThemeAsset]:
    """The org's assets among public_ids, by public id."""
    if not public_ids:
        return {}
    return {a.public_id: a for a in db.session.scalars(scoped(ThemeAsset, org).where(ThemeAsset.public_id.in_(public_ids)))}


def asset_urls(org: Organization, values: dict) -> dict[str, str | None]:
    """The URL of each logo and favicon a settings dict names (None where it names none)."""
    found = assets_by_id(org, {values.get(f) for f in ASSET_FIELDS} - {None})
    return {f: asset_path(org.public_id, found[values[f]].filename) if values.get(f) in found else None for f in ASSET_FIELDS}


def asset_file(org: Organization, filename: str) -> tuple[ThemeAsset, bytes]:
    """An uploaded file of the org by its content-hashed name, with its bytes; NotFound otherwise."""
    asset = db.session.scalar(scoped(ThemeAsset, org).where(ThemeAsset.filename == filename))
    if asset is None:
        raise NotFound()
    try:
        return asset, storage().get(asset.storage_key)
    except StorageError as exc:
        raise NotFound() from exc


def suggested_palette(org: Organization, asset_id: str | None = None) -> dict[str, str]:
    """Colours suggested from a logo's dominant colours (the draft's light logo unless asset_id names another)."""
    asset_id = asset_id or draft(org).settings.get("logo_light") or draft(org).settings.get("logo_dark")
    if not asset_id:
        return {}
    asset = get_scoped_or_404(ThemeAsset, org, asset_id)
    return palette.suggest(asset.colours)

