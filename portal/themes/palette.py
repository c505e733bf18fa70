"""Palettes from a logo: its dominant colours (Pillow), and a theme's colours suggested from them."""

from __future__ import annotations

import colorsys

from defusedxml.ElementTree import fromstring
from PIL import Image

from portal.themes.contrast import BODY_TEXT, LARGE_TEXT, hex_of, nearest_passing, rgb
from portal.themes.settings import normalize_colour

SAMPLE = 96  # px a side: enough to find a logo's colours, cheap to count


def dominant_colours(image: Image.Image, count: int = 5) -> list[str]:
    """The image's most used colours, most used first, ignoring transparent pixels."""
    image.draft("RGB", (SAMPLE * 2, SAMPLE * 2))  # JPEG: decode at a fraction of the size
    rgba = image.convert("RGBA")
    rgba.thumbnail((SAMPLE, SAMPLE))
    raw = rgba.tobytes()  # RGBA bytes: the same on every Pillow (getdata() is going away)
    opaque = [tuple(raw[i:i + 3]) for i in range(0, len(raw), 4) if raw[i + 3] >= 128]
    if not opaque:
        return []
    strip = Image.new("RGB", (len(opaque), 1))
    strip.putdata(opaque)
    quantized = strip.quantize(colors=count * 2, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    ranked = sorted(quantized.getcolors() or [], reverse=True)
    colours = [hex_of(*palette[i * 3:i * 3 + 3]) for _n, i in ranked]
    return list(dict.fromkeys(colours))[:count]


def svg_colours(svg: bytes, count: int = 5) -> list[str]:
    """The hex colours an SVG paints with (fill, stroke, stop-color), most used first: no rendering needed."""
    seen: dict[str, int] = {}
    for element in fromstring(svg).iter():
        for name in ("fill", "stroke", "stop-color"):
            colour = normalize_colour(element.get(name))
            if colour:
                seen[colour] = seen.get(colour, 0) + 1
    return [c for c, _n in sorted(seen.items(), key=lambda kv: -kv[1])][:count]


def _saturation(colour: str) -> float:
    return colorsys.rgb_to_hls(*(c / 255 for c in rgb(colour)))[2]


def suggest(colours: list[str], background: str = "#ffffff") -> dict[str, str]:
    """Primary, secondary and accent from a logo's colours, each adjusted to pass AA on the light background."""
    # Brand colours are the saturated ones; greys and near-white backgrounds of the logo come last.
    brand = sorted(colours, key=lambda c: _saturation(c) < 0.2)
    if not brand:
        return {}
    primary = brand[0]
    secondary = brand[1] if len(brand) > 1 else _shift(primary, 0.0, -0.35)
    accent = brand[2] if len(brand) > 2 else _shift(primary, 0.5, 0.0)
    return {
        "primary": nearest_passing(primary, background, BODY_TEXT),
        "secondary": nearest_passing(secondary, background, LARGE_TEXT),
        "accent": nearest_passing(accent, background, LARGE_TEXT),
    }


def _shift(colour: str, hue: float, saturation: float) -> str:
    """colour with its hue turned (0-1 of the wheel) and its saturation changed."""
    h, light, s = colorsys.rgb_to_hls(*(c / 255 for c in rgb(colour)))
    r, g, b = colorsys.hls_to_rgb((h + hue) % 1, light, max(0.0, min(1.0, s + saturation)))
    return hex_of(r * 255, g * 255, b * 255)
