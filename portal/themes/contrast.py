"""WCAG 2.x contrast: relative luminance, contrast ratios, automatic text colours, and the nearest passing colour."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

BODY_TEXT = 4.5  # WCAG AA 1.4.3, normal text
LARGE_TEXT = 3.0  # WCAG AA 1.4.3 large text and 1.4.11 controls
WHITE, BLACK = "#ffffff", "#000000"


def rgb(colour: str) -> tuple[int, int, int]:
    """'#rrggbb' as three 0-255 integers."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def hex_of(red: float, green: float, blue: float) -> str:
    """Three 0-255 numbers as '#rrggbb' (rounded, clamped)."""
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in (red, green, blue))


def _linear(channel: int) -> float:
    c = channel / 255
    # WCAG 2.x's formula, with its own 0.03928 threshold (sRGB's 0.04045 changes no 8-bit value).
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """Relative luminance of '#rrggbb', from 0 (black) to 1 (white)."""
    r, g, b = (_linear(c) for c in rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(foreground: str, background: str) -> float:
    """The contrast ratio of two colours, from 1 to 21 (unrounded: 4.499 fails AA)."""
    a, b = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def text_on(background: str) -> str:
    """The text colour for a background: white when it reads well (as on most brand colours), else black."""
    if ratio(WHITE, background) >= BODY_TEXT:
        return WHITE
    return BLACK if ratio(BLACK, background) >= ratio(WHITE, background) else WHITE


def nearest_passing(foreground: str, background: str, required: float) -> str:
    """The colour closest to foreground in lightness (same hue and saturation) that reaches required on background."""
    if ratio(foreground, background) >= required:
        return foreground
    hue, light, sat = colorsys.rgb_to_hls(*(c / 255 for c in rgb(foreground)))
    for step in range(1, 201):  # half a percent of lightness at a time, darker and lighter alike
        for candidate in (light - step / 200, light + step / 200):
            if 0 <= candidate <= 1:
                colour = hex_of(*(c * 255 for c in colorsys.hls_to_rgb(hue, candidate, sat)))
                if ratio(colour, background) >= required:
                    return colour
    return text_on(background)  # unreachable for required <= 21: black or white always passes 4.5 on one side


@dataclass(frozen=True)
class Check:
    """One pair of colours the portal draws together, its measured ratio and what AA asks of it."""

    name: str
    label: str
    foreground_field: str
    foreground: str
    background: str
    required: float

    @property
    def ratio(self) -> float:
        return ratio(self.foreground, self.background)

    @property
    def passes(self) -> bool:
        return self.ratio >= self.required

    @property
    def shown_ratio(self) -> str:
        # Rounded down, so that a ratio shown as 4.50 never fails the 4.5 it seems to meet.
        return f"{int(self.ratio * 100) / 100:.2f}"

    @property
    def suggestion(self) -> str | None:
        return None if self.passes else nearest_passing(self.foreground, self.background, self.required)


def checks(settings: dict) -> list[Check]:
    """The pairs a theme puts on screen, each against WCAG AA (text on buttons is chosen, so it always passes)."""
    s = settings
    return [
        Check("text_light", "Body text, light mode", "text_light", s["text_light"], s["background_light"], BODY_TEXT),
        Check("text_dark", "Body text, dark mode", "text_dark", s["text_dark"], s["background_dark"], BODY_TEXT),
        Check("links_light", "Links (primary) on the light background", "primary", s["primary"], s["background_light"], BODY_TEXT),
        Check("secondary_light", "Secondary buttons against the light background", "secondary", s["secondary"], s["background_light"], LARGE_TEXT),
        Check("accent_light", "Accent against the light background", "accent", s["accent"], s["background_light"], LARGE_TEXT),
    ]


def failing(settings: dict) -> list[Check]:
    """The checks a theme fails."""
    return [c for c in checks(settings) if not c.passes]
