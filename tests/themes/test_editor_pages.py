"""The editor page: who may open it, saving with field errors, the live preview fragment, publish, revert, reset."""

from __future__ import annotations

import io
import json

from portal.themes import service

from .conftest import image_bytes

COLOURS = {"primary": "#0b5cab", "secondary": "#5d6b89", "accent": "#b45309", "background_light": "#ffffff",
           "text_light": "#373c44", "background_dark": "#13171f", "text_dark": "#c2c7d0"}


def form(**changes) -> dict:
    return {**COLOURS, "font": "system", "radius": "4", "custom_css": "", **changes}


def test_admin_opens_the_editor_with_preview_history_and_a_link_in_the_nav(studio, login_as, client):
    login_as(studio.admin)
    page = client.get("/o/acme/settings/theme")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="theme-preview"' in html and "Contrast (WCAG AA)" in html and "Nothing published yet" in html
    assert 'href="/o/acme/settings/theme"' in client.get("/o/acme/").get_data(as_text=True)  # the nav link


def test_a_plain_member_gets_403_and_sees_no_link(studio, login_as, client):
    login_as(studio.member)
    assert client.get("/o/acme/settings/theme").status_code == 403
    assert client.post("/o/acme/settings/theme/publish").status_code == 403
    assert "/settings/theme" not in client.get("/o/acme/").get_data(as_text=True)


def test_another_orgs_admin_gets_404(studio, login_as, client):
    login_as(studio.other_admin)
    assert client.get("/o/acme/settings/theme").status_code == 404
    assert client.post("/o/acme/settings/theme", data=form(primary="#ff0000")).status_code == 404
    assert service.draft(studio.org).settings["primary"] == COLOURS["primary"]


def test_saving_shows_field_errors_next_to_fields_with_422_and_saves_nothing(studio, login_as, client):
    login_as(studio.admin)
    response = client.post("/o/acme/settings/theme", data=form(radius="99", custom_css="a { color: red }\n@import url(evil.css);"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="radius-error"' in html and "At most 24 px" in html
    assert 'id="custom_css-error"' in html and "Line 2, column 1: @import is not allowed" in html
    assert service.draft(studio.org).custom_css == ""


def test_a_saved_draft_redirects_and_shows_in_the_editor_but_not_to_members(studio, login_as, client):
    login_as(studio.admin)
    response = client.post("/o/acme/settings/theme", data=form(primary="#aa0000", custom_css="h1 { letter-spacing: 2px }"))
    assert response.status_code == 303
    assert 'value="#aa0000"' in client.get("/o/acme/settings/theme").get_data(as_text=True)
    login_as(studio.member)
    assert 'id="theme-css"' not in client.get("/o/acme/").get_data(as_text=True)  # nothing published yet


def test_the_live_preview_fragment_follows_the_typed_values_without_saving(studio, login_as, client):
    login_as(studio.admin)
    query = {k: v for k, v in form(primary="#777777", background_light="#ffffff").items() if k != "custom_css"}
    fragment = client.get("/o/acme/settings/theme", query_string=query, headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and not html.lstrip().startswith("<!doctype")
    assert 'id="theme-preview"' in html and "primary=%23777777" in html  # the preview stylesheet's URL carries the value
    assert "Below AA" in html and "4.47:1" in html and "#767676" in html  # links: flagged, ratio, nearest passing colour
    css = client.get("/o/acme/settings/theme/preview.css", query_string=query)
    assert css.mimetype == "text/css" and ".theme-preview {" in css.get_data(as_text=True) and "#777777" in css.get_data(as_text=True)
    assert service.draft(studio.org).settings["primary"] == COLOURS["primary"]  # previewing saves nothing


def test_a_bad_value_in_the_preview_is_named_and_the_rest_previewed(studio, login_as, client):
    login_as(studio.admin)
    query = {**{k: v for k, v in form(accent="nope").items() if k != "custom_css"}}
    html = client.get("/o/acme/settings/theme", query_string=query, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "accent: Use a hex colour" in html


def test_publish_then_revert_then_reset_from_the_page(studio, login_as, client):
    login_as(studio.admin)
    client.post("/o/acme/settings/theme", data=form(primary="#aa0000"))
    assert client.post("/o/acme/settings/theme/publish").status_code == 303
    client.post("/o/acme/settings/theme", data=form(primary="#007a00"))  # 5.5:1 on white: publishes without the AA check
    client.post("/o/acme/settings/theme/publish")
    first = service.history(studio.org).items[-1]
    page = client.get("/o/acme/settings/theme").get_data(as_text=True)
    assert "Members see version 2" in page and "Publish again" in page
    assert client.post("/o/acme/settings/theme/revert", data={"version": first.public_id}).status_code == 303
    assert service.published(studio.org).settings["primary"] == "#aa0000"
    assert client.post("/o/acme/settings/theme/reset", headers={"HX-Request": "true"}).headers["HX-Redirect"] == "/o/acme/settings/theme"
    assert service.published(studio.org).is_default
    assert "Reset to the platform" in client.get("/o/acme/settings/theme").get_data(as_text=True)


def test_reverting_to_another_orgs_version_is_404(studio, login_as, client):
    theirs = service.publish(studio.other_org, by=studio.other_admin)
    login_as(studio.admin)
    assert client.post("/o/acme/settings/theme/revert", data={"version": theirs.public_id}).status_code == 404


def test_preset_export_and_import_through_the_page(studio, login_as, client):
    login_as(studio.admin)
    client.post("/o/acme/settings/theme/preset", data={"preset": "forest"})
    exported = client.get("/o/acme/settings/theme/export")
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    document = json.loads(exported.data)
    assert document["settings"]["primary"] == "#1d6b3a"
    login_as(studio.other_admin)
    response = client.post("/o/bravo/settings/theme/import", data={"theme_import-file": (io.BytesIO(exported.data), "theme.json")},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    assert service.draft(studio.other_org).settings["primary"] == "#1d6b3a"
    bad = client.post("/o/bravo/settings/theme/import", data={"theme_import-file": (io.BytesIO(b"{not json"), "t.json")},
                      content_type="multipart/form-data", follow_redirects=True)
    assert "This file is not JSON" in bad.get_data(as_text=True)


def test_logo_upload_through_the_page_then_palette_from_it(studio, login_as, client):
    login_as(studio.admin)
    png = image_bytes("PNG", (60, 30), (30, 120, 200))
    response = client.post("/o/acme/settings/theme/logo", data={"variant": "logo_light", "file": (io.BytesIO(png), "logo.png")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "Logo (light mode) uploaded (60×30)" in response.get_data(as_text=True)
    palette = client.get("/o/acme/settings/theme/palette", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Use these colours" in palette
    client.post("/o/acme/settings/theme/palette")
    assert service.draft(studio.org).settings["primary"] != COLOURS["primary"]


def test_a_refused_upload_says_why_and_stores_nothing(studio, login_as, client, row_counts):
    login_as(studio.admin)
    before = row_counts()
    response = client.post("/o/acme/settings/theme/logo", data={"variant": "logo_light", "file": (io.BytesIO(b"GIF89a..."), "x.png")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "not a jpeg, png, svg, webp image" in response.get_data(as_text=True)
    assert row_counts() == before


def test_the_editor_needs_a_login(studio, client):
    response = client.get("/o/acme/settings/theme")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
