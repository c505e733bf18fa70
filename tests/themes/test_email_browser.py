"""Chromium at a mail client's 600 px: a received themed email, opened as a file, shows the org's logo (fetched from its
absolute URL), its colours and a readable layout with no horizontal scrolling; the screenshot is saved to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.extensions import db
from portal.notifications import service as notifications

from .emails import logo_png, parts, publish_theme

pytestmark = pytest.mark.browser

BASE_URL = "http://portal.test"
EMAILS = Path(__file__).resolve().parents[1] / "artifacts" / "emails"


def test_a_themed_email_reads_well_at_600px(studio, client, mailbox, new_context, screenshot):
    publish_theme(studio.org, studio.admin, {"primary": "#aa0000", "background_light": "#fffdf8", "text_light": "#292524"},
                  logo=logo_png())
    data = {"workflow_name": "Summarize leads", "run_id": "run_Q2x9", "error": "LLM endpoint timed out",
            "url": f"{BASE_URL}/o/acme/workflows"}
    notifications.notify(studio.org, [studio.member], "workflow.failed", data)
    db.session.commit()
    _, html = parts(mailbox.wait_for("uma@acme.test")[0])
    EMAILS.mkdir(parents=True, exist_ok=True)
    path = EMAILS / "themed-notification.html"
    path.write_text(html, encoding="utf-8")

    context = new_context()
    # The email's absolute URLs name the tests' BASE_URL: answer them from the app, as the real host would.
    context.route(f"{BASE_URL}/**", lambda route: _from_app(client, route))
    pg = context.new_page()
    pg.set_viewport_size({"width": 600, "height": 800})
    pg.goto(path.as_uri())
    logo = pg.locator("img.logo")
    logo.wait_for()
    assert logo.evaluate("img => img.complete && img.naturalWidth") == 160
    assert pg.get_by_role("link", name="Open in VetrAI Portal").evaluate("a => getComputedStyle(a).backgroundColor") == "rgb(170, 0, 0)"
    assert pg.locator(".card").evaluate("t => getComputedStyle(t).backgroundColor") == "rgb(255, 253, 248)"
    assert pg.evaluate("document.documentElement.scrollWidth") <= 600
    assert pg.get_by_text("The Summarize leads run failed").is_visible()
    screenshot(pg, "email-themed-notification-600px")


def _from_app(client, route) -> None:
    answer = client.get(route.request.url.removeprefix(BASE_URL))
    route.fulfill(status=answer.status_code, body=answer.data, headers={"Content-Type": answer.content_type})
