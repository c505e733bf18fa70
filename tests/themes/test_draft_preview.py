"""An org admin previews the saved draft on the org's real pages: for their session only, with a banner that takes
them back to the editor or stops it. Members, demoted admins and other orgs keep the published look; the draft's
stylesheet is the admin's alone; the draft's JavaScript never runs; safe mode wins."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.extensions import db
from portal.orgs.models import Membership
from portal.themes import service
from tests.factories import MembershipFactory, UserFactory

from .test_custom_js import theme_scripts
from .test_pages_and_stylesheet import _stylesheet_link

BANNER = "You are previewing the draft theme. Only you see it."
PUBLISHED, DRAFT = "#aa0000", "#0055aa"


def _published_and_drafted(studio) -> None:
    """Members see a red theme; the admin's saved draft is blue, not published."""
    service.update_draft(studio.org, {"primary": PUBLISHED}, by=studio.admin)
    service.publish(studio.org, by=studio.admin)
    service.update_draft(studio.org, {"primary": DRAFT}, by=studio.admin)
    db.session.commit()


def _previewing(client, org) -> None:
    """Set this session's preview flag for org, as "Preview the draft" does (to try it on someone who may not)."""
    with client.session_transaction() as sess:
        sess["theme_preview"] = [org.public_id]


def _primary(client, html: str) -> str | None:
    css = client.get(_stylesheet_link(html)).get_data(as_text=True)
    found = re.search(r"--portal-primary: (#[0-9a-f]{6})", css)
    return found.group(1) if found else None


def test_the_admin_previewing_sees_the_draft_and_the_banner_on_every_org_page(studio, login_as, client):
    _published_and_drafted(studio)
    login_as(studio.admin)
    started = client.post("/o/acme/settings/theme/preview")
    assert started.status_code == 303 and started.headers["Location"] == "/o/acme/"
    for path in ("/o/acme/", "/o/acme/members", "/o/acme/settings/theme"):
        html = client.get(path).get_data(as_text=True)
        link = _stylesheet_link(html)
        assert link.startswith("/o/acme/settings/theme/draft.css?v="), path
        assert BANNER in html and 'role="status" id="draft-preview-banner"' in html
        assert 'href="/o/acme/settings/theme">Back to the editor</a>' in html
        assert _primary(client, html) == DRAFT
    draft_css = client.get(_stylesheet_link(client.get("/o/acme/").get_data(as_text=True)))
    assert draft_css.mimetype == "text/css" and "private" in draft_css.headers["Cache-Control"]
    assert "VetrAI draft theme" in draft_css.get_data(as_text=True)


def test_a_plain_member_keeps_the_published_theme_and_cannot_fetch_the_draft(studio, login_as, client):
    _published_and_drafted(studio)
    login_as(studio.member)
    assert client.post("/o/acme/settings/theme/preview").status_code == 403
    _previewing(client, studio.org)  # even with the session's flag set
    for path in ("/o/acme/", "/o/acme/search?q=ada"):
        html = client.get(path).get_data(as_text=True)
        assert _stylesheet_link(html).startswith("/o/acme/theme.css?v=") and BANNER not in html
        assert _primary(client, html) == PUBLISHED
    assert client.get("/o/acme/settings/theme/draft.css").status_code == 403
    login_as(studio.other_admin)
    assert client.get("/o/acme/settings/theme/draft.css").status_code == 404  # another org's admin: it does not exist


def test_an_admin_who_loses_org_settings_stops_seeing_the_draft_at_once(studio, login_as, client):
    _published_and_drafted(studio)
    login_as(studio.admin)
    client.post("/o/acme/settings/theme/preview")
    membership = db.session.scalar(select(Membership).filter_by(org_id=studio.org.id, user_id=studio.admin.id))
    membership.role = "user"
    db.session.commit()
    html = client.get("/o/acme/").get_data(as_text=True)
    assert _stylesheet_link(html).startswith("/o/acme/theme.css?v=") and BANNER not in html
    assert client.get("/o/acme/settings/theme/draft.css").status_code == 403


def test_another_orgs_pages_are_unaffected_by_the_preview(studio, login_as, client):
    _published_and_drafted(studio)
    MembershipFactory(org=studio.other_org, role="org_admin", user=studio.admin)
    login_as(studio.admin)
    client.post("/o/acme/settings/theme/preview")
    html = client.get("/o/bravo/").get_data(as_text=True)
    assert _stylesheet_link(html) is None and BANNER not in html  # Bravo has published nothing, and nothing is previewed
    assert BANNER in client.get("/o/acme/").get_data(as_text=True)


def test_stop_previewing_returns_to_the_same_page_in_the_published_look_and_says_so(studio, login_as, client):
    _published_and_drafted(studio)
    login_as(studio.admin)
    client.post("/o/acme/settings/theme/preview")
    stopped = client.post("/o/acme/settings/theme/preview/stop", data={"next": "/o/acme/members?q=ada"})
    assert stopped.status_code == 303 and stopped.headers["Location"] == "/o/acme/members?q=ada"
    html = client.get("/o/acme/members?q=ada").get_data(as_text=True)
    assert "Preview stopped: you see the published theme again" in html and BANNER not in html
    assert _stylesheet_link(html).startswith("/o/acme/theme.css?v=") and _primary(client, html) == PUBLISHED


def test_stop_previewing_never_sends_anyone_off_the_org(studio, login_as, client):
    login_as(studio.admin)
    for outside in ("https://evil.test/o/acme/", "//evil.test/", "/o/bravo/", "/o/acme//evil.test"):
        answer = client.post("/o/acme/settings/theme/preview/stop", data={"next": outside})
        assert answer.headers["Location"] == "/o/acme/", outside


def test_stop_previewing_needs_the_forms_csrf_token(studio, login_as, client, csrf_enabled):
    _published_and_drafted(studio)
    login_as(studio.admin)
    _previewing(client, studio.org)
    refused = client.post("/o/acme/settings/theme/preview/stop", data={"next": "/o/acme/"})
    assert refused.status_code >= 400
    assert BANNER in client.get("/o/acme/").get_data(as_text=True)  # still previewing


def test_safe_mode_beats_the_preview(studio, login_as, client):
    _published_and_drafted(studio)
    login_as(studio.admin)
    client.post("/o/acme/settings/theme/preview")
    off = client.get("/o/acme/?safe_mode=1").get_data(as_text=True)
    assert _stylesheet_link(off) is None and BANNER not in off and 'id="safe-mode"' in off
    back = client.get("/o/acme/?safe_mode=0").get_data(as_text=True)
    assert _stylesheet_link(back).startswith("/o/acme/settings/theme/draft.css") and BANNER in back


def test_the_drafts_javascript_never_runs_in_the_preview(studio, login_as, client):
    boss = UserFactory(platform_role="super_admin", email="root@platform.test")
    service.set_custom_js_allowed(studio.org, True, by=boss)
    service.update_draft(studio.org, {"primary": PUBLISHED}, custom_js="window.__published = true;", by=studio.admin)
    service.publish(studio.org, by=studio.admin)
    service.update_draft(studio.org, {"primary": DRAFT}, custom_js="window.__draft = true;", by=studio.admin)
    db.session.commit()
    login_as(studio.admin)
    assert len(theme_scripts(client.get("/o/acme/").get_data(as_text=True))) == 1  # the published one, before
    client.post("/o/acme/settings/theme/preview")
    html = client.get("/o/acme/").get_data(as_text=True)
    assert theme_scripts(html) == [] and BANNER in html
    assert "__draft" not in client.get(_stylesheet_link(html)).get_data(as_text=True)
