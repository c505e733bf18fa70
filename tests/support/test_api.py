"""The tickets API: customers see their org's tickets, agents every org's; permissions on updates."""

from __future__ import annotations

from portal.support import service


def _new(client, **kw):
    body = {"subject": "API ticket", "description": "Steps: *one*", "priority": "high", "category": "bug", **kw}
    return client.post("/api/v1/tickets?org=acme", json=body)


def test_a_member_files_reads_and_lists_tickets(app, desk, client, login_as):
    login_as(desk.customer)
    created = _new(client)
    assert created.status_code == 201, created.get_json()
    ticket = created.get_json()
    assert ticket["id"].startswith("tkt_") and ticket["status"] == "open" and ticket["org"] == "acme"
    assert created.headers["Location"].endswith(ticket["id"])
    assert client.get(f"/api/v1/tickets/{ticket['id']}?org=acme").get_json()["subject"] == "API ticket"
    listed = client.get("/api/v1/tickets?org=acme&priority=high").get_json()
    assert [t["id"] for t in listed["data"]] == [ticket["id"]] and listed["next"] is None
    assert client.get("/api/v1/tickets?org=acme&priority=low").get_json()["data"] == []


def test_bad_bodies_name_the_fields(app, desk, client, login_as):
    login_as(desk.customer)
    r = _new(client, priority="urgent", subject="")
    assert r.status_code == 422 and {"priority", "subject"} <= set(r.get_json()["error"]["fields"])


def test_list_pages_with_a_keyset_cursor(app, desk, client, login_as):
    for i in range(5):
        service.create_ticket(desk.org, desk.customer, subject=f"T{i}", body="b")
    login_as(desk.customer)
    seen, url = [], "/api/v1/tickets?org=acme&per_page=2"
    while url:
        page = client.get(url).get_json()
        seen += [t["subject"] for t in page["data"]]
        url = page["next"]
    assert sorted(seen) == [f"T{i}" for i in range(5)] and len(seen) == 5


def test_customers_may_not_change_priority_or_assignee_but_may_close(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="S", body="b")
    login_as(desk.customer)
    url = f"/api/v1/tickets/{ticket.public_id}?org=acme"
    assert client.put(url, json={"priority": "critical"}).status_code == 403
    assert client.put(url, json={"assignee_id": desk.agent.public_id}).status_code == 403
    assert client.put(url, json={"status": "resolved"}).status_code == 409
    closed = client.put(url, json={"status": "closed"})
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"


def test_agents_list_every_org_and_update_anything(app, desk, client, login_as):
    a = service.create_ticket(desk.org, desk.customer, subject="From acme", body="b")
    b = service.create_ticket(desk.other_org, desk.outsider, subject="From bravo", body="b")
    login_as(desk.agent)
    ids = {t["id"] for t in client.get("/api/v1/tickets").get_json()["data"]}
    assert ids == {a.public_id, b.public_id}
    assert [t["id"] for t in client.get("/api/v1/tickets?org=bravo").get_json()["data"]] == [b.public_id]
    r = client.put(f"/api/v1/tickets/{a.public_id}", json={"status": "in_progress", "priority": "critical", "assignee_id": desk.agent2.public_id})
    assert r.status_code == 200
    body = r.get_json()
    assert (body["status"], body["priority"], body["assignee_id"]) == ("in_progress", "critical", desk.agent2.public_id)
    note = client.post(f"/api/v1/tickets/{a.public_id}/comments", json={"body": "private", "internal": True})
    assert note.status_code == 201 and note.get_json()["internal"] is True


def test_a_reply_through_the_api_reaches_the_other_side(app, desk, client, login_as, mailbox, wait_for_jobs):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Reply me", body="b")
    service.assign(ticket, desk.agent.public_id, desk.agent2)
    login_as(desk.customer)
    r = client.post(f"/api/v1/tickets/{ticket.public_id}/comments?org=acme", json={"body": "Any news?"})
    assert r.status_code == 201 and r.get_json()["internal"] is False
    wait_for_jobs()
    mails = [m for m in mailbox.wait_for(desk.agent.email, count=2) if "New reply" in str(m["Subject"])]
    assert mails and "Any news?" in mailbox.text_of(mails[0])


def test_the_api_is_described_in_openapi(app, client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/tickets"]) and {"get", "put"} <= set(paths["/api/v1/tickets/{ticket_id}"])
    assert "post" in paths["/api/v1/tickets/{ticket_id}/comments"] and "post" in paths["/api/v1/tickets/{ticket_id}/attachments"]
