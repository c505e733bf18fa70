"""The published theme as pages and the API read it: compiled once per process per version, then from memory.

Pages take the compiled theme from a small in-process cache keyed by (org, version), by their random public ids
(row ids come back after a restore). Versions never change (ThemeVersion refuses updates), so an entry never goes
stale: a publish is a new key, seen on the next page load by every process.

Which version is published is read once per org *stamp* rather than once per page: a flush that moves the
published version (publish, revert, reset) touches the org's row (`updated_at`, see _stamp_org_on_publish), which
every org page loads anyway to check the membership. So
(org, updated_at) -> version id is cached too, and a page with a theme sends no query of its own; the first
page after a publish, in each process, sees a new stamp and reads the version again.

The custom JavaScript switch rides on the same stamp (a super admin's change touches the org's row too), so the
cached pointer is (version, allowed) and the compiled theme is keyed by both: it carries the version's script only
while the org is allowed it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from itertools import chain

from flask import has_request_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.models import utcnow
from portal.orgs.models import Organization
from portal.tenancy import scoped
from portal.themes import css, settings
from portal.themes.models import Theme, ThemeVersion
from portal.themes.services.assets import asset_urls
from portal.themes.services.drafts import draft, own_url_check
from portal.themes.stylesheet import build

log = logging.getLogger(__name__)

CACHE_SIZE = 512  # compiled themes (a few KB each), and as many org stamps, kept per process


class _LRU:
    """A small thread-safe least-recently-used map (gunicorn threads share a process's caches)."""

    def __init__(self, size: int):
        self.size, self._data, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_compiled = _LRU(CACHE_SIZE)  # (org, version) -> CompiledTheme
_versions = _LRU(CACHE_SIZE)  # (org, org's updated_at) -> (the published version's public id or None, JS allowed)
_MISSING = object()


@dataclass(frozen=True)
class CompiledTheme:
    """What a page needs of a published theme: its stylesheet and ETag, its logo and favicon URLs, its script."""

    org_public_id: str
    version: str | None  # the version's public id: the stylesheet URL's cache key
    number: int | None
    is_default: bool  # none published, or reset: pages keep the platform's look
    settings: dict
    css: str
    etag: str
    logos: dict  # logo_light, logo_dark, favicon → URL or None
    script: str = ""  # the version's custom JavaScript, only while the org is allowed it ("" otherwise)
    script_etag: str = ""
    is_draft: bool = False  # the saved draft, shown to the admin previewing it (draft_preview): never published, no script

    @property
    def font_stylesheet(self) -> str | None:
        return settings.FONTS[self.settings["font"]].stylesheet


def published_version(org: Organization) -> str | None:
    """The public id of the version the org's members see (None: the platform's look); one indexed read."""
    query = (scoped(Theme, org).join(ThemeVersion, Theme.published_version_id == ThemeVersion.id)
             .with_only_columns(ThemeVersion.public_id))
    return db.session.scalar(query)


def _pointer(org: Organization) -> tuple[str | None, bool]:
    """The published version's public id (None: the platform's look) and whether custom JavaScript is allowed."""
    query = (scoped(Theme, org).outerjoin(ThemeVersion, Theme.published_version_id == ThemeVersion.id)
             .with_only_columns(ThemeVersion.public_id, Theme.custom_js_allowed))
    row = db.session.execute(query).first()
    return (row[0], bool(row[1])) if row is not None else (None, False)


def _pointer_cached(org: Organization) -> tuple[str | None, bool]:
    """_pointer(org), read again only when the org's row changed (see the module's docstring).

    Only while answering a request: its session is new, so the org's stamp was read by this request. A job, a
    command or a test may hold an org loaded before a publish, whose old stamp would name the old version."""
    if not has_request_context():
        return _pointer(org)
    stamp = (org.public_id, org.updated_at)
    pointer = _versions.get(stamp, _MISSING)
    if pointer is _MISSING:
        pointer = _pointer(org)
        _versions.put(stamp, pointer)
    return pointer


def _stamp_org_on_publish(session: Session, _flush_context, _instances) -> None:
    """Before a flush that moves a theme's published version or its JavaScript switch: touch its org's row, in the
    same transaction, so that every process's next page sees a new stamp and reads both again (publish, revert,
    reset, the super admin's switch, or any other ORM write of them)."""
    for obj in chain(session.new, session.dirty):
        if isinstance(obj, Theme):
            attrs = inspect(obj).attrs
            if (attrs.published_version_id.history.has_changes() or attrs.published_version.history.has_changes()
                    or attrs.custom_js_allowed.history.has_changes()):
                org = session.get(Organization, obj.org_id)
                if org is not None:
                    org.updated_at = utcnow()


def init_app(_app) -> None:
    """Watch the flushes of the app's sessions (installed once per process: the session class is shared)."""
    if not event.contains(db.session, "before_flush", _stamp_org_on_publish):
        event.listen(db.session, "before_flush", _stamp_org_on_publish)


def published(org: Organization, font_url=None) -> CompiledTheme:
    """The org's published theme, compiled (the platform's default when none); font_url(path) names static files."""
    key = (org.public_id, *_pointer_cached(org))
    hit = _compiled.get(key)
    if hit is not None:
        return hit
    compiled = _compile(org, key[1], font_url, js_allowed=key[2])
    _compiled.put(key, compiled)
    return compiled


def _compile(org: Organization, version_id: str | None, font_url, *, js_allowed: bool = False) -> CompiledTheme:
    version = db.session.scalar(scoped(ThemeVersion, org).where(ThemeVersion.public_id == version_id)) if version_id else None
    values = {**settings.DEFAULTS, **(version.settings if version else {})}
    custom = _served_css(org, version.custom_css, f"theme {version.public_id}") if version is not None else ""
    label = f"VetrAI theme {org.public_id} v{version.number}" if version else f"VetrAI default theme for {org.public_id}"
    return _theme(org, values, custom, font_url, label=label, version=version,
                  is_default=version is None or version.kind == "reset",
                  script=version.custom_js if (js_allowed and version is not None) else "")


def _served_css(org: Organization, text: str, source: str) -> str:
    """The custom CSS as pages get it: it passed when saved; should a stricter checker refuse it since, the page is
    served without it rather than not at all."""
    if not text:
        return ""
    try:
        return css.sanitize(text, own_url=own_url_check(org))
    except css.CSSRefused:
        log.warning("custom CSS of %s no longer passes the checker; served without it", source)
        return ""


def _theme(org: Organization, values: dict, custom_css: str, font_url, *, label: str, version: ThemeVersion | None = None,
           is_default: bool = False, script: str = "", is_draft: bool = False) -> CompiledTheme:
    """The stylesheet and the rest a page needs, made from settings and sanitized CSS (a version's or the draft's)."""
    stylesheet_path = settings.FONTS[values["font"]].stylesheet
    text = build(values, custom_css, font_url=font_url(stylesheet_path) if (font_url and stylesheet_path) else None, label=label)
    return CompiledTheme(
        org_public_id=org.public_id, version=version.public_id if version else None,
        number=version.number if version else None, is_default=is_default, settings=values, css=text,
        etag=hashlib.sha256(text.encode()).hexdigest()[:32], logos=asset_urls(org, values),
        script=script, script_etag=hashlib.sha256(script.encode()).hexdigest()[:32] if script else "", is_draft=is_draft,
    )


def draft_preview(org: Organization, font_url=None) -> CompiledTheme:
    """The org's saved draft compiled exactly as a publish would be, for its admin's preview on the real pages."""
    # Never its JavaScript (a preview must not run unpublished code), and not cached: the draft changes with each
    # save, and only the admin previewing reads it.
    current = draft(org)
    custom = _served_css(org, current.custom_css, f"the draft of {org.public_id}")
    return _theme(org, current.settings, custom, font_url, label=f"VetrAI draft theme for {org.public_id}", is_draft=True)


def clear_cache() -> None:
    """Forget every compiled theme (tests; versions never change, so nothing else needs it)."""
    _compiled.clear()
    _versions.clear()
