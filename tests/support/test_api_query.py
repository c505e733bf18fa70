"""The tickets list in the API refuses filters it does not know, instead of ignoring them and listing everything."""

from __future__ import annotations

from portal.support import service


def test_unknown_filter_values_and_sorts_are_a_422_naming_the_parameter(app, desk, client, login_as):
    service.create_ticket(desk.org, desk.customer, subject="Anything", body="b", priority="low")
    login_as(desk.agent)
    for query, field in (("priority=urgent", "priority"), ("status=pending", "status"), ("category=bugs", "category"),
                         ("sla=late", "sla"), ("sort=oldest", "sort")):
        r = client.get(f"/api/v1/tickets?{query}")
        assert r.status_code == 422, query
        body = r.get_json()
        assert body["error"]["code"] == "validation_failed" and field in body["error"]["fields"], query
    assert client.get("/api/v1/tickets?priority=low&status=active&sort=due").status_code == 200


def test_a_mangled_cursor_is_a_422_not_the_first_page_again(app, desk, client, login_as):
    for i in range(3):
        service.create_ticket(desk.org, desk.customer, subject=f"T{i}", body="b")
    login_as(desk.customer)
    first = client.get("/api/v1/tickets?org=acme&per_page=2").get_json()
    assert first["next"] and len(first["data"]) == 2
    r = client.get("/api/v1/tickets?org=acme&per_page=2&after=not-a-cursor")
    assert r.status_code == 422 and "after" in r.get_json()["error"]["fields"]
    # a cursor of one sort is no cursor of another
    cursor = first["next"].split("after=")[1]
    assert client.get(f"/api/v1/tickets?org=acme&per_page=2&sort=priority&after={cursor}").status_code == 422
    assert len(client.get(first["next"]).get_json()["data"]) == 1
