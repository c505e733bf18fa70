"""Where a theme's files live on the API: a leaf, so the service (CSS `url()` checks) and the routes agree."""

from __future__ import annotations

API_PREFIX = "/api/v1"
THEME_RULE = "/themes/<org_id>"
CSS_RULE = "/themes/<org_id>/css"
ASSET_RULE = "/themes/<org_id>/assets/<filename>"


def asset_path(org_public_id: str, filename: str) -> str:
    """The content-hashed URL of an org's uploaded file (long-cached: new bytes get a new name)."""
    return f"{API_PREFIX}/themes/{org_public_id}/assets/{filename}"


def css_path(org_public_id: str) -> str:
    """The public URL of an org's published stylesheet."""
    return f"{API_PREFIX}/themes/{org_public_id}/css"
