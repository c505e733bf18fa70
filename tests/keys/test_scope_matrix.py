"""The scope matrix over every API endpoint: read for GET, write for creates and updates, admin for keys,
members, billing and org settings. Walks app.url_map, so an endpoint added later is checked too."""

from __future__ import annotations

import re

import pytest

from portal.keys.scopes import required_scope

from .helpers import bearer

# The published endpoints and the scope each needs. Endpoints added later follow the rule in
# portal.keys.scopes (their declared permission and method) and are checked below all the same.
EXPECTED = {
    ("GET", "/api/v1/openapi.json"): "read",
    ("GET", "/api/v1/me"): "read",
    ("GET", "/api/v1/orgs/<org_slug>/members"): "read",
    ("POST", "/api/v1/orgs/<org_slug>/invitations"): "admin",
    ("PUT", "/api/v1/orgs/<org_slug>/members/<membership_id>"): "admin",
    ("DELETE", "/api/v1/orgs/<org_slug>/members/<membership_id>"): "admin",
    ("POST", "/api/v1/notifications"): "admin",  # the issue: admin scope (and an org_admin owner)
    ("GET", "/api/v1/notifications"): "read",
    ("PUT", "/api/v1/notifications/<notification_id>/read"): "write",
    ("GET", "/api/v1/notifications/<notification_id>/deliveries"): "read",
    ("GET", "/api/v1/preferences"): "read",
    ("PUT", "/api/v1/preferences"): "write",
    ("POST", "/api/v1/keys"): "admin",
    ("GET", "/api/v1/keys"): "admin",
    ("GET", "/api/v1/keys/<key_id>"): "admin",
    ("PUT", "/api/v1/keys/<key_id>"): "admin",
    ("DELETE", "/api/v1/keys/<key_id>"): "admin",
    ("GET", "/api/v1/keys/<key_id>/usage"): "admin",
    ("POST", "/api/v1/keys/<key_id>/rotate"): "admin",
}
SCOPE_SETS = (("read",), ("write",), ("admin",), ("read", "write"), ("read", "write", "admin"))


def api_endpoints(app) -> list[tuple[str, object]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, rule))
    return sorted(found, key=lambda mr: (mr[1].rule, mr[0]))


def test_the_published_endpoints_need_the_scopes_the_issue_names(app):
    endpoints = {(m, r.rule): required_scope(app.view_functions[r.endpoint], m) for m, r in api_endpoints(app)}
    missing = set(EXPECTED) - set(endpoints)
    assert not missing, f"published endpoints not registered: {missing}"
    wrong = {k: (endpoints[k], v) for k, v in EXPECTED.items() if endpoints[k] != v}
    assert not wrong, f"(actual, expected) scope: {wrong}"


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=lambda s: "+".join(s))
def test_every_api_endpoint_refuses_a_key_without_its_scope_with_403_insufficient_scope(app, client, org, admin, make_key, scopes):
    _, secret = make_key(org, admin, scopes=scopes, rate_limit=600)
    failures, tried = [], 0
    for method, rule in api_endpoints(app):
        needed = EXPECTED.get((method, rule.rule)) or required_scope(app.view_functions[rule.endpoint], method)
        # real org, made-up object ids: an allowed call goes on to a 404 or 422 and changes nothing
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", lambda m: org.slug if m.group(1) == "org_slug" else f"none_{m.group(1)}", rule.rule)
        response = client.open(path, method=method, headers=bearer(secret), json={} if method not in ("GET", "DELETE") else None)
        tried += 1
        code = (response.get_json(silent=True) or {}).get("error", {}).get("code")
        label = f"{method} {rule.rule} with {'+'.join(scopes)} (needs {needed})"
        if "RateLimit-Limit" not in response.headers:
            failures.append(f"{label}: no RateLimit-Limit header")
        if needed in scopes:
            if response.status_code == 401 or code == "insufficient_scope":
                failures.append(f"{label}: refused with {response.status_code} {code}")
        elif response.status_code != 403 or code != "insufficient_scope":
            failures.append(f"{label}: answered {response.status_code} {code}, expected 403 insufficient_scope")
    assert tried >= len(EXPECTED)
    assert not failures, "\n".join(failures)
