"""What every page gets: the org switcher, role helpers, time formatting, page-or-fragment rendering."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, Response, flash, g, has_request_context, make_response, redirect, render_template
from flask_login import current_user
from markupsafe import Markup
from werkzeug.local import LocalProxy

from portal.errors import QuotaExceeded, ServiceError
from portal.extensions import htmx
from portal.orgs.service import orgs_of
from portal.roles import ROLE_LABELS, role_allows
from portal.text import file_size, sentence
from portal.uow import refused


def render_page(page: str, fragment: str | None = None, page_only: Callable[[], dict] | None = None, **context) -> str:
    """The same URL answers an HTMX request with its fragment and a browser with the whole page.

    `page_only` gives what only the whole page shows (its other panels): a fragment doesn't pay for their queries.
    """
    if fragment and wants_fragment():
        return render_template(fragment, **context)
    return render_template(page, **context, **(page_only() if page_only else {}))


def wants_fragment() -> bool:
    """True for an htmx request that swaps part of a page (not a boosted link, not a history restore)."""
    # A history restore asks for the whole page even though htmx sends HX-Request.
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def after_change(url: str, fragment: str | None = None, **context) -> Response | str:
    """The answer to a change: the fragment for htmx when given, else HX-Redirect; a 303 for a browser."""
    if htmx:
        if fragment and wants_fragment():
            return render_template(fragment, **context)
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)


def toast(response: Response | str, message: str, kind: str = "success") -> Response:
    """Add a toast to an htmx answer (shown by static/js/portal.js); a browser gets the same words as a flash."""
    response = make_response(response)
    if htmx and "HX-Redirect" not in response.headers:
        # Merge with any trigger already set, so one answer can carry several events.
        triggers = json.loads(response.headers.get("HX-Trigger", "{}") or "{}")
        triggers["toast"] = {"message": message, "kind": kind}
        response.headers["HX-Trigger"] = json.dumps(triggers)
    else:
        flash(message, kind)  # a browser, or htmx about to load another page (HX-Redirect): shown there
    return response


def refusal_message(exc: ServiceError, *, link: bool = True) -> str | Markup:
    """A refusal's message for a page; over a plan's limit, followed by the way to more as a link (link=False: text
    only, for a toast). The message itself never spells out the address: the API gives it in the error's fields."""
    if link and isinstance(exc, QuotaExceeded) and exc.upgrade_url:
        return Markup('{} <a href="{}">See the plans</a>').format(exc.message, exc.upgrade_url)
    return exc.message


def refusal_words(exc: ServiceError, *, link: bool = True) -> str | Markup:
    """What a refusal tells a person in one flash or toast: its message and its field messages (see `refusal_message`)."""
    if isinstance(exc, QuotaExceeded):
        return refusal_message(exc, link=link)
    fields = exc.fields if exc.fields_are_messages else {}
    return " ".join([exc.message, *(f"{name}: {text}" for name, text in fields.items() if text != exc.message)])


def flash_error(exc: ServiceError) -> None:
    """Tell the person why their action was refused (message and field messages), and undo the request's writes."""
    refused(exc)
    flash(refusal_words(exc), "error")


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Show a UTC time in the current user's time zone."""
    if value is None:
        return ""
    return value.astimezone(_user_zone()).strftime(fmt)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def relative_time(value: datetime | None, now: datetime | None = None) -> str:
    """A past time as a person reads it: 'just now', '5 min ago', '3 h ago', 'yesterday', '12 Nov', '12 Nov 2025'."""
    if value is None:
        return ""
    zone = _user_zone()
    now = now or datetime.now(UTC)
    seconds = (now - value).total_seconds()
    if abs(seconds) < 60:  # a clock a little ahead of ours is still "just now"
        return "just now"
    if seconds < 0:  # the future has no "ago": say the day
        return _day(value.astimezone(zone), now.astimezone(zone))
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    here, today = value.astimezone(zone), now.astimezone(zone).date()
    # Hours while it is still today for the reader, and across midnight for a few hours ("1 h ago" at 00:30).
    if here.date() == today or seconds < 6 * 3600:
        return f"{int(seconds // 3600)} h ago"
    if here.date() == today - timedelta(days=1):
        return "yesterday"
    return _day(here, now.astimezone(zone))


def _day(value: datetime, now: datetime) -> str:
    """'12 Nov' within the reader's current year, '12 Nov 2025' otherwise."""
    day = f"{value.day} {_MONTHS[value.month - 1]}"  # not %b: that follows the process locale
    return day if value.year == now.year else f"{day} {value.year}"


def duration(ms: int | float | None) -> str:
    """A duration in milliseconds as a person reads it: '850 ms', '4.2 s', '13 min 12 s', '2 h 5 min'."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{round(ms)} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    seconds = round(ms / 1000)
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def time_left(value: datetime | None, now: datetime | None = None) -> str:
    """A deadline as a person reads it: 'due in 2 h 5 min', 'due now', 'overdue by 40 min' (to the minute)."""
    if value is None:
        return ""
    minutes = round((value - (now or datetime.now(UTC))).total_seconds() / 60)
    if minutes == 0:
        return "due now"
    words = duration(abs(minutes) * 60_000)
    return f"due in {words}" if minutes > 0 else f"overdue by {words}"


def _user_zone() -> ZoneInfo:
    """The current user's zone, looked up once per request (a table of 25 rows formats 25 times)."""
    if has_request_context() and "user_zone" in g:
        return g.user_zone
    zone = ZoneInfo(current_user.timezone or "UTC") if current_user and current_user.is_authenticated else ZoneInfo("UTC")
    if has_request_context():  # not in jobs: one app context may render mail for many users
        g.user_zone = zone
    return zone


def can(permission: str) -> bool:
    """True when the current user's role in the current org (or platform role) allows permission."""
    membership = g.get("membership")
    if membership is not None and role_allows(membership.role, permission):
        return True
    return current_user.is_authenticated and role_allows(current_user.platform_role, permission)


def register(app: Flask) -> None:
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["relative_time"] = relative_time
    app.jinja_env.filters["time_left"] = time_left
    app.jinja_env.filters["sentence"] = sentence
    app.jinja_env.filters["file_size"] = file_size  # "16 bytes", "2.4 KB", "100 MB": every page says sizes one way
    app.jinja_env.globals.update(can=can, role_label=lambda r: ROLE_LABELS.get(r, r))

    @app.after_request
    def vary_on_htmx(response):
        # The same URL answers a page or a fragment: caches must key on the header that decides.
        if response.mimetype == "text/html":
            response.vary.add("HX-Request")
        return response

    @app.context_processor
    def navigation():
        if not has_request_context() or not current_user.is_authenticated:  # emails render in jobs
            return {"my_memberships": []}
        # Lazy: only pages that draw the nav pay for the query, not HTMX fragments.
        return {"my_memberships": LocalProxy(_my_memberships), "current_org": g.get("org")}


def _my_memberships() -> list:
    if "my_memberships" not in g:
        g.my_memberships = orgs_of(current_user)
    return g.my_memberships
