"""Tenant isolation on every registered route, not a hand-picked few.

The walk reads app.url_map, so a route added later is covered the day it lands or fails
`test_every_route_is_covered_by_the_security_walks` with a sentence saying what to add:

* a route with an <org_slug> is walked as org B's org_admin with org A's slug and ids, and with
  org B's slug and org A's ids: every method answers 404 and nothing is written;
* a route without one must be listed in NOT_ORG_SCOPED in routes.py (with why it holds no
  organization's data), or live under /admin/ (platform routes: a non-staff user gets 404 on each);
* every route that is not public sends an anonymous browser to /login and answers the API with 401 JSON.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.factories import UserFactory

from .routes import (
    NOT_ORG_SCOPED,
    PUBLIC,
    World,
    all_rules,
    attacks,
    build_path,
    changed_tables,
    coverage_problems,
    db_snapshot,
    is_api,
    methods_of,
    org_scoped_rules,
    platform_rules,
    send,
    values_for,
)


def leaks(response, world: World) -> list[str]:
    text = response.get_data(as_text=True)
    secrets = [world.org_a.name, world.member_a.email, world.invitation_a.email, world.admin_a.email, world.notification_a.title]
    return [s for s in secrets if s in text]


# ---------------------------------------------------------------------------------------------- coverage


def test_every_route_is_covered_by_the_security_walks(app):
    problems = coverage_problems(app)
    assert not problems, "Routes the security walks do not cover:\n- " + "\n- ".join(problems)


def test_the_walk_covers_the_org_routes_it_should(app):
    """A guard against the walk silently matching nothing (a renamed argument, an empty url_map)."""
    endpoints = {r.endpoint for r in org_scoped_rules(app)}
    assert {"orgs.dashboard", "orgs.members", "orgs.change_role", "api.list_members", "api.delete_member"} <= endpoints
    assert "api.read_notification" in endpoints  # org from ?org= / the API key
    assert {"admin.index", "admin.suspend_user"} <= {r.endpoint for r in platform_rules(app)}


# ---------------------------------------------------------------------------------------------- cross-org


def test_org_b_admin_gets_404_and_writes_nothing_on_every_org_route_of_org_a(app, client, login_as, world, row_counts):
    assert not coverage_problems(app), "fix test_every_route_is_covered_by_the_security_walks first"
    login_as(world.admin_b)
    counts, snapshot = row_counts(), db_snapshot()
    failures, tried = [], 0
    for rule in org_scoped_rules(app):
        for values in attacks(world, rule, app):
            path = build_path(rule, values)
            for method in methods_of(rule):
                for htmx in (False,) if is_api(path) else (False, True):
                    response = send(client, rule, method, path, htmx=htmx)
                    tried += 1
                    label = f"{method} {path}{' (HTMX)' if htmx else ''} [{rule.endpoint}]"
                    if response.status_code != 404:
                        failures.append(f"{label} answered {response.status_code}, expected 404")
                    elif is_api(path) and (response.get_json(silent=True) or {}).get("error", {}).get("code") != "not_found":
                        failures.append(f"{label} answered 404 without the API's JSON error (code not_found)")
                    if found := leaks(response, world):
                        failures.append(f"{label} shows org A's data: {found}")
    assert tried >= 20
    assert not failures, "Org B's admin reached org A:\n- " + "\n- ".join(failures)
    assert row_counts() == counts
    assert not changed_tables(snapshot, db_snapshot()), "rows changed although every request was a 404"


def test_org_a_admin_reaches_the_same_routes_so_the_404s_come_from_the_org_check(app, client, login_as, world):
    """The control: with the same slug and ids, org A's own admin is not refused, so the ids above are real."""
    login_as(world.admin_a)
    for rule in org_scoped_rules(app):
        if "GET" in rule.methods:
            path = build_path(rule, values_for(world, rule, app))
            # downloads answer with a redirect to the signed file link; following it must end in a 200
            assert client.get(path, follow_redirects=True).status_code == 200, path
    # the write routes' ids belong to org A (the walk above sent them to org B's slug too)
    assert {world.membership_a.org_id, world.invitation_a.org_id, world.notification_a.org_id, world.delivery_a.org_id} == {world.org_a.id}
    assert world.invitation_a.status == "pending"


# ---------------------------------------------------------------------------------------------- platform


def test_non_staff_gets_404_on_every_platform_route(app, client, login_as, world, row_counts):
    assert not coverage_problems(app), "fix test_every_route_is_covered_by_the_security_walks first"
    assert world.admin_b.platform_role is None
    login_as(world.admin_b)
    counts, snapshot = row_counts(), db_snapshot()
    failures = []
    for rule in platform_rules(app):
        path = build_path(rule, values_for(world, rule, app))
        for method in methods_of(rule):
            for htmx in (False, True):
                response = send(client, rule, method, path, htmx=htmx)
                if response.status_code != 404:
                    failures.append(f"{method} {path}{' (HTMX)' if htmx else ''} answered {response.status_code}, expected 404")
    assert not failures, "A non-staff user reached the platform console:\n- " + "\n- ".join(failures)
    assert row_counts() == counts
    assert not changed_tables(snapshot, db_snapshot())


def test_super_admin_reaches_every_platform_page_so_the_404s_come_from_the_role_check(app, client, login_as, world):
    staff = UserFactory(platform_role="super_admin")
    login_as(staff)
    for rule in platform_rules(app):
        if "GET" in rule.methods:
            path = build_path(rule, values_for(world, rule, app))
            # downloads answer with a redirect to the signed file link; following it must end in a 200
            assert client.get(path, follow_redirects=True).status_code == 200, path


# ---------------------------------------------------------------------------------------------- anonymous


def test_anonymous_is_sent_to_login_on_pages_and_gets_401_json_on_the_api(app, client, world, row_counts):
    assert not coverage_problems(app), "fix test_every_route_is_covered_by_the_security_walks first"
    counts = row_counts()
    failures, tried = [], 0
    for rule in all_rules(app):
        if NOT_ORG_SCOPED.get(rule.endpoint, (None,))[0] == PUBLIC:
            continue
        path = build_path(rule, values_for(world, rule, app))
        for method in methods_of(rule):
            tried += 1
            label = f"{method} {path}"
            if is_api(path):
                response = send(client, rule, method, path)
                error = (response.get_json(silent=True) or {}).get("error", {})
                if response.status_code != 401 or error.get("code") != "unauthenticated":
                    failures.append(f"{label} answered {response.status_code} {error or response.content_type}, expected 401 unauthenticated")
                continue
            response = send(client, rule, method, path)
            location = urlsplit(response.headers.get("Location", ""))
            if response.status_code != 302 or location.path != "/login" or parse_qs(location.query).get("next") != [path]:
                failures.append(f"{label} answered {response.status_code} -> {response.headers.get('Location')}, expected 302 to /login?next={path}")
            htmx = send(client, rule, method, path, htmx=True)
            if htmx.status_code != 401 or not htmx.headers.get("HX-Redirect", "").startswith("/login"):
                failures.append(f"{label} (HTMX) answered {htmx.status_code}, expected 401 with HX-Redirect to /login")
    assert tried >= 15
    assert not failures, "Anonymous requests were not sent to log in:\n- " + "\n- ".join(failures)
    assert row_counts() == counts


def test_the_coverage_check_names_what_to_add_for_a_new_uncovered_route():
    """The guard itself: a new route with an unknown argument, or without an org and unlisted, is reported."""
    from flask import Flask

    new = Flask(__name__)
    new.add_url_rule("/o/<org_slug>/widgets/<widget_id>", "widgets.show", lambda **kw: "")
    new.add_url_rule("/reports", "reports.index", lambda: "")
    problems = "\n".join(coverage_problems(new))
    assert "takes <widget_id>, which ORG_A_VALUES in tests/security/routes.py does not know" in problems
    assert '"reports.index": (PUBLIC or LOGIN' in problems
    assert "lists accounts.login, which is no longer a route" in problems
