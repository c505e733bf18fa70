"""The theme stylesheet: the settings as CSS variables (--portal-*, mapped onto Pico's --pico-*), then the custom CSS."""

from __future__ import annotations

import colorsys

from portal.themes.contrast import BODY_TEXT, hex_of, nearest_passing, rgb, text_on
from portal.themes.settings import FONTS

# As specific as Pico's own `:root:not([data-theme=dark])` and later in the page, so the theme's values win.
# <html> carries data-theme="light"/"dark" when a member pinned a scheme, none when they follow the device.
LIGHT_SCOPE = ":root:not([data-theme=dark]), [data-theme=light]"
DARK_SCOPE = "[data-theme=dark]"
# Inside `prefers-color-scheme: dark`: every page not pinned to light. It has the light scope's specificity and comes
# after it, so a device in dark mode gets the dark palette unless the member chose Light.
SYSTEM_DARK_SCOPE = ":root:not([data-theme=light])"


def _shade(colour: str, amount: float) -> str:
    """colour made darker (amount < 0) or lighter, in HSL lightness."""
    h, light, s = colorsys.rgb_to_hls(*(c / 255 for c in rgb(colour)))
    r, g, b = colorsys.hls_to_rgb(h, max(0.0, min(1.0, light + amount)), s)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))


def _mix(background: str, text: str, amount: float) -> str:
    """background moved amount (0-1) of the way towards text: surfaces and borders in the theme's own hue."""
    return hex_of(*(b + (t - b) * amount for b, t in zip(rgb(background), rgb(text), strict=True)))


def surfaces(settings: dict, mode: str) -> dict[str, str]:
    """Cards, borders, form fields and muted text made from the scheme's background and text colours.

    Mixing the text colour into the background reproduces Pico's own dark surfaces for the platform's colours, and
    keeps a tinted background's cards in its hue (Pico's grey cards on a purple page looked pasted on). Muted text
    gets the nearest colour that still reads at 4.5:1 on the card headers.
    """
    background, text = settings[f"background_{mode}"], settings[f"text_{mode}"]
    step = {"dark": (0.03, 0.05, 0.18, 0.05, 0.25), "light": (0.0, 0.02, 0.12, 0.015, 0.25)}[mode]
    card, sectioning, border, field, field_border = (_mix(background, text, amount) for amount in step)
    return {
        "--pico-card-background-color": card, "--pico-card-border-color": card, "--pico-card-sectioning-background-color": sectioning,
        "--pico-dropdown-background-color": card, "--pico-dropdown-border-color": border,
        "--pico-dropdown-hover-background-color": _mix(background, text, 0.1), "--pico-code-background-color": sectioning,
        "--pico-muted-border-color": border, "--pico-table-border-color": border,
        "--pico-form-element-background-color": field, "--pico-form-element-border-color": field_border,
        "--pico-form-element-selected-background-color": field_border, "--pico-form-element-color": text,
        "--pico-muted-color": nearest_passing(_mix(background, text, 0.62 if mode == "dark" else 0.75), sectioning, BODY_TEXT),
    }


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = rgb(colour)
    return f"rgba({r}, {g}, {b}, {alpha})"


def variables(settings: dict, mode: str) -> dict[str, str]:
    """The CSS variables of one colour scheme ("light" or "dark")."""
    background, text = settings[f"background_{mode}"], settings[f"text_{mode}"]
    # One primary rarely reads on both a white and a near-black page: dark mode gets the nearest one that does, on the
    # cards (lighter than the page in dark mode, so it reads on the page too).
    primary = settings["primary"] if mode == "light" else nearest_passing(settings["primary"], _mix(background, text, 0.05), BODY_TEXT)
    hover = _shade(primary, -0.08 if mode == "light" else 0.08)
    secondary, accent = settings["secondary"], settings["accent"]
    font = FONTS[settings["font"]]
    own = {
        "--portal-primary": primary, "--portal-primary-hover": hover, "--portal-on-primary": text_on(primary),
        "--portal-secondary": secondary, "--portal-on-secondary": text_on(secondary),
        "--portal-accent": accent, "--portal-on-accent": text_on(accent),
        "--portal-background": background, "--portal-text": text,
        "--portal-radius": f"{settings['radius']}px", "--portal-font": font.stack,
        "--portal-brand": "var(--portal-primary)", "--portal-brand-hover": "var(--portal-primary-hover)",
    }
    pico = {
        "--pico-primary": "var(--portal-primary)", "--pico-primary-background": "var(--portal-primary)",
        "--pico-primary-border": "var(--portal-primary)", "--pico-primary-underline": _rgba(primary, 0.5),
        "--pico-primary-hover": "var(--portal-primary-hover)", "--pico-primary-hover-background": "var(--portal-primary-hover)",
        "--pico-primary-hover-border": "var(--portal-primary-hover)", "--pico-primary-focus": _rgba(primary, 0.5),
        "--pico-primary-inverse": "var(--portal-on-primary)",
        "--pico-secondary": "var(--portal-secondary)", "--pico-secondary-background": "var(--portal-secondary)",
        "--pico-secondary-border": "var(--portal-secondary)", "--pico-secondary-hover": _shade(secondary, -0.08),
        "--pico-secondary-hover-background": _shade(secondary, -0.08), "--pico-secondary-inverse": "var(--portal-on-secondary)",
        "--pico-background-color": "var(--portal-background)", "--pico-color": "var(--portal-text)",
        "--pico-border-radius": "var(--portal-radius)", "--pico-font-family": "var(--portal-font)",
    }
    # Light pages keep Pico's light surfaces; dark ones take the theme's (Pico's are grey, whatever the background).
    return own | pico | (surfaces(settings, mode) if mode == "dark" else {})


def _block(selector: str, values: dict[str, str], extra: str = "") -> str:
    body = "".join(f"  {name}: {value};\n" for name, value in values.items())
    return f"{selector} {{\n{body}{extra}}}\n"


def build(settings: dict, custom_css: str = "", *, font_url: str | None = None, label: str = "") -> str:
    """The whole stylesheet pages link: fonts, light and dark variables, the custom CSS last (it may override them)."""
    parts = [f"/* {label} */\n" if label else ""]
    if font_url:
        parts.append(f'@import url("{font_url}");\n')  # our own vendored font files; custom CSS may never @import
    light, dark = variables(settings, "light"), variables(settings, "dark")
    parts.append(_block(LIGHT_SCOPE, light, "  color-scheme: light;\n"))
    parts.append(_block(DARK_SCOPE, dark, "  color-scheme: dark;\n"))
    parts.append("@media (prefers-color-scheme: dark) {\n" + _block(SYSTEM_DARK_SCOPE, dark, "  color-scheme: dark;\n") + "}\n")
    if custom_css:
        parts.append("/* custom CSS (sanitized) */\n" + custom_css + "\n")
    return "".join(parts)


def build_preview(settings: dict, *, font_url: str | None = None) -> str:
    """The same variables on the editor's preview panel only, so the editor page itself keeps its look."""
    parts = [f'@import url("{font_url}");\n' if font_url else ""]
    look = "  background: var(--pico-background-color);\n  color: var(--pico-color);\n  font-family: var(--pico-font-family);\n"
    # The editor page may itself be light or dark: each panel sets every surface of its own scheme.
    parts.append(_block(".theme-preview", variables(settings, "light") | surfaces(settings, "light"), look))
    parts.append(_block(".theme-preview.theme-preview-dark", variables(settings, "dark"), look))
    return "".join(parts)
