"""SVG logos: parsed by a real XML parser that refuses DTDs and entities (defusedxml), rebuilt from an allow-list.

Only the elements and attributes listed here survive; everything else is dropped with its children, so
`script`, `foreignObject`, `on*` handlers, animations that could rewrite a link, and foreign namespaces go.
References may only point inside the document (`href="#id"`, `url(#gradient)`); an embedded `<image>` may
only carry a raster `data:` image. `<style>` and `style=""` pass through the custom CSS checker with the same rule.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from portal.themes.css import CSSRefused, check_declarations, fragment_only, sanitize

SVG = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
MAX_SIDE = 2048

ELEMENTS = frozenset({
    "svg", "g", "defs", "title", "desc", "symbol", "use", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
    "text", "tspan", "linearGradient", "radialGradient", "stop", "clipPath", "mask", "pattern", "marker", "image", "style",
    "filter", "feGaussianBlur", "feOffset", "feBlend", "feColorMatrix", "feFlood", "feComposite", "feMerge", "feMergeNode",
    "feDropShadow",
})
ATTRIBUTES = frozenset({
    "id", "class", "style", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy", "fr", "width", "height",
    "d", "points", "pathLength", "transform", "viewBox", "preserveAspectRatio", "version", "href", "offset", "fill",
    "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin", "stroke-miterlimit",
    "stroke-dasharray", "stroke-dashoffset", "stroke-opacity", "opacity", "color", "display", "visibility", "stop-color",
    "stop-opacity", "gradientUnits", "gradientTransform", "spreadMethod", "clip-path", "clip-rule", "clipPathUnits", "mask",
    "maskUnits", "maskContentUnits", "patternUnits", "patternContentUnits", "patternTransform", "filter", "filterUnits",
    "primitiveUnits", "stdDeviation", "in", "in2", "result", "mode", "values", "type", "operator", "k1", "k2", "k3", "k4",
    "dx", "dy", "flood-color", "flood-opacity", "marker-start", "marker-mid", "marker-end", "markerWidth", "markerHeight",
    "markerUnits", "refX", "refY", "orient", "font-family", "font-size", "font-weight", "font-style", "text-anchor",
    "dominant-baseline", "letter-spacing", "word-spacing", "textLength", "lengthAdjust", "shape-rendering",
    "vector-effect", "paint-order", "mix-blend-mode", "role", "aria-label", "aria-hidden", "focusable", XML_SPACE,
})
RASTER_DATA = ("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/gif;base64,", "data:image/webp;base64,")


class SVGRefused(Exception):
    """The file is not an SVG this portal will serve; the message says why."""


def sanitize_svg(data: bytes) -> tuple[bytes, int, int]:
    """The SVG rebuilt from the allow-list, with its width and height; SVGRefused otherwise."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SVGRefused("SVG files may not declare a DTD or entities.") from exc
    except ParseError as exc:
        raise SVGRefused(f"This is not well-formed SVG ({exc}).") from exc
    if root.tag != f"{{{SVG}}}svg":
        raise SVGRefused('This is not an SVG image: its root must be <svg xmlns="http://www.w3.org/2000/svg">.')
    width, height = _size(root)
    if width > MAX_SIDE or height > MAX_SIDE:
        raise SVGRefused(f"The image is {width}×{height} px; {MAX_SIDE} px a side at most.")
    clean = _clean(root)
    clean.set("xmlns", SVG)  # local names below: the one namespace is declared once, on the root
    return tostring(clean, encoding="utf-8", xml_declaration=False), width, height


def _number(value: str | None) -> float | None:
    text = (value or "").strip().removesuffix("px")
    try:
        return float(text)
    except ValueError:
        return None  # a percentage or another unit: the viewBox says more


def _size(root: Element) -> tuple[int, int]:
    width, height = _number(root.get("width")), _number(root.get("height"))
    box = (root.get("viewBox") or "").replace(",", " ").split()
    if (width is None or height is None) and len(box) == 4:
        width = width if width is not None else _number(box[2])
        height = height if height is not None else _number(box[3])
    return round(width or 0), round(height or 0)


def _clean(element: Element) -> Element:
    """A copy of element with only allowed children and attributes (text kept, comments already gone)."""
    name = element.tag.removeprefix(f"{{{SVG}}}")
    copy = Element(name, _attributes(name, element))
    copy.text = element.text
    if name == "style":
        try:
            copy.text = sanitize(element.text or "", own_url=fragment_only)
        except CSSRefused:
            copy.text = ""
    for child in element:
        child_name = child.tag.removeprefix(f"{{{SVG}}}") if isinstance(child.tag, str) else ""
        if child.tag == f"{{{SVG}}}{child_name}" and child_name in ELEMENTS:
            kept = _clean(child)
            kept.tail = child.tail
            copy.append(kept)
    return copy


def _attributes(element_name: str, element: Element) -> dict[str, str]:
    kept = {}
    for key, value in element.attrib.items():
        name = "href" if key == XLINK_HREF else key  # SVG 2 reads plain href: one attribute to check
        if name not in ATTRIBUTES or not _safe_value(element_name, name, value):
            continue
        kept[name] = value
    return kept


def _safe_value(element_name: str, name: str, value: str) -> bool:
    text = "".join(value.split()).lower()
    if name == "href":
        if element_name == "image":
            return text.startswith(RASTER_DATA)
        return text.startswith("#")
    if name == "style":
        return not check_declarations(value, own_url=fragment_only)
    if "url(" in text:  # fill="url(#gradient)" and the like: only inside the document
        return text.startswith("url(#") and text.count("url(") == 1
    return "javascript:" not in text and "vbscript:" not in text and "data:" not in text
