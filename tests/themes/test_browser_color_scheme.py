"""Chromium: a member picks Dark in their profile and the org's dark palette paints the page (computed style);
System follows the device (`prefers-color-scheme`, emulated); Light stays light on a dark device; the platform's own
look stays readable in dark mode. Screenshots at 1280 and 390 px go to tests/artifacts/screenshots."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.themes import service
from portal.themes.contrast import ratio
from tests.factories import OrgFactory, member

from .test_browser_theme import log_in, watched

pytestmark = pytest.mark.browser

DARK_BACKGROUND, DARK_TEXT = "#1a1033", "#e6e0f5"
LIGHT_BACKGROUND = "#fffdf5"
PHONE = {"width": 390, "height": 844}


def _rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(colour[i:i + 2], 16) for i in (1, 3, 5)))


def _hex(computed: str) -> str:
    """'rgb(r, g, b)' (a computed colour) as '#rrggbb'."""
    return "#" + "".join(f"{int(part):02x}" for part in computed[computed.index("(") + 1:-1].split(",")[:3])


def colours(pg, selector: str) -> tuple[str, str]:
    """The text colour of the first match and the background it sits on (the nearest ancestor that paints one)."""
    return pg.locator(selector).first.evaluate("""el => {
        const text = getComputedStyle(el).color;
        for (let node = el; node; node = node.parentElement) {
            const bg = getComputedStyle(node).backgroundColor;
            if (bg !== "rgba(0, 0, 0, 0)") return [text, bg];
        }
        return [text, "rgb(255, 255, 255)"];
    }""")


def readable(pg, selector: str) -> float:
    text, background = colours(pg, selector)
    return ratio(_hex(text), _hex(background))


def page_background(pg) -> str:
    return pg.evaluate("getComputedStyle(document.documentElement).backgroundColor")


def choose_scheme(pg, live_server, label: str) -> None:
    pg.goto(live_server("/account"))
    pg.get_by_label("Colour scheme").select_option(label=label)
    pg.get_by_role("button", name="Save profile").click()
    expect(pg.get_by_text("Profile saved.")).to_be_visible()


def shoot_both_widths(pg, screenshot, name: str) -> None:
    screenshot(pg, f"{name}-1280")
    pg.set_viewport_size(PHONE)
    screenshot(pg, f"{name}-390")
    pg.set_viewport_size({"width": 1280, "height": 800})


def test_dark_choice_paints_the_orgs_dark_palette_and_system_follows_the_device(app, page, live_server, screenshot):
    service.clear_cache()
    org = OrgFactory(name="Acme", slug="acme")
    admin = member(org, "org_admin", email="ada@acme.test")
    member(org, "user", email="uma@acme.test")
    service.update_draft(org, {"background_dark": DARK_BACKGROUND, "text_dark": DARK_TEXT, "background_light": LIGHT_BACKGROUND},
                         by=admin)
    service.publish(org, by=admin)
    db.session.commit()
    pg = watched(page)
    log_in(pg, live_server, "uma@acme.test")

    choose_scheme(pg, live_server, "Dark")
    pg.goto(live_server("/o/acme/"))
    expect(pg.locator("html")).to_have_attribute("data-theme", "dark")
    assert page_background(pg) == _rgb(DARK_BACKGROUND)
    for selector in ("h1", "main article a", "main article"):  # the theme's text, links and cards read at AA
        assert readable(pg, selector) >= 4.5, selector
    shoot_both_widths(pg, screenshot, "themes-10-member-dashboard-dark")

    choose_scheme(pg, live_server, "System (follow this device)")
    pg.emulate_media(color_scheme="dark")
    notice = pg.locator(".notice-success")  # "Profile saved.": a dark surface, not the light green tint
    assert notice.evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(27, 42, 33)" and readable(pg, ".notice-success") >= 4.5
    pg.emulate_media(color_scheme="light")
    pg.goto(live_server("/o/acme/"))
    assert pg.locator("html").get_attribute("data-theme") is None
    pg.emulate_media(color_scheme="dark")
    assert page_background(pg) == _rgb(DARK_BACKGROUND)
    pg.emulate_media(color_scheme="light")
    assert page_background(pg) == _rgb(LIGHT_BACKGROUND)

    choose_scheme(pg, live_server, "Light")
    pg.emulate_media(color_scheme="dark")
    pg.goto(live_server("/o/acme/"))
    expect(pg.locator("html")).to_have_attribute("data-theme", "light")
    assert page_background(pg) == _rgb(LIGHT_BACKGROUND)  # pinned: the dark device does not switch it
    assert pg.errors == []


def test_the_platform_look_stays_readable_in_dark_mode(app, page, live_server, screenshot):
    org = OrgFactory(name="Acme", slug="acme")
    member(org, "org_admin", email="ada@acme.test")
    member(org, "user", email="uma@acme.test")
    db.session.commit()
    pg = watched(page)
    pg.emulate_media(color_scheme="dark")  # anonymous pages follow the device
    pg.goto(live_server("/login"))
    assert pg.locator("html").get_attribute("data-theme") is None and page_background(pg) != "rgb(255, 255, 255)"
    for selector in ("main h1", "main a", "label"):
        assert readable(pg, selector) >= 4.5, selector
    shoot_both_widths(pg, screenshot, "themes-14-login-dark")
    pg.emulate_media(color_scheme="light")
    log_in(pg, live_server, "ada@acme.test")
    choose_scheme(pg, live_server, "Dark")
    shoot_both_widths(pg, screenshot, "themes-11-profile-dark")
    pg.goto(live_server("/o/acme/"))
    # Links, brand and muted text read at AA on the cards and the page (the brand blue alone was 2.5:1 there).
    for selector in ("main article a", ".site-header nav a", ".site-header .brand", "main hgroup p", "main article"):
        assert readable(pg, selector) >= 4.5, selector
    pinned = [colours(pg, selector) for selector in ("main article a", "main hgroup p", ".site-header")]
    shoot_both_widths(pg, screenshot, "themes-12-platform-dashboard-dark")
    pg.goto(live_server("/o/acme/members"))
    shoot_both_widths(pg, screenshot, "themes-13-members-dark")

    choose_scheme(pg, live_server, "System (follow this device)")
    pg.emulate_media(color_scheme="dark")
    pg.goto(live_server("/o/acme/"))
    assert pg.locator("html").get_attribute("data-theme") is None
    # System on a dark device looks exactly like a pinned Dark.
    assert [colours(pg, selector) for selector in ("main article a", "main hgroup p", ".site-header")] == pinned
