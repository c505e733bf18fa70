"""The draft, published versions, history, revert and reset, through the service (both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.themes import service, settings
from portal.themes.models import ThemeVersion
from portal.themes.services.drafts import find_theme


def test_before_any_change_the_draft_is_the_platform_default_and_reading_writes_nothing(studio, row_counts):
    before = row_counts()
    current = service.draft(studio.org)
    assert current.settings == settings.DEFAULTS and current.custom_css == "" and current.published_version_id is None
    assert service.published(studio.org).is_default
    assert row_counts() == before


def test_a_saved_draft_is_not_what_members_see_until_it_is_published(studio):
    service.update_draft(studio.org, {"primary": "#AA0000", "font": "inter", "radius": "8"}, by=studio.admin)
    assert service.draft(studio.org).settings["primary"] == "#aa0000"  # normalized
    assert service.published(studio.org).is_default
    version = service.publish(studio.org, by=studio.admin)
    shown = service.published(studio.org)
    assert not shown.is_default and shown.version == version.public_id and shown.settings["primary"] == "#aa0000"
    assert "--portal-primary: #aa0000" in shown.css and "--portal-radius: 8px" in shown.css


def test_every_bad_field_is_named_and_nothing_is_written(studio, row_counts):
    before = row_counts()
    with pytest.raises(ValidationFailed) as refused:
        service.update_draft(studio.org, {"primary": "blue", "radius": 99, "font": "comic-sans", "accent": "#12345"},
                             custom_css="@import url(x.css);", by=studio.admin)
    assert set(refused.value.fields) == {"primary", "radius", "font", "accent", "custom_css"}
    assert "Line 1, column 1" in refused.value.fields["custom_css"]
    db.session.rollback()
    assert row_counts() == before


def test_versions_are_numbered_immutable_and_listed_with_who_and_when(studio):
    for colour in ("#111111", "#222222", "#333333"):
        service.update_draft(studio.org, {"text_light": colour}, by=studio.admin)
        service.publish(studio.org, by=studio.admin)
    page = service.history(studio.org)
    assert [v.number for v in page.items] == [3, 2, 1]
    assert all(v.created_by.email == "ada@acme.test" and v.created_at is not None for v in page.items)
    first = page.items[-1]
    first.settings = {**first.settings, "primary": "#000000"}
    with pytest.raises(ValueError, match="immutable"):
        db.session.flush()
    db.session.rollback()


def test_revert_publishes_a_copy_of_an_older_version_and_makes_it_the_draft(studio):
    service.update_draft(studio.org, {"primary": "#aa0000"}, custom_css="a { color: red }", by=studio.admin)
    one = service.publish(studio.org, by=studio.admin)
    service.update_draft(studio.org, {"primary": "#00aa00"}, custom_css="", by=studio.admin)
    service.publish(studio.org, by=studio.admin)
    three = service.revert(studio.org, one.public_id, by=studio.admin)
    assert (three.number, three.kind, three.reverted_from) == (3, "revert", 1)
    assert service.published(studio.org).settings["primary"] == "#aa0000"
    assert service.draft(studio.org).custom_css == "a { color: red }"
    assert len(service.history(studio.org).items) == 3  # the old versions are all still there


def test_reset_brings_back_the_platform_look_and_keeps_the_history(studio):
    service.update_draft(studio.org, {"primary": "#aa0000"}, by=studio.admin)
    service.publish(studio.org, by=studio.admin)
    version = service.reset(studio.org, by=studio.admin)
    assert version.kind == "reset" and service.published(studio.org).is_default
    assert service.draft(studio.org).settings == settings.DEFAULTS
    assert [v.kind for v in service.history(studio.org).items] == ["reset", "publish"]


def test_publish_revert_and_reset_are_audit_logged_with_the_actor(studio):
    one = service.publish(studio.org, by=studio.admin)
    service.revert(studio.org, one.public_id, by=studio.admin)
    service.reset(studio.org, by=studio.admin)
    db.session.commit()
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("theme.%")).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["theme.published", "theme.reverted", "theme.reset"]
    assert {e.actor_id for e in events} == {studio.admin.id} and {e.org_id for e in events} == {studio.org.id}


def test_another_orgs_version_cannot_be_reverted_to(studio):
    theirs = service.publish(studio.other_org, by=studio.other_admin)
    with pytest.raises(NotFound):
        service.revert(studio.org, theirs.public_id, by=studio.admin)


def test_each_org_has_its_own_draft_and_versions(studio):
    service.update_draft(studio.org, {"primary": "#aa0000"}, by=studio.admin)
    service.publish(studio.org, by=studio.admin)
    assert service.draft(studio.other_org).settings["primary"] == settings.DEFAULTS["primary"]
    assert service.published(studio.other_org).is_default and service.history(studio.other_org).total == 0
    assert find_theme(studio.other_org) is None  # reading never made a row for it


def test_presets_fill_colours_font_and_radius(studio):
    service.apply_preset(studio.org, "editorial", by=studio.admin)
    current = service.draft(studio.org).settings
    assert current["font"] == "source-serif-4" and current["radius"] == 0 and current["primary"] == "#9f1239"
    with pytest.raises(ValidationFailed) as refused:
        service.apply_preset(studio.org, "neon", by=studio.admin)
    assert "preset" in refused.value.fields


def test_export_then_import_into_another_org_gives_the_same_draft(studio):
    service.update_draft(studio.org, {"primary": "#aa0000", "font": "inter"}, custom_css="h1 { letter-spacing: 1px }", by=studio.admin)
    document = service.export_theme(studio.org)
    assert document["format"] == "vetrai-theme" and "logo_light" not in document["settings"]
    service.import_theme(studio.other_org, document, by=studio.other_admin)
    theirs = service.draft(studio.other_org)
    assert theirs.settings["primary"] == "#aa0000" and theirs.custom_css == "h1 { letter-spacing: 1px }"


@pytest.mark.parametrize("document", [
    [], {"format": "other"}, {"format": "vetrai-theme", "version": 99, "settings": {}},
    {"format": "vetrai-theme", "version": 1, "settings": {"logo_light": "tha_x"}},
    {"format": "vetrai-theme", "version": 1, "settings": {"primary": "red"}},
    {"format": "vetrai-theme", "version": 1, "settings": {}, "custom_css": "a{behavior:url(x.htc)}"},
])
def test_a_bad_import_is_refused_with_a_reason(studio, document):
    with pytest.raises(ValidationFailed) as refused:
        service.import_theme(studio.org, document, by=studio.admin)
    assert refused.value.fields
    db.session.rollback()
    assert service.draft(studio.org).settings == settings.DEFAULTS


def test_only_the_orgs_own_uploads_may_be_named_as_logos(studio):
    with pytest.raises(ValidationFailed) as refused:
        service.update_draft(studio.org, {"logo_light": "tha_notmine"}, by=studio.admin)
    assert "logo_light" in refused.value.fields


def test_version_numbers_count_per_org(studio):
    service.publish(studio.org, by=studio.admin)
    service.publish(studio.org, by=studio.admin)
    theirs = service.publish(studio.other_org, by=studio.other_admin)
    assert theirs.number == 1
    assert db.session.scalar(select(ThemeVersion.number).where(ThemeVersion.public_id == theirs.public_id)) == 1
