"""The agents' queue: filters, search, sort, keyset paging, bulk actions, saved views."""

from __future__ import annotations

from portal.support import service


def _seed(desk):
    out = {}
    for i, (org, user, prio, cat) in enumerate([(desk.org, desk.customer, "low", "bug"), (desk.org, desk.customer, "critical", "billing"),
                                                 (desk.other_org, desk.outsider, "high", "bug"), (desk.other_org, desk.outsider, "medium", "question")]):
        out[i] = service.create_ticket(org, user, subject=f"Subject {i} {prio}", body=f"Body {cat}", priority=prio, category=cat)
    return out


def _ids(html: str, tickets) -> list[int]:
    return sorted(k for k, t in tickets.items() if t.public_id in html)


def test_filters_across_organizations(app, desk, client, login_as):
    t = _seed(desk)
    service.assign(t[2], desk.agent.public_id, desk.agent)
    service.set_status(t[3], "resolved", desk.agent, as_agent=True)
    login_as(desk.agent)
    assert _ids(client.get("/support/queue").text, t) == [0, 1, 2, 3]
    assert _ids(client.get("/support/queue?org=bravo").text, t) == [2, 3]
    assert _ids(client.get("/support/queue?priority=critical").text, t) == [1]
    assert _ids(client.get("/support/queue?category=bug").text, t) == [0, 2]
    assert _ids(client.get("/support/queue?assignee=me").text, t) == [2]
    assert _ids(client.get("/support/queue?assignee=none&status=active").text, t) == [0, 1]
    assert _ids(client.get("/support/queue?status=resolved").text, t) == [3]
    assert _ids(client.get("/support/queue?q=billing").text, t) == [1]


def test_sorting_by_priority_and_keyset_paging_without_a_reload(app, desk, client, login_as):
    t = _seed(desk)
    login_as(desk.agent)
    tickets, cursor = service.queue(service.QueueFilters(sort="priority"), desk.agent, per_page=2)
    assert [x.priority for x in tickets] == ["critical", "high"] and cursor
    rest, end = service.queue(service.QueueFilters(sort="priority", after=cursor), desk.agent, per_page=2)
    assert [x.priority for x in rest] == ["medium", "low"] and end is None
    # the htmx "Load more" answers rows only
    page = client.get(f"/support/queue?sort=priority&after={cursor}", headers={"HX-Request": "true"})
    assert "<tr" in page.text and "<form" not in page.text and t[0].public_id in page.text
    fragment = client.get("/support/queue?priority=low", headers={"HX-Request": "true"})
    assert 'id="queue"' in fragment.text and "<html" not in fragment.text


def test_bulk_assign_and_status(app, desk, client, login_as):
    t = _seed(desk)
    login_as(desk.agent)
    r = client.post("/support/queue/bulk", data={"ticket": [t[0].public_id, t[2].public_id], "status": "in_progress", "assignee_id": desk.agent2.public_id})
    assert r.status_code == 303
    for i in (0, 2):
        from portal.extensions import db

        db.session.refresh(t[i])
        assert (t[i].status, t[i].assignee_id) == ("in_progress", desk.agent2.id)


def test_saved_views_and_availability(app, desk, client, login_as):
    login_as(desk.agent)
    assert client.post("/support/views", data={"name": "Critical", "query": "priority=critical"}).status_code == 303
    assert "Critical" in client.get("/support/queue").text
    client.post("/support/availability", data={"available": "1"})
    assert service.is_available(desk.agent)


def test_a_saved_view_is_deleted_only_by_its_owner(app, desk, client, login_as):
    view = service.save_view(desk.agent, "Mine", "status=open")
    login_as(desk.agent2)
    assert client.post(f"/support/views/{view.public_id}/delete").status_code == 404
    login_as(desk.agent)
    assert client.post(f"/support/views/{view.public_id}/delete").status_code == 303
    assert service.saved_views(desk.agent) == []
