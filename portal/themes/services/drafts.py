"""The draft an org admin edits: settings, custom CSS and (where a super admin allowed it) custom JavaScript,
checked as a whole before anything is written; presets, and export and import as JSON."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal.accounts.models import User
from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.orgs.models import Organization
from portal.tenancy import scoped
from portal.themes import css, settings
from portal.themes.models import Theme, ThemeAsset
from portal.themes.urls import asset_path

EXPORT_FORMAT = "vetrai-theme"
EXPORT_VERSION = 1
EXPORTED = (*settings.COLOUR_FIELDS, "font", "radius")  # uploaded files are the org's own: never exported
MAX_JS_BYTES = 50 * 1024
JS_OFF = "Custom JavaScript is off for this organization; a platform admin can turn it on."


@dataclass(frozen=True)
class Draft:
    """What the editor shows: the draft's settings, CSS and JavaScript, and which version members see now."""

    settings: dict
    custom_css: str
    published_version_id: int | None
    custom_js: str = ""
    custom_js_allowed: bool = False


def org_by_ref(ref: str) -> Organization:
    """An organization by its public id (org_…) or its slug, for URLs people type; NotFound otherwise."""
    column = Organization.public_id if ref.startswith("org_") else Organization.slug
    org = db.session.scalar(select(Organization).where(column == ref))
    if org is None:
        raise NotFound()
    return org


def find_theme(org: Organization) -> Theme | None:
    """The org's theme row, or None before its first change (reading never creates one)."""
    return db.session.scalar(scoped(Theme, org))


def theme_for_update(org: Organization) -> Theme:
    """The org's theme row, locked for this transaction (two publishes never get the same number); made on first use."""
    theme = db.session.scalar(scoped(Theme, org).with_for_update())
    if theme is None:
        theme = Theme(org_id=org.id, draft=dict(settings.DEFAULTS), draft_css="")
        db.session.add(theme)
        db.session.flush()
    return theme


def draft(org: Organization) -> Draft:
    """The draft as the editor shows it (the platform's defaults before any change)."""
    theme = find_theme(org)
    if theme is None:
        return Draft(dict(settings.DEFAULTS), "", None)
    return Draft({**settings.DEFAULTS, **theme.draft}, theme.draft_css, theme.published_version_id, theme.draft_js,
                 theme.custom_js_allowed)


def asset_filenames(org: Organization) -> set[str]:
    """The file names of the org's uploads: the only files its custom CSS may point at."""
    return set(db.session.scalars(scoped(ThemeAsset, org).with_only_columns(ThemeAsset.filename)))


def own_url_check(org: Organization):
    """The own_url test for the org's CSS: one of its uploaded files, by the URL the editor shows."""
    allowed = {asset_path(org.public_id, name) for name in asset_filenames(org)}
    return lambda url: url in allowed


def check_css(org: Organization, text: str) -> str:
    """The sanitized CSS, or ValidationFailed naming every refused construct with its line and column."""
    try:
        return css.sanitize(text, own_url=own_url_check(org))
    except css.CSSRefused as exc:
        raise ValidationFailed({"custom_css": " ".join(map(str, exc.problems))}, "The custom CSS was refused.") from exc


def check_js(allowed: bool, text: str) -> None:
    """ValidationFailed naming `custom_js` unless the org may have custom JavaScript and the text fits in 50 KB.

    The text is not parsed: it runs as the org's own code, on its members' pages only (never on a page showing a
    secret, nor to platform staff), which is what a super admin agreed to when allowing it."""
    if not allowed:
        raise ValidationFailed({"custom_js": JS_OFF}, JS_OFF)
    if len(text.encode()) > MAX_JS_BYTES:
        raise ValidationFailed({"custom_js": f"Custom JavaScript is {MAX_JS_BYTES // 1024} KB at most."})


def _check_assets(org: Organization, clean: dict, errors: dict[str, str]) -> None:
    wanted = {clean[f] for f in settings.ASSET_FIELDS if clean.get(f)}
    found = set(db.session.scalars(scoped(ThemeAsset, org).with_only_columns(ThemeAsset.public_id).where(ThemeAsset.public_id.in_(wanted)))) if wanted else set()
    for field in settings.ASSET_FIELDS:
        if clean.get(field) and clean[field] not in found:
            errors[field] = "No such uploaded file in this organization."


def update_draft(org: Organization, values: dict, *, custom_css: str | None = None, custom_js: str | None = None,
                 by: User | None = None) -> Draft:
    """Change the draft: every field is checked first, and a refusal changes nothing (members see no draft).

    custom_js (None: unchanged) is refused unless a super admin allowed it for the org."""
    current = draft(org)
    clean, errors = settings.validate(values, base=current.settings)
    _check_assets(org, clean, errors)
    checks = [(custom_css, lambda: check_css(org, custom_css)), (custom_js, lambda: check_js(current.custom_js_allowed, custom_js))]
    for text, check in checks:
        if text is not None:
            try:
                check()
            except ValidationFailed as exc:
                errors.update(exc.fields)
    if errors:
        raise ValidationFailed(errors)
    theme = theme_for_update(org)
    theme.draft = clean  # a new dict: the JSON column sees the change
    if custom_css is not None:
        theme.draft_css = custom_css
    if custom_js is not None:
        theme.draft_js = custom_js
    theme.updated_by_id = by.id if by is not None else None
    db.session.flush()
    return draft(org)


def apply_preset(org: Organization, name: str, *, by: User | None = None) -> Draft:
    """Start the draft from a built-in preset (colours, font, radius; logos and CSS stay)."""
    values = settings.preset(name)
    if values is None:
        raise ValidationFailed({"preset": f"Choose one of: {', '.join(settings.PRESETS)}."})
    return update_draft(org, values, by=by)


def export_theme(org: Organization) -> dict:
    """The draft as a JSON document another org can import (without the uploaded files)."""
    current = draft(org)
    return {"format": EXPORT_FORMAT, "version": EXPORT_VERSION,
            "settings": {k: current.settings[k] for k in EXPORTED}, "custom_css": current.custom_css}


def import_theme(org: Organization, document: object, *, by: User | None = None) -> Draft:
    """Replace the draft's settings and CSS with an exported document, checked like any edit."""
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise ValidationFailed({"file": f'This is not a theme export (its "format" must be "{EXPORT_FORMAT}").'})
    if document.get("version") != EXPORT_VERSION:
        raise ValidationFailed({"file": f"This export's version is not supported (this portal reads version {EXPORT_VERSION})."})
    values, custom_css = document.get("settings"), document.get("custom_css", "")
    if not isinstance(values, dict) or not isinstance(custom_css, str):
        raise ValidationFailed({"file": 'An export holds "settings" (an object) and "custom_css" (text).'})
    extra = sorted(set(values) - set(EXPORTED))
    if extra:
        raise ValidationFailed({"file": f"Unknown settings in the export: {', '.join(extra)}."})
    return update_draft(org, {**{k: settings.DEFAULTS[k] for k in EXPORTED}, **values}, custom_css=custom_css, by=by)
