"""Custom JavaScript's switch: off for every org until a super admin allows it, each change in the audit log.

Where it may run is the pages' business (portal.themes.views.theme_js_url); this module only says whether the
org may have it at all."""

from __future__ import annotations

from portal.accounts.models import User
from portal.audit.service import record
from portal.errors import Forbidden
from portal.extensions import db
from portal.orgs.models import Organization
from portal.roles import role_allows
from portal.tenancy import unscoped
from portal.themes.models import Theme
from portal.themes.services.drafts import theme_for_update

CONSOLE = "the platform console shows each organization's custom JavaScript switch"


def set_custom_js_allowed(org: Organization, allowed: bool, *, by: User) -> bool:
    """Allow or stop the org's custom JavaScript (platform.admin only; Forbidden otherwise); returns the new state.

    Turning it off keeps what was written: the pages stop linking it at once, and allowing it again brings it back."""
    if not role_allows(by.platform_role, "platform.admin"):
        raise Forbidden("Only a super admin can allow or stop an organization's custom JavaScript.")
    theme = theme_for_update(org)
    if theme.custom_js_allowed != allowed:
        theme.custom_js_allowed = allowed
        db.session.flush()  # the flush stamps the org's row: every process's next page reads the switch again
        record("theme.js_allowed" if allowed else "theme.js_disallowed", org=org, actor=by, target=org.slug)
    return allowed


def custom_js_allowed_orgs(orgs: list[Organization]) -> set[int]:
    """The ids of those orgs allowed custom JavaScript, in one query (the console's list)."""
    if not orgs:
        return set()
    query = (unscoped(Theme, reason=CONSOLE).with_only_columns(Theme.org_id)
             .where(Theme.org_id.in_([o.id for o in orgs]), Theme.custom_js_allowed.is_(True)))
    return set(db.session.scalars(query))
