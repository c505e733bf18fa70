"""Pages that must never run an org's custom JavaScript: a leaf any domain's views may import.

A page that shows a secret (a new API key), holds a password field, or signs someone in opts out with
`@no_custom_code`; layouts/base.html then links no theme script, whatever the org allows."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import g


def no_custom_code(view: Callable) -> Callable:
    """Mark the view's pages as off limits to the org's custom JavaScript (g.no_custom_js)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        g.no_custom_js = True
        return view(*args, **kwargs)

    return wrapped


def custom_code_refused() -> bool:
    """True when this request's page opted out of custom JavaScript."""
    return bool(g.get("no_custom_js"))
