"""Logo and favicon uploads: checked on the bytes, size and pixel limits, served content-hashed with safe headers."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from portal.errors import ValidationFailed
from portal.infra.storage import storage
from portal.themes import service
from portal.themes.contrast import ratio

from .conftest import SVG_NS, image_bytes


@pytest.mark.parametrize(("fmt", "variant", "content_type"), [
    ("PNG", "logo_light", "image/png"), ("JPEG", "logo_dark", "image/jpeg"), ("WEBP", "logo_light", "image/webp"),
    ("ICO", "favicon", "image/x-icon"), ("PNG", "favicon", "image/png"),
])
def test_accepted_formats_are_stored_under_their_hash_and_set_on_the_draft(studio, fmt, variant, content_type):
    data = image_bytes(fmt, (32, 32))
    asset = service.upload(studio.org, variant, data, by=studio.admin)
    assert asset.content_type == content_type and (asset.width, asset.height) == (32, 32)
    assert asset.filename.startswith(asset.sha256[:32]) and storage().get(asset.storage_key) == data
    assert service.draft(studio.org).settings[variant] == asset.public_id


def test_the_same_bytes_twice_are_one_file(studio):
    data = image_bytes("PNG")
    assert service.upload(studio.org, "logo_light", data).public_id == service.upload(studio.org, "logo_dark", data).public_id


@pytest.mark.parametrize(("data", "variant", "message"), [
    (b"", "logo_light", "empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * (1024 * 1024), "logo_light", "1 MB at most"),
    (image_bytes("PNG", (2049, 10)), "logo_light", "2048 px a side at most"),
    (image_bytes("GIF"), "logo_light", "(this one is GIF)"),
    (image_bytes("BMP"), "favicon", "(this one is BMP)"),
    (image_bytes("JPEG"), "favicon", "(this one is JPEG)"),
    (image_bytes("ICO", (32, 32)), "logo_light", "(this one is ICO)"),
    (b"%PDF-1.4\n%%EOF", "logo_light", "not a"),
    (image_bytes("PNG")[:60], "logo_light", "damaged"),
    (b"MZ\x90\x00" + b"\0" * 100, "favicon", "not a"),
])
def test_refused_uploads_say_why_on_the_file_field(studio, data, variant, message):
    with pytest.raises(ValidationFailed) as refused:
        service.upload(studio.org, variant, data, by=studio.admin)
    assert message in refused.value.fields["file"]


def test_a_header_claiming_a_huge_image_is_refused_before_decoding(studio):
    data = bytearray(image_bytes("PNG", (1, 1)))
    data[16:24] = (60000).to_bytes(4, "big") + (60000).to_bytes(4, "big")  # IHDR width and height
    with pytest.raises(ValidationFailed) as refused:
        service.upload(studio.org, "logo_light", bytes(data), by=studio.admin)
    assert "file" in refused.value.fields


def test_an_svg_logo_is_stored_as_the_sanitizer_rebuilt_it(studio):
    svg = f'<svg {SVG_NS} width="120" height="40" onload="alert(1)"><script>alert(1)</script><rect width="10" height="10" fill="#1d6b3a"/></svg>'
    asset = service.upload(studio.org, "logo_light", svg.encode(), by=studio.admin)
    stored = storage().get(asset.storage_key).decode()
    assert asset.content_type == "image/svg+xml" and (asset.width, asset.height) == (120, 40)
    assert "script" not in stored and "onload" not in stored and 'fill="#1d6b3a"' in stored
    assert asset.colours == ["#1d6b3a"]


def test_files_are_served_content_hashed_with_long_cache_nosniff_and_svg_under_a_deny_all_csp(studio, client):
    png = service.upload(studio.org, "logo_light", image_bytes("PNG"), by=studio.admin)
    svg = service.upload(studio.org, "logo_dark", f'<svg {SVG_NS} width="10" height="10"/>'.encode(), by=studio.admin)
    for asset in (png, svg):
        response = client.get(f"/api/v1/themes/{studio.org.public_id}/assets/{asset.filename}")
        assert response.status_code == 200 and response.mimetype == asset.content_type
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'"
        again = client.get(f"/api/v1/themes/acme/assets/{asset.filename}", headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304


def test_another_orgs_file_is_not_served_under_this_org(studio, client):
    theirs = service.upload(studio.other_org, "logo_light", image_bytes("PNG"), by=studio.other_admin)
    assert client.get(f"/api/v1/themes/acme/assets/{theirs.filename}").status_code == 404
    assert client.get("/api/v1/themes/acme/assets/nothing.png").status_code == 404
    assert client.get(f"/api/v1/themes/bravo/assets/{theirs.filename}").status_code == 200


def test_the_palette_is_suggested_from_the_logos_dominant_colours(studio):
    image = Image.new("RGB", (100, 100), (255, 255, 255))
    image.paste((230, 90, 20), (0, 0, 70, 100))  # mostly orange, some white
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    asset = service.upload(studio.org, "logo_light", buffer.getvalue(), by=studio.admin)
    assert asset.colours[0] in ("#e65a14", "#e55a14", "#e65a15")
    suggestion = service.suggested_palette(studio.org)
    assert set(suggestion) == {"primary", "secondary", "accent"}
    assert ratio(suggestion["primary"], "#ffffff") >= 4.5  # nudged darker until it reads as link text


def test_removing_a_logo_takes_it_off_the_draft_only(studio):
    asset = service.upload(studio.org, "logo_light", image_bytes("PNG"), by=studio.admin)
    service.publish(studio.org, by=studio.admin)
    service.remove(studio.org, "logo_light", by=studio.admin)
    assert service.draft(studio.org).settings["logo_light"] is None
    assert service.published(studio.org).logos["logo_light"].endswith(asset.filename)
