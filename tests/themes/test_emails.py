"""Emails wear the sending org's published theme, received through the real SMTP server (both backends): the HTML
part's elements carry the colours in style= (no <style> block left for a mail client to drop), the logo is an
absolute URL that serves the uploaded file, and the text/plain part says the same thing; another org's email
has its own colours, and an org without a theme (or an email with no org) looks like the platform."""

from __future__ import annotations

from portal.extensions import db
from portal.notifications import service as notifications
from portal.themes import service
from tests.factories import OrgFactory, member

from .emails import Element, elements, logo_png, parts, publish_theme

BASE_URL = "http://portal.test"  # the tests' BASE_URL, in the app and in the RQ worker alike
ACME = {"primary": "#aa0000", "background_light": "#fffdf8", "text_light": "#292524", "font": "source-serif-4"}
BRAVO = {"primary": "#1d6b3a", "background_light": "#fbfdf9", "text_light": "#1f2a22"}
PLATFORM_PRIMARY = "#0b5cab"
RUN = {"workflow_name": "Summarize leads", "run_id": "run_Q2x9", "error": "LLM endpoint timed out"}


def _notify(org, user, **data) -> None:
    notifications.notify(org, [user], "workflow.failed", {**RUN, **data})
    db.session.commit()  # the caller's unit of work: deliveries go out after it


def _card(found: list[Element]) -> Element:
    return next(e for e in found if "card" in e.classes)


def _button(found: list[Element], label: str) -> Element:
    return next(e for e in found if e.tag == "a" and label in e.text)


def _assert_inlined(html: str, found: list[Element]) -> None:
    """No CSS left that needs a <style> block, and every class that draws something got its style= attribute."""
    assert "<style" not in html.lower() and "<link" not in html.lower()
    styled = [e for e in found if e.classes & {"card", "content", "footer", "button", "brand", "logo"}]
    assert styled and all(e.style for e in styled), [e.tag for e in styled if not e.style]


def test_an_invitation_from_a_themed_org_has_its_logo_and_colours_and_the_same_words_as_text(studio, client, login_as, mailbox):
    logo = logo_png()
    theme = publish_theme(studio.org, studio.admin, ACME, logo=logo)
    login_as(studio.admin)
    sent = client.post("/o/acme/invitations", data={"email": "newbie@example.test", "role": "user"}, headers={"HX-Request": "true"})
    assert sent.status_code == 200

    text, html = parts(mailbox.wait_for("newbie@example.test")[0])
    found = elements(html)
    _assert_inlined(html, found)
    card = _card(found)
    assert card.style["background-color"] == "#fffdf8" and card.style["color"] == "#292524"
    assert card.style["border-top"] == "4px solid #aa0000"
    # The theme's font, with its fallbacks (web fonts rarely load in mail): quoted names intact, not escaped.
    content = next(e for e in found if "content" in e.classes)
    assert content.style["font-family"].replace('"', "'") == "'source serif 4', georgia, 'times new roman', serif"
    button = _button(found, "Open in VetrAI Portal")
    assert button.style["background-color"] == "#aa0000" and button.style["color"] == "#ffffff"
    # The logo: an absolute URL (a mail client has no base) to the content-hashed file, which serves the upload.
    [img] = [e for e in found if e.tag == "img"]
    assert img.attrs["src"] == BASE_URL + theme.logos["logo_light"] and img.attrs["alt"] == "Acme"
    served = client.get(img.attrs["src"].removeprefix(BASE_URL))
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == logo
    # The text part: the same message and the same link, no markup.
    invite_link = button.attrs["href"]
    assert "/invite/" in invite_link
    assert f"{studio.admin.display_name} invited you to join Acme as User." in text
    assert f"Accept the invitation: {invite_link}" in text and "Sent by Acme on VetrAI Portal." in text
    assert "<" not in text
    heading = next(e for e in found if e.tag == "h1")
    assert heading.text == "You're invited to Acme on VetrAI Portal"


def test_each_orgs_notification_wears_its_own_theme(studio, mailbox):
    publish_theme(studio.org, studio.admin, ACME, logo=logo_png())
    publish_theme(studio.other_org, studio.other_admin, BRAVO)
    _notify(studio.org, studio.member, url=f"{BASE_URL}/o/acme/workflows")
    _notify(studio.other_org, studio.other_admin, url=f"{BASE_URL}/o/bravo/workflows")

    acme_text, acme_html = parts(mailbox.wait_for("uma@acme.test")[0])
    bravo_text, bravo_html = parts(mailbox.wait_for("bob@bravo.test")[0])
    acme, bravo = elements(acme_html), elements(bravo_html)
    _assert_inlined(acme_html, acme)
    _assert_inlined(bravo_html, bravo)
    assert _button(acme, "Open in VetrAI Portal").style["background-color"] == "#aa0000"
    assert _button(bravo, "Open in VetrAI Portal").style["background-color"] == "#1d6b3a"
    assert _card(bravo).style["background-color"] == "#fbfdf9" and _card(bravo).style["color"] == "#1f2a22"
    # Bravo has no logo: its name heads the email, in its primary colour; nothing of Acme's theme leaks in.
    assert not [e for e in bravo if e.tag == "img"]
    brand = next(e for e in bravo if "brand" in e.classes)
    assert brand.text.strip() == "Bravo" and brand.style["color"] == "#1d6b3a"
    assert "#aa0000" not in bravo_html and "Acme" not in bravo_html
    for text, org in ((acme_text, "Acme"), (bravo_text, "Bravo")):
        assert "The Summarize leads run failed: LLM endpoint timed out" in text
        assert f"Sent by {org} on VetrAI Portal." in text and "Change what you receive: http://portal.test/" in text
    # The HTML's unsubscribe link is the text part's.
    unsubscribe = next(e for e in acme if e.tag == "a" and "Change which emails you get" in e.text).attrs["href"]
    assert f"Change what you receive: {unsubscribe}" in acme_text


def test_a_reset_theme_and_an_org_that_never_had_one_send_in_the_platform_look(studio, mailbox):
    publish_theme(studio.org, studio.admin, ACME, logo=logo_png())
    service.reset(studio.org, by=studio.admin)
    db.session.commit()
    plain = OrgFactory(name="R&D <Lab>", slug="rnd")
    rita = member(plain, email="rita@rnd.test")
    _notify(studio.org, studio.member, url=f"{BASE_URL}/o/acme/workflows")
    _notify(plain, rita, url=f"{BASE_URL}/o/rnd/workflows")

    for address, name in (("uma@acme.test", "Acme"), ("rita@rnd.test", "R&D <Lab>")):
        text, html = parts(mailbox.wait_for(address)[0])
        found = elements(html)
        _assert_inlined(html, found)
        assert _button(found, "Open in VetrAI Portal").style["background-color"] == PLATFORM_PRIMARY
        assert _card(found).style["border-top"] == f"4px solid {PLATFORM_PRIMARY}"
        assert not [e for e in found if e.tag == "img"] and "#aa0000" not in html
        assert next(e for e in found if "brand" in e.classes).text.strip() == name  # parsed back: it was escaped
        assert f"Sent by {name} on VetrAI Portal." in text
    assert "R&amp;D &lt;Lab&gt;" in html


def test_a_sign_up_email_belongs_to_no_org_and_has_the_platform_look(client, mailbox):
    client.post("/signup", data={"name": "Nina New", "email": "nina@example.test", "password": "plum-tractor-quietly-91",
                                 "org_name": "Nina's Lab", "org_slug": "ninas-lab"})
    text, html = parts(mailbox.wait_for("nina@example.test")[0])
    found = elements(html)
    _assert_inlined(html, found)
    button = _button(found, "Verify email")
    assert button.style["background-color"] == PLATFORM_PRIMARY and "/verify/" in button.attrs["href"]
    assert next(e for e in found if "brand" in e.classes).text.strip() == "VetrAI Portal"
    assert "Confirm that nina@example.test is your address" in text and button.attrs["href"] in text
    assert "You received this because of an action on VetrAI Portal." in text
