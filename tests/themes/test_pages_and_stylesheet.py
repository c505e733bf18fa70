"""Where the theme shows: org pages link the versioned stylesheet, the logo and the favicon; platform pages don't;
the stylesheet answers with ETag and 304; a publish shows on the next page load; safe mode turns it off."""

from __future__ import annotations

import re

from portal.extensions import db
from portal.themes import service
from portal.themes.models import ThemeVersion
from portal.themes.services import published as published_module
from portal.themes.services.drafts import theme_for_update
from tests.factories import UserFactory

from .conftest import image_bytes


def _stylesheet_link(html: str) -> str | None:
    found = re.search(r'<link rel="stylesheet" href="([^"]+)" id="theme-css">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def _publish(studio, **values):
    service.update_draft(studio.org, values, by=studio.admin)
    return service.publish(studio.org, by=studio.admin)


def test_without_a_published_theme_org_pages_keep_the_platform_look(studio, login_as, client):
    login_as(studio.member)
    html = client.get("/o/acme/").get_data(as_text=True)
    assert _stylesheet_link(html) is None and '<link rel="icon" href="data:,">' in html


def test_a_publish_shows_on_the_members_next_page_load_by_a_new_url(studio, login_as, client):
    _publish(studio, primary="#aa0000")
    login_as(studio.member)
    first = _stylesheet_link(client.get("/o/acme/").get_data(as_text=True))
    css = client.get(first)
    content_hash = css.headers["ETag"].strip('"')
    assert first == f"/o/acme/theme.css?v={content_hash}"  # the URL names the content it serves
    assert css.status_code == 200 and css.mimetype == "text/css" and "--portal-primary: #aa0000" in css.get_data(as_text=True)
    assert "immutable" in css.headers["Cache-Control"] and css.headers["X-Content-Type-Options"] == "nosniff"
    _publish(studio, primary="#00aa00")
    second = _stylesheet_link(client.get("/o/acme/members").get_data(as_text=True))
    assert second.startswith("/o/acme/theme.css?v=") and second != first
    assert "--portal-primary: #00aa00" in client.get(second).get_data(as_text=True)


def test_the_stylesheet_answers_304_to_its_etag_and_an_old_url_is_not_cached_for_long(studio, login_as, client):
    version = _publish(studio, primary="#aa0000")
    login_as(studio.member)
    link = _stylesheet_link(client.get("/o/acme/").get_data(as_text=True))
    first = client.get(link)
    again = client.get(link, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    stale = client.get(f"/o/acme/theme.css?v={version.public_id}")  # a URL of the old scheme, or of an older stylesheet
    assert stale.status_code == 200 and "no-cache" in stale.headers["Cache-Control"]  # the current theme, revalidated


def test_the_published_theme_is_compiled_once_per_version_and_read_from_memory(studio, login_as, client, monkeypatch):
    _publish(studio, primary="#aa0000")
    login_as(studio.member)
    client.get("/o/acme/")
    calls = []
    monkeypatch.setattr(published_module, "_compile", lambda *a: calls.append(a))
    for _ in range(3):
        assert client.get("/o/acme/").status_code == 200
    assert calls == []  # cached by (org, version): no rebuild per request


def test_a_publish_in_another_process_is_seen_without_a_restart(studio, login_as, client):
    """Each page reads which version is published from the database, so a cache never hides a new one."""
    _publish(studio, primary="#aa0000")
    login_as(studio.member)
    before = _stylesheet_link(client.get("/o/acme/").get_data(as_text=True))
    # as another process would: a new version row and the pointer moved, without this process's service
    theme = theme_for_update(studio.org)
    row = ThemeVersion(org_id=studio.org.id, number=2, kind="publish", settings={**theme.draft, "primary": "#123456"}, custom_css="")
    db.session.add(row)
    db.session.flush()
    theme.published_version_id = row.id
    db.session.commit()
    after = _stylesheet_link(client.get("/o/acme/").get_data(as_text=True))
    assert after != before and "--portal-primary: #123456" in client.get(after).get_data(as_text=True)


def test_the_theme_maps_portal_variables_onto_picos_and_appends_the_custom_css_last(studio):
    service.update_draft(studio.org, {"primary": "#aa0000", "font": "inter", "radius": 12},
                         custom_css="/* ours */ .card { box-shadow: none }", by=studio.admin)
    service.publish(studio.org, by=studio.admin)
    css = service.published(studio.org, lambda p: "/static/" + p).css
    assert "--pico-primary: var(--portal-primary)" in css and "--pico-border-radius: var(--portal-radius)" in css
    assert "--portal-on-primary: #ffffff" in css and '@import url("/static/vendor/fonts/inter.css")' in css
    assert "[data-theme=dark]" in css and "prefers-color-scheme: dark" in css
    assert css.rstrip().endswith(".card { box-shadow: none }") and "/* ours */" not in css  # comments dropped by the parser


def test_logo_and_favicon_show_on_org_pages(studio, login_as, client):
    logo = service.upload(studio.org, "logo_light", image_bytes("PNG"), by=studio.admin)
    icon = service.upload(studio.org, "favicon", image_bytes("ICO", (32, 32)), by=studio.admin)
    service.publish(studio.org, by=studio.admin)
    login_as(studio.member)
    html = client.get("/o/acme/").get_data(as_text=True)
    assert f'/api/v1/themes/{studio.org.public_id}/assets/{logo.filename}" alt="Acme" class="logo-light"' in html
    assert f'<link rel="icon" href="/api/v1/themes/{studio.org.public_id}/assets/{icon.filename}">' in html


def test_another_orgs_pages_are_unchanged(studio, login_as, client):
    _publish(studio, primary="#aa0000")
    login_as(studio.other_admin)
    assert _stylesheet_link(client.get("/o/bravo/").get_data(as_text=True)) is None


def test_safe_mode_turns_the_theme_off_for_the_session_and_back_on(studio, login_as, client):
    _publish(studio, primary="#aa0000")
    login_as(studio.admin)
    off = client.get("/o/acme/?safe_mode=1").get_data(as_text=True)
    assert _stylesheet_link(off) is None and 'id="safe-mode"' in off
    assert _stylesheet_link(client.get("/o/acme/members").get_data(as_text=True)) is None  # still off: it's the session's
    assert _stylesheet_link(client.get("/o/acme/?safe_mode=0").get_data(as_text=True)) is not None


def test_platform_pages_keep_the_platform_look(studio, login_as, client):
    _publish(studio, primary="#aa0000")
    login_as(UserFactory(platform_role="super_admin"))
    console = client.get("/admin/")
    assert console.status_code == 200 and _stylesheet_link(console.get_data(as_text=True)) is None
    login_as(UserFactory(platform_role="support_agent"))
    queue = client.get("/support/queue")
    assert queue.status_code == 200 and _stylesheet_link(queue.get_data(as_text=True)) is None


def test_the_stylesheet_is_for_members_only_and_another_orgs_admin_gets_404(studio, login_as, client):
    _publish(studio, primary="#aa0000")
    login_as(studio.other_admin)
    assert client.get("/o/acme/theme.css").status_code == 404


def test_a_release_that_changes_the_generated_css_changes_the_url_without_a_new_publish(studio, login_as, client, monkeypatch):
    """A browser caches the linked stylesheet for a year: when a deploy changes what the generator writes (new
    variables), the same published version must be linked by a new URL, or members keep last release's CSS."""
    version = _publish(studio, primary="#aa0000")
    login_as(studio.member)
    before = _stylesheet_link(client.get("/o/acme/").get_data(as_text=True))
    original = published_module.build
    monkeypatch.setattr(published_module, "build", lambda *a, **k: original(*a, **k) + "\n:root { --portal-new-variable: 1px; }")
    service.clear_cache()  # a new release starts with an empty cache
    after = _stylesheet_link(client.get("/o/acme/").get_data(as_text=True))
    assert after != before and service.published_version(studio.org) == version.public_id
    served = client.get(after)
    assert "--portal-new-variable" in served.get_data(as_text=True) and "immutable" in served.headers["Cache-Control"]
    assert "no-cache" in client.get(before).headers["Cache-Control"]  # the old URL is revalidated, not kept a year
