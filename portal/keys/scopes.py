"""Which scope an API route needs: `admin` for keys, members, billing and org settings; else `read` for
GET and `write` for the rest. Derived from the permission a route already declares, so a new route is
classified the day it lands; a view may also set `required_scope` itself."""

from __future__ import annotations

from collections.abc import Callable

from portal.keys.models import SCOPES

ADMIN_PERMISSIONS = frozenset({"keys.create", "keys.manage", "members.manage", "billing.manage", "org.settings", "audit.view",
                               "notifications.manage"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def required_scope(view: Callable | None, method: str) -> str:
    """The scope a key needs to call view with method."""
    explicit = getattr(view, "required_scope", None)
    if explicit in SCOPES:
        return explicit
    if getattr(view, "required_permission", None) in ADMIN_PERMISSIONS:
        return "admin"
    return "read" if method in READ_METHODS else "write"


def parse_scopes(value) -> list[str]:
    """A list of scope names from a list or a comma-separated string, in canonical order, unknown names kept."""
    if isinstance(value, str):
        value = value.split(",")
    names = [str(v).strip() for v in value or [] if str(v).strip()]
    known = [s for s in SCOPES if s in names]
    return known + [n for n in dict.fromkeys(names) if n not in SCOPES]
