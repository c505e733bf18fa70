"""The editor's "Preview the draft on the real pages" posts the editor's form: it saves what the admin typed into the
draft first (refusing a bad value with its field error, and no preview), then previews it under one message;
publishing ends the preview, since the draft is then what everyone sees."""

from __future__ import annotations

import re

from portal.extensions import db
from portal.themes import service

from .test_draft_preview import BANNER, DRAFT, PUBLISHED, _primary
from .test_editor_pages import form
from .test_pages_and_stylesheet import _stylesheet_link

UNSAVED = "#00aa00"
PASSING = "#006400"  # dark enough for white text: publishing asks no contrast question


def _published_and_drafted(studio) -> None:
    service.update_draft(studio.org, {"primary": PUBLISHED}, by=studio.admin)
    service.publish(studio.org, by=studio.admin)
    service.update_draft(studio.org, {"primary": DRAFT}, by=studio.admin)
    db.session.commit()


def test_the_preview_button_posts_the_editors_form_and_says_it_saves(studio, login_as, client):
    login_as(studio.admin)
    html = client.get("/o/acme/settings/theme").get_data(as_text=True)
    editor_form = re.search(r'<form[^>]*id="theme-form".*?</form>', html, re.S).group(0)
    assert 'id="start-preview" formaction="/o/acme/settings/theme/preview"' in editor_form
    assert "Saves the draft, then shows it on every page of Acme" in editor_form


def test_unsaved_values_posted_with_preview_are_saved_and_previewed(studio, login_as, client):
    _published_and_drafted(studio)
    login_as(studio.admin)
    started = client.post("/o/acme/settings/theme/preview", data=form(primary=UNSAVED, custom_css="h1 { letter-spacing: 2px }"))
    assert started.status_code == 303 and started.headers["Location"] == "/o/acme/"
    draft = service.draft(studio.org)
    assert draft.settings["primary"] == UNSAVED and draft.custom_css == "h1 { letter-spacing: 2px }"
    page = client.get("/o/acme/").get_data(as_text=True)
    assert BANNER in page and _stylesheet_link(page).startswith("/o/acme/settings/theme/draft.css?v=")
    assert _primary(client, page) == UNSAVED
    assert f'value="{UNSAVED}"' in client.get("/o/acme/settings/theme").get_data(as_text=True)  # not lost in the editor
    assert service.published(studio.org, lambda path: path).settings["primary"] == PUBLISHED  # members: still published


def test_an_invalid_colour_re_renders_the_editor_with_its_error_and_starts_no_preview(studio, login_as, client):
    _published_and_drafted(studio)
    login_as(studio.admin)
    refused = client.post("/o/acme/settings/theme/preview", data=form(primary="nope", accent=UNSAVED))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="primary-error"' in html and 'id="theme-form"' in html
    assert service.draft(studio.org).settings["primary"] == DRAFT  # nothing saved, not even the valid accent
    assert service.draft(studio.org).settings["accent"] != UNSAVED
    page = client.get("/o/acme/").get_data(as_text=True)
    assert BANNER not in page and _stylesheet_link(page).startswith("/o/acme/theme.css?v=")


def test_the_preview_needs_the_editors_csrf_token(studio, login_as, client, csrf_enabled):
    _published_and_drafted(studio)
    login_as(studio.admin)
    refused = client.post("/o/acme/settings/theme/preview", data=form(primary=UNSAVED))
    assert refused.status_code >= 400
    assert service.draft(studio.org).settings["primary"] == DRAFT
    assert BANNER not in client.get("/o/acme/").get_data(as_text=True)


def test_starting_a_preview_says_so_once(studio, login_as, client):
    _published_and_drafted(studio)
    login_as(studio.admin)
    client.post("/o/acme/settings/theme/preview", data=form(primary=UNSAVED))
    page = client.get("/o/acme/").get_data(as_text=True)
    assert page.count("You are previewing the draft") == 1
    assert "Draft saved" not in page


def test_publishing_ends_the_preview(studio, login_as, client):
    _published_and_drafted(studio)
    login_as(studio.admin)
    client.post("/o/acme/settings/theme/preview", data=form(primary=PASSING))
    assert BANNER in client.get("/o/acme/").get_data(as_text=True)
    published = client.post("/o/acme/settings/theme/publish")
    assert published.status_code == 303
    editor = client.get(published.headers["Location"]).get_data(as_text=True)
    assert "Published: members see the new theme" in editor and BANNER not in editor
    page = client.get("/o/acme/").get_data(as_text=True)
    assert BANNER not in page and _stylesheet_link(page).startswith("/o/acme/theme.css?v=")
    assert _primary(client, page) == PASSING  # the draft, now published
