"""Custom JavaScript: off until a super admin allows it (audit-logged); then an org admin writes it in the editor or
the API, publishes it with the theme, and members' own org pages load it as a same-origin file. Never on safe mode,
on pages platform staff view, nor on pages that show a secret or a password form; the CSP never loosens."""

from __future__ import annotations

from sqlalchemy import select

from portal.accounts.emails import reset_token
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.keys.service import create_key
from portal.orgs.models import Membership
from portal.themes import service
from portal.themes.models import ThemeVersion
from tests.factories import UserFactory, member
from tests.security.helpers import tags

SCRIPT = "window.__themeRan = true;"


def theme_scripts(html: str) -> list[dict]:
    """The page's <script> tags that load an org's custom JavaScript."""
    return [t for t in tags(html, "script") if "/theme.js" in (t.get("src") or "")]


def script_src_policy(response) -> str:
    policy = response.headers["Content-Security-Policy"]
    return next(part for part in policy.split(";") if part.strip().startswith("script-src"))


def allow_and_publish(studio, text: str = SCRIPT) -> ThemeVersion:
    """A super admin allows the org custom JavaScript; its admin writes some and publishes."""
    boss = UserFactory(platform_role="super_admin", email="root@platform.test")
    service.set_custom_js_allowed(studio.org, True, by=boss)
    service.update_draft(studio.org, {"primary": "#aa0000"}, custom_js=text, by=studio.admin)
    version = service.publish(studio.org, by=studio.admin)
    db.session.commit()
    return version


def test_a_members_page_loads_the_published_script_from_its_own_file(studio, login_as, client):
    version = allow_and_publish(studio)
    login_as(studio.member)
    page = client.get("/o/acme/")
    [tag] = theme_scripts(page.text)
    assert tag["src"].startswith("/o/acme/theme.js?v=") and tag["nonce"] and "defer" in tag
    assert SCRIPT not in page.text  # never inlined
    served = client.get(tag["src"])
    assert served.status_code == 200 and served.mimetype == "application/javascript" and served.text == SCRIPT
    assert tag["src"].endswith(served.headers["ETag"].strip('"')) and version.custom_js == SCRIPT  # named by its content
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert client.get(tag["src"], headers={"If-None-Match": served.headers["ETag"]}).status_code == 304
    assert "no-cache" in client.get("/o/acme/theme.js").headers["Cache-Control"]  # unversioned: revalidated
    login_as(studio.other_admin)
    assert client.get(tag["src"]).status_code == 404  # another org's member


def test_the_csp_admits_the_script_as_self_and_never_inline_or_eval(studio, login_as, client):
    allow_and_publish(studio)
    login_as(studio.member)
    for url in ("/o/acme/", "/o/acme/theme.js", "/login"):
        policy = script_src_policy(client.get(url))
        assert "'self'" in policy and "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, (url, policy)


def test_without_the_super_admins_permission_there_is_no_tag_no_file_and_the_api_refuses(studio, login_as, client, row_counts):
    service.update_draft(studio.org, {"primary": "#aa0000"}, by=studio.admin)
    service.publish(studio.org, by=studio.admin)
    db.session.commit()
    login_as(studio.admin)
    before = row_counts()
    refused = client.put("/api/v1/themes/acme", json={"custom_js": SCRIPT, "publish": True})
    assert refused.status_code == 422 and refused.json["error"]["fields"]["custom_js"] == service.JS_OFF
    assert row_counts() == before
    editor = client.get("/o/acme/settings/theme").text
    assert "Custom JavaScript is off for this organization; a platform admin can turn it on." in editor
    assert 'name="custom_js"' not in editor
    # A posted custom_js field is ignored, not saved, while the org is not allowed it.
    client.post("/o/acme/settings/theme", data={**service.draft(studio.org).settings, "custom_css": "", "custom_js": SCRIPT})
    db.session.expire_all()
    assert service.draft(studio.org).custom_js == ""
    login_as(studio.member)
    assert theme_scripts(client.get("/o/acme/").text) == []
    assert client.get("/o/acme/theme.js").status_code == 404


def test_turning_it_off_drops_the_script_on_the_next_page_without_a_publish(studio, login_as, client):
    allow_and_publish(studio)
    login_as(studio.member)
    assert theme_scripts(client.get("/o/acme/").text)
    boss = UserFactory(platform_role="super_admin")
    service.set_custom_js_allowed(studio.org, False, by=boss)
    db.session.commit()
    assert theme_scripts(client.get("/o/acme/").text) == []
    assert client.get("/o/acme/theme.js").status_code == 404
    service.set_custom_js_allowed(studio.org, True, by=boss)  # what was published comes back
    db.session.commit()
    assert theme_scripts(client.get("/o/acme/").text)


def test_safe_mode_turns_the_script_off_for_the_session(studio, login_as, client):
    allow_and_publish(studio)
    login_as(studio.member)
    assert theme_scripts(client.get("/o/acme/?safe_mode=1").text) == []
    assert theme_scripts(client.get("/o/acme/members").text) == []  # for the rest of the session
    assert theme_scripts(client.get("/o/acme/?safe_mode=0").text)


def test_platform_staff_never_run_an_orgs_script_even_as_its_members(studio, login_as, client):
    allow_and_publish(studio)
    for role in ("super_admin", "support_agent"):
        staff = member(studio.org, "org_admin", platform_role=role, email=f"{role}@platform.test")
        login_as(staff)
        page = client.get("/o/acme/")
        assert page.status_code == 200 and "theme-css" in page.text  # the org's look, without its code
        assert theme_scripts(page.text) == [], role


def test_pages_that_show_a_secret_or_a_password_form_load_no_script(studio, login_as, client):
    allow_and_publish(studio)
    login_as(studio.member)
    assert theme_scripts(client.get("/o/acme/keys").text)  # an ordinary member page has it
    created = client.post("/o/acme/keys", data={"name": "nightly", "scopes": ["read"], "rate_limit": "60"})
    assert created.status_code == 200 and "nightly" in created.text
    assert theme_scripts(created.text) == []
    membership = db.session.scalar(select(Membership).where(Membership.user_id == studio.member.id))
    key, _secret = create_key(studio.org, membership, name="to rotate", scopes=["read"])
    db.session.commit()
    rotated = client.post(f"/o/acme/keys/{key.public_id}/rotate", data={"grace_period": "0"})
    assert rotated.status_code == 200 and theme_scripts(rotated.text) == []
    profile = client.get("/account")
    assert 'type="password"' in profile.text and theme_scripts(profile.text) == []
    llm = member(studio.org, "org_admin", email="wf@acme.test")
    login_as(llm)
    llm_page = client.get("/o/acme/workflows/llm-settings")
    assert llm_page.status_code == 200 and theme_scripts(llm_page.text) == []
    client.post("/logout")
    for url in ("/login", "/o/acme/login", f"/password/reset/{reset_token(studio.member)}"):
        answer = client.get(url)
        assert answer.status_code == 200 and theme_scripts(answer.text) == [], url


def test_the_editor_saves_the_script_to_the_draft_and_publish_takes_it_along(studio, login_as, client):
    service.set_custom_js_allowed(studio.org, True, by=UserFactory(platform_role="super_admin"))
    db.session.commit()
    login_as(studio.admin)
    editor = client.get("/o/acme/settings/theme").text
    assert 'name="custom_js"' in editor and "Custom JavaScript is off" not in editor
    form = {**service.draft(studio.org).settings, "custom_css": "", "custom_js": SCRIPT}
    assert client.post("/o/acme/settings/theme", data=form).status_code == 303
    db.session.expire_all()
    assert service.draft(studio.org).custom_js == SCRIPT
    assert client.get("/o/acme/theme.js").status_code == 404  # a draft: members see nothing yet
    too_big = client.post("/o/acme/settings/theme", data={**form, "custom_js": "x" * (service.MAX_JS_BYTES + 1)})
    assert too_big.status_code == 422 and "50 KB at most" in too_big.text
    client.post("/o/acme/settings/theme/publish", data={})
    assert client.get("/o/acme/theme.js").text == SCRIPT


def test_the_api_takes_custom_js_when_allowed_and_revert_and_reset_follow_it(studio, login_as, client):
    service.set_custom_js_allowed(studio.org, True, by=UserFactory(platform_role="super_admin"))
    db.session.commit()
    login_as(studio.admin)
    first = client.put("/api/v1/themes/acme", json={"custom_js": "window.one = 1;", "publish": True})
    assert first.status_code == 200 and first.json["custom_js"] == "window.one = 1;" and first.json["custom_js_allowed"]
    client.put("/api/v1/themes/acme", json={"custom_js": "window.two = 2;", "publish": True})
    assert client.get("/o/acme/theme.js").text == "window.two = 2;"
    service.revert(studio.org, first.json["published"]["version"], by=studio.admin)
    db.session.commit()
    assert client.get("/o/acme/theme.js").text == "window.one = 1;"
    service.reset(studio.org, by=studio.admin)
    db.session.commit()
    assert client.get("/o/acme/theme.js").status_code == 404
    assert service.draft(studio.org).custom_js == ""


def test_the_super_admins_switch_is_audit_logged_and_refused_to_anyone_else(studio, login_as, client, row_counts):
    url = f"/admin/orgs/{studio.org.public_id}/custom-js"
    agent = UserFactory(platform_role="support_agent")
    login_as(agent)
    before = row_counts()
    assert client.post(url, data={"allowed": "1"}).status_code == 403
    login_as(studio.admin)
    assert client.post(url, data={"allowed": "1"}).status_code == 404  # the console does not exist for members
    assert row_counts() == before
    boss = UserFactory(platform_role="super_admin", name="Root")
    login_as(boss)
    listing = client.get("/admin/orgs").text
    assert "Allow custom JavaScript" in listing and "Allow custom JavaScript for Acme?" in listing  # the confirm's words
    row = client.post(url, data={"allowed": "1"}, headers={"HX-Request": "true"})
    assert row.status_code == 200 and "Allowed" in row.text and "Turn custom JavaScript off" in row.text
    assert "Custom JavaScript allowed for Acme." in row.headers["HX-Trigger"]
    assert client.post(url, data={"allowed": "maybe"}).status_code == 422
    client.post(url, data={"allowed": "0"})
    db.session.expire_all()
    assert service.draft(studio.org).custom_js_allowed is False
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("theme.js_%")).order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor_id, e.org_id) for e in events] == [
        ("theme.js_allowed", boss.id, studio.org.id), ("theme.js_disallowed", boss.id, studio.org.id)]


def test_the_theme_editor_never_runs_the_script_it_edits(studio, login_as, client):
    allow_and_publish(studio)
    login_as(studio.admin)
    assert theme_scripts(client.get("/o/acme/").text)
    editor = client.get("/o/acme/settings/theme")
    assert editor.status_code == 200 and 'name="custom_js"' in editor.text and theme_scripts(editor.text) == []
