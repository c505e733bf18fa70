"""An accessibility walk in Chromium: every GET page each demo role can reach (the security walks' route map,
with real ids), checked with axe-core for critical and serious violations, at 390 px for sideways scrolling,
and for a visible keyboard focus on the first thing Tab reaches.

Pages are what a person opens: a full HTML document answered 200. Fragments (HTMX partials, no doctype),
files, JSON and refusals (404 for a role without access, 4xx for a bogus token) are passed over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from portal.accounts import service as accounts
from portal.cli import DEMO_PASSWORD, DEMO_USERS, seed_demo
from portal.extensions import db
from portal.keys.service import create_key
from portal.models import utcnow
from portal.notifications.models import Delivery, Notification
from portal.orgs import service as orgs
from portal.orgs.models import Invitation
from tests.browser.fixtures import BROWSER_DIR, EXPECT_TIMEOUT_MS, VIEWPORT
from tests.security.routes import World, all_rules, build_path, is_api, values_for

# One walk of ~120 pages (about 80 s here): above the suite's per-test default, with room for a busy CI machine.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

AXE = BROWSER_DIR / "vendor" / "axe.min.js"
PHONE_WIDTH = 390
BLOCKING_IMPACTS = ("critical", "serious")
# GET routes that are not pages for a person to look at (they would only be passed over after a round trip).
NOT_PAGES = {"static", "keys.static", "core.health", "core.ready", "core.download", "workflows.prometheus",
             "themes.stylesheet", "themes.script", "themes.preview_css", "themes.export", "workflows.export_json",
             "notifications.badge", "notifications.bell", "support.download", "support.agent_download"}
ANONYMOUS = "anonymous"

RUN_AXE = """async (impacts) => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => impacts.includes(v.impact))
    .map(v => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
}"""

# The last few elements whose right edge passes the viewport: the innermost ones say what to fix.
PAST_THE_EDGE = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(-4).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : ''))"""

FOCUS_STYLE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  return {tag: el.tagName.toLowerCase(), text: (el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 40),
          outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0, shadow: s.boxShadow !== 'none'};
}"""


@dataclass
class Findings:
    axe: list[str] = field(default_factory=list)
    overflow: list[str] = field(default_factory=list)
    focus: list[str] = field(default_factory=list)
    pages: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def demo_world(app) -> World:
    """`flask seed-demo`'s organizations and logins, plus one of each object the route map names ids of."""
    seed_demo()
    demo, acme = orgs.org_by_slug("demo"), orgs.org_by_slug("acme")
    admin, user = accounts.find_user("admin@demo.test"), accounts.find_user("user@demo.test")
    invitation = Invitation(org_id=demo.id, email="newhire@demo.test", role="user", invited_by_id=admin.id,
                            expires_at=utcnow() + timedelta(days=7))
    notification = Notification(org_id=demo.id, user_id=admin.id, event="member.invited", title="Uma joined", in_inbox=True)
    db.session.add_all([invitation, notification])
    db.session.flush()
    delivery = Delivery(org_id=demo.id, notification_id=notification.id, channel="email", to_address=user.email, status="failed")
    db.session.add(delivery)
    db.session.commit()
    membership = orgs.membership_of(demo, user)
    key, _secret = create_key(demo, membership, name="Deploy key", scopes=["read"])
    acme_admin = accounts.find_user("admin@acme.test")
    world = World(demo, admin, user, membership, invitation, notification, delivery, acme, acme_admin,
                  orgs.membership_of(acme, acme_admin), key)
    db.session.commit()
    return world


def _page_paths(app, world: World, org_slug: str) -> list[tuple[str, str]]:
    """(endpoint, path) of every GET route that may be a page, with the world's ids and the role's org."""
    paths = []
    for rule in all_rules(app):
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES or is_api(rule.rule):
            continue
        values = values_for(world, rule, app, org_slug=org_slug, slug=org_slug)
        paths.append((rule.endpoint, build_path(rule, values)))
    return paths


def _role_org(email: str) -> str:
    return next((slug for e, _name, slug, _role in DEMO_USERS if e == email and slug), "demo")


def _check_page(pg, where: str, findings: Findings, *, run_axe: bool) -> None:
    if run_axe:
        pg.add_script_tag(path=str(AXE))
        for v in pg.evaluate(RUN_AXE, list(BLOCKING_IMPACTS)):
            findings.axe.append(f"{where}: {v['impact']} {v['id']} ({v['help']}) at {v['targets']}")
    pg.set_viewport_size({"width": PHONE_WIDTH, "height": VIEWPORT["height"]})
    width = pg.evaluate("document.documentElement.scrollWidth")
    if width > PHONE_WIDTH:
        findings.overflow.append(f"{where}: scrollWidth {width} > {PHONE_WIDTH}, past the edge: {pg.evaluate(PAST_THE_EDGE)}")
    pg.set_viewport_size(VIEWPORT)
    # A page that focuses a field itself (autofocus: the search box) starts there; elsewhere Tab reaches the first link.
    if pg.evaluate("document.activeElement === document.body"):
        pg.keyboard.press("Tab")
    focus = pg.evaluate(FOCUS_STYLE)
    if focus is None:
        findings.focus.append(f"{where}: Tab reached nothing")
    elif not (focus["outline"] or focus["shadow"]):
        findings.focus.append(f"{where}: the focused <{focus['tag']}> '{focus['text']}' has no outline or box-shadow")


def _is_page(response) -> bool:
    """A full HTML document answered 200 (not a refusal, a redirect elsewhere, a file or an HTMX fragment)."""
    return (response.status == 200 and "text/html" in response.headers.get("content-type", "")
            and response.text().lstrip()[:15].lower() == "<!doctype html>")


def _walk(pg, live_server, paths, who: str, findings: Findings, axe_done: set[str]) -> None:
    """Open each page the role reaches; axe runs once per endpoint (the first, most privileged role to reach it),
    the phone width and focus checks on every page."""
    seen = set()
    for endpoint, path in paths:
        # A cheap request first (same cookies): only pages are opened in the tab, with their CSS and scripts.
        if not _is_page(pg.request.get(live_server(path), max_redirects=5)):
            continue
        pg.goto(live_server(path))
        final = urlsplit(pg.url).path  # a login redirect's ?next= differs; the login page is one page
        if final in seen:
            continue
        seen.add(final)
        findings.pages[who] = findings.pages.get(who, 0) + 1
        _check_page(pg, f"{who} {path} ({endpoint})", findings, run_axe=endpoint not in axe_done)
        axe_done.add(endpoint)


def test_every_page_of_every_demo_role_passes_axe_fits_a_phone_and_shows_focus(app, browser, live_server, log_in, demo_world, monkeypatch,
                                                                               screenshot):
    findings, axe_done = Findings(), set()
    # The walk opens ~120 pages with the same stylesheets and scripts: let Chromium keep them instead of asking again.
    monkeypatch.setitem(app.config, "SEND_FILE_MAX_AGE_DEFAULT", 3600)
    roles = [ANONYMOUS] + [email for email, *_ in DEMO_USERS]
    for who in roles:
        # One context per role; bypass_csp lets the test inject axe as an inline script (the portal's CSP forbids that).
        context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC", bypass_csp=True)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        try:
            pg = context.new_page()
            if who != ANONYMOUS:
                log_in(pg, who, DEMO_PASSWORD)
            _walk(pg, live_server, _page_paths(app, demo_world, _role_org(who)), who, findings, axe_done)
            if who == "admin@demo.test":
                pg.set_viewport_size({"width": PHONE_WIDTH, "height": VIEWPORT["height"]})
                ticket = demo_world._support["ticket"]
                for name, path in (("a11y-walk-members-390", "/o/demo/members"), ("a11y-walk-ticket-390", f"/o/demo/tickets/{ticket}")):
                    pg.goto(live_server(path))
                    screenshot(pg, name)
        finally:
            context.close()

    assert findings.pages.get("admin@demo.test", 0) >= 20, f"the walk reached too few pages: {findings.pages}"
    problems = findings.axe + findings.overflow + findings.focus
    assert not problems, f"{len(problems)} accessibility problems on {findings.pages} pages:\n- " + "\n- ".join(problems)
