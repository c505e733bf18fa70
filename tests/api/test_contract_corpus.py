"""The inputs that made the API answer 5xx or half-write rows (issue 11's corpus), kept as ordinary tests
on both backends: each is refused with a 4xx that names the problem, and nothing is written."""

from __future__ import annotations

import pytest

from tests.factories import OrgFactory, member

DEEP = "[" * 1000 + "]" * 1000


@pytest.fixture
def admin_client(client, login_as):
    org = OrgFactory(slug="corpus", name="Corpus")
    login_as(member(org, "org_admin"))
    return client


def _refused(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    error = response.json["error"]
    if field is not None:
        assert field in error["fields"], error
    return error


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/keys", {"name": "a\x00b", "scopes": ["read"]}, "name"),
    ("/api/v1/tickets", {"subject": "hi\x00", "description": "d"}, "subject"),
    ("/api/v1/notifications", {"to": ["x@example.test"], "title": "t\x00", "body": "b"}, "title"),
    ("/api/v1/workflow-definitions", {"name": "w\x00", "nodes": [], "edges": []}, "name"),
    ("/api/v1/workflows/execute", {"workflow_id": "wf_\x00"}, "workflow_id"),
    ("/api/v1/keys", {"name": "\ud800", "scopes": ["read"]}, "name"),
])
def test_text_the_databases_cannot_store_alike_is_a_422_naming_the_field(admin_client, row_counts, path, body, field):
    before = row_counts()
    _refused(admin_client.post(f"{path}?org=corpus", json=body), 422, field)
    assert row_counts() == before


@pytest.mark.parametrize("url", [
    "/api/v1/keys/key_%00", "/api/v1/tickets/tkt_%00", "/api/v1/workflows/run_%00",
    "/api/v1/keys?org=corp%00us", "/api/v1/tickets?org=corpus&q=a%00b",
])
def test_nul_in_a_path_or_query_value_is_a_422(admin_client, url):
    _refused(admin_client.get(url), 422)


@pytest.mark.parametrize("path", ["/api/v1/keys", "/api/v1/tickets", "/api/v1/notifications", "/api/v1/workflow-definitions"])
def test_a_body_nested_a_thousand_levels_is_a_422_not_a_recursion_error(admin_client, row_counts, path):
    before = row_counts()
    _refused(admin_client.post(f"{path}?org=corpus", data='{"a": ' + DEEP + "}", content_type="application/json"), 422, "body")
    assert row_counts() == before


def test_deep_data_inside_a_notification_is_refused_before_anything_is_stored(admin_client, row_counts):
    before = row_counts()
    deep = {"x": 1}
    for _ in range(500):
        deep = {"x": deep}
    _refused(admin_client.post("/api/v1/notifications?org=corpus", json={"to": ["a@b.test"], "title": "t", "data": deep}), 422)
    assert row_counts() == before
    assert admin_client.get("/api/v1/notifications?org=corpus").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/keys", "/api/v1/orgs/corpus/members", "/api/v1/notifications"])
def test_a_page_number_past_any_list_is_a_422_naming_it(admin_client, path):
    _refused(admin_client.get(f"{path}?org=corpus&page=9223372036854775807"), 422, "page")


@pytest.mark.parametrize("body, field", [
    ({"workflow_id": "wf_x", "priority": "default", "input": {}, "extra": 1}, "extra"),
    ({"workflow_id": 5}, "workflow_id"),
])
def test_bodies_are_strictly_typed(admin_client, body, field):
    _refused(admin_client.post("/api/v1/workflows/execute?org=corpus", json=body), 422, field)


def test_yes_is_not_a_boolean_and_5_not_an_integer(admin_client):
    _refused(admin_client.post("/api/v1/keys?org=corpus", json={"name": "k", "rate_limit": "5"}), 422, "rate_limit")
    _refused(admin_client.put("/api/v1/preferences?org=corpus", json={"events": {"message": {"email": "yes"}}}), 422)


def test_rotating_needs_an_explicit_grace_period(admin_client):
    created = admin_client.post("/api/v1/keys?org=corpus", json={"name": "rotate me", "scopes": ["read"]}).json
    _refused(admin_client.post(f"/api/v1/keys/{created['id']}/rotate?org=corpus", json={}), 422, "grace_period")
    _refused(admin_client.post(f"/api/v1/keys/{created['id']}/rotate?org=corpus"), 415)
    assert admin_client.post(f"/api/v1/keys/{created['id']}/rotate?org=corpus", json={"grace_period": 60}).status_code == 200


def test_an_unknown_method_is_a_405_with_allow(admin_client):
    response = admin_client.open("/api/v1/keys?org=corpus", method="PATCH")
    assert response.status_code == 405 and response.json["error"]["code"] == "method_not_allowed"
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_an_unauthenticated_write_is_a_401_before_csrf_is_considered(client, csrf_enabled):
    error = _refused(client.post("/api/v1/keys", json={"name": "k"}), 401)
    assert error["code"] == "unauthenticated"


def test_an_over_long_url_is_a_json_414_under_the_api(admin_client):
    response = admin_client.get("/api/v1/keys?q=" + "a" * 5000)
    assert response.status_code == 414 and response.json["error"]["code"] == "uri_too_long"


def test_a_key_never_carries_more_than_its_owners_role(client, login_as, row_counts):
    org = OrgFactory(slug="scopes", name="Scopes")
    login_as(member(org, "org_admin"))
    plain = member(org, "user", email="plain@scopes.test")
    before = row_counts()
    error = _refused(client.post("/api/v1/keys?org=scopes", json={"name": "too much", "scopes": ["admin"], "owner": plain.public_id}), 422, "scopes")
    assert "read, write" in error["fields"]["scopes"]  # what a member's key may have, named
    assert row_counts() == before


def test_options_lists_the_methods_of_the_urls_own_route(admin_client):
    response = admin_client.open("/api/v1/workflows/execute", method="OPTIONS")
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"POST", "OPTIONS"}


def test_an_invitation_to_the_longest_address_is_stored_not_a_500(admin_client):
    email = "a@" + "b" * 240 + ".test"
    response = admin_client.post("/api/v1/orgs/corpus/invitations", json={"email": email, "role": "user"})
    assert response.status_code == 201, response.json


def test_a_multipart_part_without_a_name_is_not_a_500(admin_client):
    body = (b'--b\r\nContent-Disposition: form-data; name="\\"\r\n\r\n{}\r\n'
            b'--b\r\nContent-Disposition: form-data; name="variant"\r\n\r\nlight\r\n--b--\r\n')
    response = admin_client.post("/api/v1/themes/corpus/logo", data=body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == 422
