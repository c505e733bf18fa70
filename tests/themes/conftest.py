"""Themes fixtures: an org with an admin and a member, another org with its admin, and small images made with Pillow."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from PIL import Image

from portal.themes import service
from tests.factories import OrgFactory, member


@dataclass
class Studio:
    org: object
    admin: object
    member: object
    other_org: object
    other_admin: object


@pytest.fixture
def studio(app) -> Studio:
    service.clear_cache()
    org = OrgFactory(name="Acme", slug="acme")
    other = OrgFactory(name="Bravo", slug="bravo")
    return Studio(org, member(org, "org_admin", email="ada@acme.test"), member(org, "user", email="uma@acme.test"),
                  other, member(other, "org_admin", email="bob@bravo.test"))


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 20), colour=(200, 30, 30)) -> bytes:
    """A small solid image in the given format (PNG, JPEG, WEBP, ICO, GIF, BMP)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'
