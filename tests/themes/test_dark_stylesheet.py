"""The published stylesheet's dark palette: on [data-theme=dark] (a member chose Dark) and, inside
prefers-color-scheme: dark, on every page not pinned to light (System); cards, borders and muted text in the
theme's own hue, each readable; the preview panels carry the same values."""

from __future__ import annotations

import re

from portal.themes import contrast, settings
from portal.themes.stylesheet import build, build_preview, variables

PURPLE = {**settings.DEFAULTS, "background_dark": "#1a1033", "text_dark": "#e6e0f5", "primary": "#3b1f8f"}


def _block(css: str, selector: str) -> dict[str, str]:
    body = re.search(re.escape(selector) + r" \{\n(.*?)\}", css, re.S).group(1)
    return dict(re.findall(r"(--[\w-]+): ([^;]+);", body))


def test_the_dark_palette_applies_to_a_dark_choice_and_to_system_on_a_dark_device():
    css = build(PURPLE)
    pinned = _block(css, "[data-theme=dark]")
    system = _block(css[css.index("@media (prefers-color-scheme: dark)"):], ":root:not([data-theme=light])")
    assert pinned == system and pinned["--portal-background"] == "#1a1033" and pinned["--portal-text"] == "#e6e0f5"
    light = _block(css, ":root:not([data-theme=dark]), [data-theme=light]")
    assert light["--portal-background"] == "#ffffff" and "--pico-card-background-color" not in light  # Pico's light surfaces stay


def test_dark_surfaces_follow_the_theme_background_and_keep_text_and_links_readable():
    dark = variables(PURPLE, "dark")
    card, header = dark["--pico-card-background-color"], dark["--pico-card-sectioning-background-color"]
    assert card not in ("#181c25", PURPLE["background_dark"]) and card.startswith("#2")  # a lifted purple, not Pico's grey
    for colour in (card, header):
        assert contrast.ratio(dark["--portal-primary"], colour) >= 4.5  # the dark primary is chosen on the cards
        assert contrast.ratio(dark["--pico-muted-color"], colour) >= 4.5
        assert contrast.ratio(PURPLE["text_dark"], colour) >= 4.5
    assert contrast.ratio(dark["--pico-muted-border-color"], PURPLE["background_dark"]) >= 1.5  # a border one can see


def test_the_platform_colours_give_pico_like_dark_surfaces():
    dark = variables(settings.DEFAULTS, "dark")
    assert dark["--pico-card-background-color"] == "#181c24"  # Pico's own is #181c25


def test_each_preview_panel_sets_its_own_surfaces_so_it_reads_on_a_light_or_dark_editor_page():
    css = build_preview(PURPLE)
    light, dark = _block(css, ".theme-preview"), _block(css, ".theme-preview.theme-preview-dark")
    assert light["--pico-card-background-color"] == "#ffffff" and light["--pico-form-element-color"] == PURPLE["text_light"]
    assert dark["--pico-card-background-color"] == variables(PURPLE, "dark")["--pico-card-background-color"]
