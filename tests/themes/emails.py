"""Helpers for the themed-email tests: publish a theme with a logo, and read a received message as a mail client would."""

from __future__ import annotations

import io
from dataclasses import dataclass
from html.parser import HTMLParser

from PIL import Image, ImageDraw

from portal.extensions import db
from portal.themes import service


def logo_png(colour=(170, 0, 0)) -> bytes:
    """A small wordmark-like PNG: a coloured block and a white bar, 160 x 48."""
    image = Image.new("RGB", (160, 48), colour)
    ImageDraw.Draw(image).rectangle((16, 20, 144, 28), fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def publish_theme(org, admin, values: dict, logo: bytes | None = None) -> service.CompiledTheme:
    """Publish values (and a light logo) for org, committed as the admin's request would; the theme members see."""
    if logo is not None:
        service.upload(org, "logo_light", logo, by=admin)
    service.update_draft(org, values, by=admin)
    service.publish(org, by=admin)
    db.session.commit()
    return service.published(org)


@dataclass
class Element:
    tag: str
    attrs: dict
    text: str = ""

    @property
    def style(self) -> dict[str, str]:
        """The inline style= declarations, property -> value (lower case, !important dropped)."""
        found = {}
        for declaration in (self.attrs.get("style") or "").split(";"):
            name, _, value = declaration.partition(":")
            if value.strip():
                found[name.strip().lower()] = value.replace("!important", "").strip().lower()
        return found

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements: list[Element] = []
        self.open: list[Element] = []

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag not in ("img", "meta", "br", "link", "hr", "input"):
            self.open.append(element)

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop().tag == tag:
                break

    def handle_data(self, data):
        for element in self.open:
            element.text += data


def elements(html: str) -> list[Element]:
    """Every element of an HTML document, with its attributes and the text inside it."""
    parser = _Collector()
    parser.feed(html)
    return parser.elements


def parts(msg) -> tuple[str, str]:
    """(text/plain, text/html) of a received multipart/alternative message."""
    assert msg.get_content_type() == "multipart/alternative"
    return msg.get_body(preferencelist=("plain",)).get_content(), msg.get_body(preferencelist=("html",)).get_content()
