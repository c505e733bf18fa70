"""A theme's settings: the fields, the platform's defaults, the built-in presets, and their validation.

A leaf module (no database, no Flask): the service, the forms, the API schemas and the stylesheet share it.
"""

from __future__ import annotations

from dataclasses import dataclass

COLOUR_FIELDS = ("primary", "secondary", "accent", "background_light", "text_light", "background_dark", "text_dark")
COLOUR_LABELS = {
    "primary": "Primary", "secondary": "Secondary", "accent": "Accent",
    "background_light": "Background (light mode)", "text_light": "Text (light mode)",
    "background_dark": "Background (dark mode)", "text_dark": "Text (dark mode)",
}
ASSET_FIELDS = ("logo_light", "logo_dark", "favicon")  # each: a ThemeAsset public id, or None
ASSET_LABELS = {"logo_light": "Logo (light mode)", "logo_dark": "Logo (dark mode)", "favicon": "Favicon"}
MAX_RADIUS = 24  # px: beyond that buttons turn into pills and tables lose their corners


@dataclass(frozen=True)
class Font:
    """A font a theme may pick: the vendored files' stylesheet (None: the system's own) and the CSS stack."""

    label: str
    stylesheet: str | None
    stack: str


SYSTEM_STACK = 'system-ui, "Segoe UI", Roboto, Oxygen, Ubuntu, Cantarell, Helvetica, Arial, "Helvetica Neue", sans-serif'
FONTS: dict[str, Font] = {
    "system": Font("System (fastest)", None, SYSTEM_STACK),
    "inter": Font("Inter", "vendor/fonts/inter.css", f'"Inter", {SYSTEM_STACK}'),
    "source-serif-4": Font("Source Serif 4", "vendor/fonts/source-serif-4.css", '"Source Serif 4", Georgia, "Times New Roman", serif'),
}

# The platform's own look (static/css/portal.css and Pico's light and dark schemes).
DEFAULTS: dict = {
    "primary": "#0b5cab", "secondary": "#5d6b89", "accent": "#b45309",
    "background_light": "#ffffff", "text_light": "#373c44",
    "background_dark": "#13171f", "text_dark": "#c2c7d0",
    "font": "system", "radius": 4,
    "logo_light": None, "logo_dark": None, "favicon": None,
}

PRESETS: dict[str, dict] = {
    "vetrai": {"label": "VetrAI (platform default)", **{k: DEFAULTS[k] for k in (*COLOUR_FIELDS, "font", "radius")}},
    "forest": {"label": "Forest", "primary": "#1d6b3a", "secondary": "#4b5d52", "accent": "#9a5b00",
               "background_light": "#fbfdf9", "text_light": "#1f2a22", "background_dark": "#101712", "text_dark": "#cfdcd2",
               "font": "inter", "radius": 8},
    "slate": {"label": "Slate", "primary": "#334155", "secondary": "#64748b", "accent": "#0e7490",
              "background_light": "#ffffff", "text_light": "#1e293b", "background_dark": "#0f172a", "text_dark": "#cbd5e1",
              "font": "inter", "radius": 2},
    "editorial": {"label": "Editorial", "primary": "#9f1239", "secondary": "#57534e", "accent": "#1d4ed8",
                  "background_light": "#fffdf8", "text_light": "#292524", "background_dark": "#1c1917", "text_dark": "#e7e5e4",
                  "font": "source-serif-4", "radius": 0},
}


def normalize_colour(value) -> str | None:
    """'#abc' or '#AABBCC' as '#aabbcc'; None for anything that is not a hex colour."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    digits = text[1:] if text.startswith("#") else ""
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    if len(digits) != 6 or any(c not in "0123456789abcdef" for c in digits):
        return None
    return "#" + digits


def validate(values: dict, *, base: dict | None = None) -> tuple[dict, dict[str, str]]:
    """values merged over base (the defaults when None), checked: (clean settings, {field: problem})."""
    clean = dict(base or DEFAULTS)
    errors: dict[str, str] = {}
    for name in COLOUR_FIELDS:
        if name in values:
            colour = normalize_colour(values[name])
            if colour is None:
                errors[name] = "Use a hex colour such as #0b5cab."
            else:
                clean[name] = colour
    if "font" in values:
        if values["font"] in FONTS:
            clean["font"] = values["font"]
        else:
            errors["font"] = f"Choose one of: {', '.join(FONTS)}."
    if "radius" in values:
        radius = values["radius"]
        if isinstance(radius, bool) or not isinstance(radius, int | float | str) or not str(radius).strip().isdigit():
            errors["radius"] = f"Use a whole number of pixels from 0 to {MAX_RADIUS}."
        elif int(radius) > MAX_RADIUS:
            errors["radius"] = f"At most {MAX_RADIUS} px."
        else:
            clean["radius"] = int(radius)
    for name in ASSET_FIELDS:
        if name in values:
            clean[name] = values[name] or None  # the service checks that the asset is the org's own
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        errors[unknown[0]] = f"Unknown setting; the settings are: {', '.join(DEFAULTS)}."
    return clean, errors


def preset(name: str) -> dict | None:
    """A preset's settings (colours, font, radius), or None for an unknown name."""
    found = PRESETS.get(name)
    return None if found is None else {k: v for k, v in found.items() if k != "label"}
