"""Uploaded logos and favicons checked on their bytes (Pillow for raster images, svg.py for SVG), never on their name."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from portal.themes.palette import dominant_colours, svg_colours
from portal.themes.svg import MAX_SIDE, SVGRefused, sanitize_svg

MAX_BYTES = 1024 * 1024
RASTER = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "WEBP": ("image/webp", "webp"), "ICO": ("image/x-icon", "ico")}
VARIANT_FORMATS = {"logo_light": {"PNG", "JPEG", "WEBP", "SVG"}, "logo_dark": {"PNG", "JPEG", "WEBP", "SVG"},
                   "favicon": {"PNG", "ICO", "SVG"}}


class ImageRefused(Exception):
    """The upload is not an image this portal accepts; the message says why, for the person."""


@dataclass(frozen=True)
class CheckedImage:
    """An accepted image: the bytes to store (an SVG rebuilt by the sanitizer), its type and size, its colours."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    colours: list[str]


def _looks_like_xml(data: bytes) -> bool:
    head = data[:256].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def check_image(data: bytes, variant: str) -> CheckedImage:
    """Accept data as the given variant (logo_light, logo_dark, favicon) or raise ImageRefused."""
    if not data:
        raise ImageRefused("The file is empty.")
    if len(data) > MAX_BYTES:
        raise ImageRefused(f"The file is {len(data) / 1024 / 1024:.1f} MB; 1 MB at most.")
    allowed = VARIANT_FORMATS[variant]
    if _looks_like_xml(data):
        if "SVG" not in allowed:
            raise ImageRefused("SVG is not accepted here.")
        try:
            clean, width, height = sanitize_svg(data)
        except SVGRefused as exc:
            raise ImageRefused(str(exc)) from exc
        return CheckedImage(clean, "image/svg+xml", "svg", width, height, svg_colours(clean))
    return _check_raster(data, allowed)


def _check_raster(data: bytes, allowed: set[str]) -> CheckedImage:
    names = ", ".join(sorted(f.lower() for f in allowed))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # a header claiming billions of pixels
            image = Image.open(io.BytesIO(data))
            image_format = image.format
            width, height = image.size  # from the header: nothing decoded yet
            if image_format not in RASTER or image_format not in allowed:
                raise ImageRefused(f"Upload a {names} image (this one is {image_format or 'not an image'}).")
            if width > MAX_SIDE or height > MAX_SIDE:
                raise ImageRefused(f"The image is {width}×{height} px; {MAX_SIDE} px a side at most.")
            image.verify()  # checksums and structure, before anything is stored
            colours = dominant_colours(Image.open(io.BytesIO(data)))
    except ImageRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused(f"This file is not a {names} image.") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # what Pillow raises for truncated or corrupt files
        raise ImageRefused("The image file is damaged; export it again.") from exc
    content_type, extension = RASTER[image_format]
    return CheckedImage(data, content_type, extension, width, height, colours)
