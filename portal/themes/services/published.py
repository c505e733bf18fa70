"""The published theme as pages and the API read it: compiled once per process per version, then from memory.

Pages read which version is published (one indexed row) and take the compiled theme from a small
in-process cache keyed by (org, version), by their random public ids (row ids come back after a restore). Versions never change (ThemeVersion refuses updates), so
an entry never goes stale: a publish is a new key, seen on the next page load by every process.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from portal.extensions import db
from portal.orgs.models import Organization
from portal.tenancy import scoped
from portal.themes import css, settings
from portal.themes.models import Theme, ThemeVersion
from portal.themes.services.assets import asset_urls
from portal.themes.services.drafts import own_url_check
from portal.themes.stylesheet import build

log = logging.getLogger(__name__)

CACHE_SIZE = 512  # compiled themes kept per process (a few KB each)
_cache: OrderedDict[tuple[str, str | None], CompiledTheme] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class CompiledTheme:
    """What a page needs of a published theme: its stylesheet and ETag, its logo and favicon URLs."""

    org_public_id: str
    version: str | None  # the version's public id: the stylesheet URL's cache key
    number: int | None
    is_default: bool  # none published, or reset: pages keep the platform's look
    settings: dict
    css: str
    etag: str
    logos: dict  # logo_light, logo_dark, favicon → URL or None

    @property
    def font_stylesheet(self) -> str | None:
        return settings.FONTS[self.settings["font"]].stylesheet


def published_version(org: Organization) -> str | None:
    """The public id of the version the org's members see (None: the platform's look); one indexed read."""
    query = (scoped(Theme, org).join(ThemeVersion, Theme.published_version_id == ThemeVersion.id)
             .with_only_columns(ThemeVersion.public_id))
    return db.session.scalar(query)


def published(org: Organization, font_url=None) -> CompiledTheme:
    """The org's published theme, compiled (the platform's default when none); font_url(path) names static files."""
    key = (org.public_id, published_version(org))
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    compiled = _compile(org, key[1], font_url)
    with _lock:
        _cache[key] = compiled
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def _compile(org: Organization, version_id: str | None, font_url) -> CompiledTheme:
    version = db.session.scalar(scoped(ThemeVersion, org).where(ThemeVersion.public_id == version_id)) if version_id else None
    values = {**settings.DEFAULTS, **(version.settings if version else {})}
    is_default = version is None or version.kind == "reset"
    custom = ""
    if version is not None and version.custom_css:
        try:
            custom = css.sanitize(version.custom_css, own_url=own_url_check(org))
        except css.CSSRefused:  # passed when published; a stricter checker since then: serve the rest
            log.warning("custom CSS of theme %s no longer passes the checker; served without it", version.public_id)
    stylesheet_path = settings.FONTS[values["font"]].stylesheet
    label = f"VetrAI theme {org.public_id} v{version.number}" if version else f"VetrAI default theme for {org.public_id}"
    text = build(values, custom, font_url=font_url(stylesheet_path) if (font_url and stylesheet_path) else None, label=label)
    return CompiledTheme(
        org_public_id=org.public_id, version=version.public_id if version else None,
        number=version.number if version else None, is_default=is_default, settings=values, css=text,
        etag=hashlib.sha256(text.encode()).hexdigest()[:32], logos=asset_urls(org, values),
    )


def clear_cache() -> None:
    """Forget every compiled theme (tests; versions never change, so nothing else needs it)."""
    with _lock:
        _cache.clear()
