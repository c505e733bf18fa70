"""Publishing a draft with colour pairs below WCAG AA: the editor first shows the failing pairs (measured ratio,
suggested colour) and publishes only after "Publish anyway"; a passing draft publishes at once; the API still does."""

from __future__ import annotations

import re

from portal.extensions import db
from portal.themes import contrast, service

GREY = "#aaaaaa"  # on white: 2.32:1, below the 4.5:1 body text needs


def _accepted(html: str) -> str:
    return re.search(r'name="accepted" type="hidden" value="([0-9a-f]+)"', html).group(1)


def test_a_passing_draft_publishes_at_once(studio, login_as, client):
    login_as(studio.admin)
    response = client.post("/o/acme/settings/theme/publish")
    assert response.status_code == 303 and service.history(studio.org).total == 1


def test_a_failing_draft_shows_the_pairs_and_publishes_only_when_confirmed(studio, login_as, client):
    service.update_draft(studio.org, {"text_light": GREY}, by=studio.admin)
    db.session.commit()
    login_as(studio.admin)
    warning = client.post("/o/acme/settings/theme/publish")
    html = warning.get_data(as_text=True)
    suggestion = contrast.nearest_passing(GREY, "#ffffff", 4.5)
    assert warning.status_code == 200 and "1 colour pair below WCAG AA" in html
    assert 'data-check="text_light"' in html and "measured 2.32:1, needs 4.5:1" in html
    assert f"Suggested text (light mode): <code>{suggestion}</code>" in html and "Publish anyway" in html
    assert service.history(studio.org).total == 0 and service.published(studio.org).is_default

    confirmed = client.post("/o/acme/settings/theme/publish", data={"accepted": _accepted(html)})
    assert confirmed.status_code == 303
    assert service.history(studio.org).total == 1 and service.published(studio.org).settings["text_light"] == GREY


def test_a_draft_changed_after_the_warning_asks_again(studio, login_as, client):
    service.update_draft(studio.org, {"text_light": GREY}, by=studio.admin)
    db.session.commit()
    login_as(studio.admin)
    accepted = _accepted(client.post("/o/acme/settings/theme/publish").get_data(as_text=True))
    service.update_draft(studio.org, {"primary": "#9ec5ee"}, by=studio.other_admin)  # another admin makes links pale too
    db.session.commit()
    again = client.post("/o/acme/settings/theme/publish", data={"accepted": accepted}).get_data(as_text=True)
    assert "2 colour pairs below WCAG AA" in again and 'data-check="links_light"' in again
    assert service.history(studio.org).total == 0


def test_using_the_suggestions_puts_passing_colours_in_the_draft_and_then_publish_is_direct(studio, login_as, client):
    service.update_draft(studio.org, {"text_light": GREY, "accent": "#ffd54f"}, by=studio.admin)
    db.session.commit()
    login_as(studio.admin)
    assert client.post("/o/acme/settings/theme/contrast-fix").status_code == 303
    assert contrast.failing(service.draft(studio.org).settings) == []
    assert service.history(studio.org).total == 0  # the fix only changes the draft
    assert client.post("/o/acme/settings/theme/publish").status_code == 303 and service.history(studio.org).total == 1


def test_a_plain_member_and_another_orgs_admin_cannot_see_the_check(studio, login_as, client):
    service.update_draft(studio.org, {"text_light": GREY}, by=studio.admin)
    db.session.commit()
    login_as(studio.member)
    assert client.post("/o/acme/settings/theme/publish").status_code == 403
    assert client.post("/o/acme/settings/theme/contrast-fix").status_code == 403
    login_as(studio.other_admin)
    assert client.post("/o/acme/settings/theme/publish", data={"accepted": "x"}).status_code == 404
    assert client.post("/o/acme/settings/theme/contrast-fix").status_code == 404
    assert service.draft(studio.org).settings["text_light"] == GREY and service.history(studio.org).total == 0


def test_the_api_publishes_a_failing_draft_and_answers_with_its_contrast_warnings(studio, login_as, client):
    login_as(studio.admin)
    response = client.put("/api/v1/themes/acme", json={"text_light": GREY, "publish": True})
    body = response.get_json()
    assert response.status_code == 200 and body["published"]["number"] == 1
    failing = [c for c in body["contrast"] if not c["passes"]]
    assert [c["pair"] for c in failing] == ["text_light"]
    assert failing[0]["ratio"] == 2.32 and failing[0]["suggestion"] == contrast.nearest_passing(GREY, "#ffffff", 4.5)
