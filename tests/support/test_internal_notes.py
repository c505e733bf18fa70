"""An internal note never reaches the customer: pages, fragments, API, search, emails, notifications."""

from __future__ import annotations

import io

from sqlalchemy import select

from portal.extensions import db
from portal.notifications.models import Notification
from portal.support import service

SECRET = "ZEBRA-internal-7731"


def _ticket_with_note(desk):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Login broken", body="Cannot log in", priority="high")
    service.add_comment(ticket, desk.agent, f"Customer is on the legacy plan {SECRET}", as_agent=True, internal=True,
                        files=[("internal-notes.txt", f"{SECRET} attachment".encode())])
    service.add_comment(ticket, desk.agent, "We are looking into it.", as_agent=True)
    return ticket


def test_internal_notes_never_reach_the_customer_anywhere(app, desk, client, login_as, mailbox, wait_for_jobs):
    ticket = _ticket_with_note(desk)
    wait_for_jobs()
    for person in (desk.customer, desk.admin):
        login_as(person)
        urls = [
            "/o/acme/tickets",
            f"/o/acme/tickets/{ticket.public_id}",
            f"/o/acme/tickets/{ticket.public_id}/thread",
            f"/api/v1/tickets/{ticket.public_id}?org=acme",
            "/api/v1/tickets?org=acme",
        ]
        for url in urls:
            for htmx in (False, True):
                response = client.get(url, headers={"HX-Request": "true"} if htmx else {})
                assert response.status_code == 200, url
                assert SECRET not in response.text and "internal-notes.txt" not in response.text, url
        # searching for words that only the note holds finds nothing
        assert ticket.public_id not in client.get("/o/acme/tickets?q=legacy+plan").text
        assert client.get("/api/v1/tickets?org=acme&q=legacy").get_json()["data"] == []
        body = client.get(f"/api/v1/tickets/{ticket.public_id}?org=acme").get_json()
        assert [c["internal"] for c in body["comments"]] == [False]
        assert body["attachments"] == []
    # the internal attachment cannot be fetched by id either
    att = service.attachments(ticket, for_agent=True)[0]
    assert att.internal
    login_as(desk.customer)
    assert client.get(f"/o/acme/tickets/{ticket.public_id}/attachments/{att.public_id}").status_code == 404
    # emails and notifications: the public reply reached the customer, the note did not
    mails = mailbox.wait_for(desk.customer.email)
    assert all(SECRET not in mailbox.text_of(m) and SECRET not in str(m["Subject"]) for m in mails)
    notes = db.session.scalars(select(Notification)).all()
    assert notes and all(SECRET not in (n.title + (n.body or "") + str(n.data)) for n in notes)
    customer_notes = [n for n in notes if n.user_id == desk.customer.id]
    assert [n.event for n in customer_notes] == ["ticket.replied"]


def test_agents_see_notes_marked_as_internal(app, desk, client, login_as):
    ticket = _ticket_with_note(desk)
    login_as(desk.agent)
    html = client.get(f"/support/tickets/{ticket.public_id}").text
    assert SECRET in html and "Internal note" in html and 'class="internal-note"' in html
    body = client.get(f"/api/v1/tickets/{ticket.public_id}").get_json()
    assert [c["internal"] for c in body["comments"]] == [True, False]


def test_a_customer_cannot_post_an_internal_note_through_any_surface(app, desk, client, login_as):
    ticket = _ticket_with_note(desk)
    login_as(desk.customer)
    r = client.post(f"/api/v1/tickets/{ticket.public_id}/comments?org=acme", json={"body": "x", "internal": True})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    client.post(f"/o/acme/tickets/{ticket.public_id}/comments", data={"body": "public one", "internal": "1",
                                                                      "file": (io.BytesIO(b""), "")}, content_type="multipart/form-data")
    last = service.thread(ticket, for_agent=True)[-1]
    assert last.body == "public one" and not last.internal
