"""Emails in an organization's published theme: the look (logo, colours, font) and the rendering with CSS inlined.

Every email renders templates/email/<name>.html, which extends the one layout (templates/email/_layout.html)
whose <style> block is written from the look; css-inline then moves that CSS into style= attributes and drops
the <style> block, since many mail clients (Gmail's apps, Outlook) ignore or strip it. The text/plain part
renders <name>.txt, which extends _layout.txt, from the same context.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import css_inline
from flask import current_app, render_template
from markupsafe import Markup

from portal.orgs.models import Organization
from portal.themes import contrast, service
from portal.themes.settings import DEFAULTS, FONTS, normalize_colour

PLATFORM_NAME = "VetrAI Portal"

# Remote stylesheets are never fetched: an email is rendered from what the portal wrote, nothing else.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False, keep_link_tags=False)


@dataclass(frozen=True)
class EmailLook:
    """What the email layout draws with: a name (the logo's alt text, or the header without one) and colours."""

    name: str
    logo_url: str | None  # absolute: a mail client has no base URL to resolve a path against
    primary: str
    on_primary: str  # text on a primary-coloured button
    link: str  # the primary, moved just enough to read as text on the background (WCAG AA)
    background: str
    text: str
    muted: str  # footers and notes: between text and background, still AA on the background
    canvas: str  # around the card: the background tinted towards the text
    font: Markup  # a CSS font stack; web fonts don't load in most mail clients, so its fallbacks matter
    radius: int


def _mix(colour: str, other: str, share: float) -> str:
    """colour with `share` (0..1) of other mixed in, channel by channel."""
    return contrast.hex_of(*(a + (b - a) * share for a, b in zip(contrast.rgb(colour), contrast.rgb(other), strict=True)))


def _colour(values: dict, name: str) -> str:
    # Published settings were validated; a version written before a rule existed still must not reach the CSS.
    return normalize_colour(values.get(name)) or DEFAULTS[name]


@lru_cache(maxsize=256)
def _derived(primary: str, background: str, text: str) -> dict[str, str]:
    # Searching for AA-passing shades takes a millisecond or so: once per palette, not once per email.
    return {
        "on_primary": contrast.text_on(primary),
        "link": contrast.nearest_passing(primary, background, contrast.BODY_TEXT),
        "muted": contrast.nearest_passing(_mix(text, background, 0.35), background, contrast.BODY_TEXT),
        "canvas": _mix(background, text, 0.06),
    }


def _build(name: str, values: dict, logo_path: str | None) -> EmailLook:
    primary, background, text = (_colour(values, f) for f in ("primary", "background_light", "text_light"))
    # The stack is one of the platform's FONTS, never a user's text: its quotes must reach the CSS unescaped.
    font = Markup(FONTS.get(values.get("font"), FONTS[DEFAULTS["font"]]).stack)
    radius = values.get("radius") if isinstance(values.get("radius"), int) else DEFAULTS["radius"]
    logo_url = current_app.config["BASE_URL"].rstrip("/") + logo_path if logo_path else None
    return EmailLook(name=name, logo_url=logo_url, primary=primary, background=background, text=text, font=font,
                     radius=radius, **_derived(primary, background, text))


def look_for(org: Organization | None, cache: dict | None = None) -> EmailLook:
    """The look of an email sent for org: its published theme, or the platform's when it has none (or no org)."""
    if org is None:
        return _build(PLATFORM_NAME, DEFAULTS, None)
    key = ("email_look", org.id)
    if cache is not None and key in cache:  # a batch of one org's emails reads the published version once
        return cache[key]
    theme = service.published(org)
    if theme.is_default:
        found = _build(org.name, DEFAULTS, None)
    else:
        found = _build(org.name, theme.settings, theme.logos.get("logo_light"))
    if cache is not None:
        cache[key] = found
    return found


def inline_css(html: str) -> str:
    """The document with its <style> rules moved into style= attributes and the <style> block removed."""
    return _INLINER.inline(html)


def render_email(name: str, look: EmailLook, **context) -> tuple[str, str]:
    """(text, html) of templates/email/<name>.txt and .html in the given look, the HTML's CSS inlined."""
    context = {**context, "look": look}
    return render_template(f"email/{name}.txt", **context), inline_css(render_template(f"email/{name}.html", **context))
