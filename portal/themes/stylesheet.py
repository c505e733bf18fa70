"""The theme stylesheet: the settings as CSS variables (--portal-*, mapped onto Pico's --pico-*), then the custom CSS."""

from __future__ import annotations

import colorsys

from portal.themes.contrast import BODY_TEXT, nearest_passing, rgb, text_on
from portal.themes.settings import FONTS

# As specific as Pico's own `:root:not([data-theme=dark])` and later in the page, so the theme's values win.
LIGHT_SCOPE = ":root:not([data-theme=dark]), [data-theme=light]"
DARK_SCOPE = "[data-theme=dark]"
SYSTEM_DARK_SCOPE = ":root:not([data-theme])"  # the member chose "system" and the system is dark


def _shade(colour: str, amount: float) -> str:
    """colour made darker (amount < 0) or lighter, in HSL lightness."""
    h, light, s = colorsys.rgb_to_hls(*(c / 255 for c in rgb(colour)))
    r, g, b = colorsys.hls_to_rgb(h, max(0.0, min(1.0, light + amount)), s)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = rgb(colour)
    return f"rgba({r}, {g}, {b}, {alpha})"


def variables(settings: dict, mode: str) -> dict[str, str]:
    """The CSS variables of one colour scheme ("light" or "dark")."""
    background, text = settings[f"background_{mode}"], settings[f"text_{mode}"]
    # One primary rarely reads on both a white and a near-black page: dark mode gets the nearest one that does.
    primary = settings["primary"] if mode == "light" else nearest_passing(settings["primary"], background, BODY_TEXT)
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
    return own | pico


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
    parts.append("@media (prefers-color-scheme: dark) {\n" + _block(SYSTEM_DARK_SCOPE, dark) + "}\n")
    if custom_css:
        parts.append("/* custom CSS (sanitized) */\n" + custom_css + "\n")
    return "".join(parts)


def build_preview(settings: dict, *, font_url: str | None = None) -> str:
    """The same variables on the editor's preview panel only, so the editor page itself keeps its look."""
    parts = [f'@import url("{font_url}");\n' if font_url else ""]
    look = "  background: var(--pico-background-color);\n  color: var(--pico-color);\n  font-family: var(--pico-font-family);\n"
    parts.append(_block(".theme-preview", variables(settings, "light"), look))
    # The editor page itself is light: the dark panel also needs the surfaces Pico's dark scheme would give it.
    background = settings["background_dark"]
    surfaces = {"--pico-card-background-color": _shade(background, 0.04), "--pico-card-sectioning-background-color": _shade(background, 0.07),
                "--pico-muted-border-color": _shade(background, 0.12), "--pico-table-border-color": _shade(background, 0.12),
                "--pico-form-element-background-color": _shade(background, 0.05), "--pico-form-element-color": settings["text_dark"],
                "--pico-muted-color": settings["text_dark"]}
    parts.append(_block(".theme-preview.theme-preview-dark", variables(settings, "dark") | surfaces, look))
    return "".join(parts)
