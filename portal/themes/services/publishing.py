"""Publishing: immutable versions made from the draft, history, revert (a copy published again) and reset.
Each one lands in the audit log with who did it."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.audit.service import record
from portal.extensions import db
from portal.orgs.models import Organization
from portal.pagination import Page, paginate
from portal.tenancy import get_scoped_or_404, scoped
from portal.themes import settings
from portal.themes.models import Theme, ThemeVersion
from portal.themes.services.drafts import check_css, theme_for_update


def _new_version(org: Organization, theme: Theme, kind: str, values: dict, custom_css: str, by: User | None,
                 reverted_from: int | None = None, custom_js: str = "") -> ThemeVersion:
    """A new version, made the one members see; the caller holds the theme row's lock (theme_for_update)."""
    last = db.session.scalar(scoped(ThemeVersion, org).with_only_columns(func.max(ThemeVersion.number)))
    version = ThemeVersion(org_id=org.id, number=(last or 0) + 1, kind=kind, settings=dict(values), custom_css=custom_css,
                           custom_js=custom_js, reverted_from=reverted_from, created_by_id=by.id if by is not None else None)
    db.session.add(version)
    db.session.flush()
    theme.published_version_id = version.id
    theme.updated_by_id = version.created_by_id
    db.session.flush()
    return version


def publish(org: Organization, *, by: User | None = None) -> ThemeVersion:
    """Make the draft what every member sees, as a new version."""
    theme = theme_for_update(org)
    check_css(org, theme.draft_css)  # checked when saved; checked again in case an upload it used is gone
    # The draft's JavaScript goes into the version as written; it is served only while the org is allowed it.
    version = _new_version(org, theme, "publish", {**settings.DEFAULTS, **theme.draft}, theme.draft_css, by, custom_js=theme.draft_js)
    record("theme.published", org=org, actor=by, target=version.public_id, data={"number": version.number})
    return version


def revert(org: Organization, version_id: str, *, by: User | None = None) -> ThemeVersion:
    """Publish an older version again (as a new version, copying it), and make it the draft."""
    old = get_scoped_or_404(ThemeVersion, org, version_id)
    theme = theme_for_update(org)
    version = _new_version(org, theme, "revert", old.settings, old.custom_css, by, reverted_from=old.number, custom_js=old.custom_js)
    theme.draft, theme.draft_css, theme.draft_js = dict(old.settings), old.custom_css, old.custom_js
    db.session.flush()
    record("theme.reverted", org=org, actor=by, target=version.public_id, data={"number": version.number, "from": old.number})
    return version


def reset(org: Organization, *, by: User | None = None) -> ThemeVersion:
    """Back to the platform's look, for members and in the draft (history keeps every version)."""
    theme = theme_for_update(org)
    version = _new_version(org, theme, "reset", settings.DEFAULTS, "", by)
    theme.draft, theme.draft_css, theme.draft_js = dict(settings.DEFAULTS), "", ""
    db.session.flush()
    record("theme.reset", org=org, actor=by, target=version.public_id, data={"number": version.number})
    return version


def history(org: Organization, *, page: int = 1, per_page: int = 20) -> Page:
    """The org's versions, newest first, with who published each."""
    query = scoped(ThemeVersion, org).options(selectinload(ThemeVersion.created_by)).order_by(ThemeVersion.number.desc())
    return paginate(query, page, per_page)
