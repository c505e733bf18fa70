"""What a person notices on the ticket pages: refused uploads leave no trace, closed tickets offer Reopen, stars for
the rating, the attachment-storage quota in words, and agent actions that answer with a message."""

from __future__ import annotations

import io

from portal.extensions import db
from portal.support import service
from portal.support.models import Ticket, TicketAttachment

from .conftest import PNG

MB = 1024 * 1024


def _tickets(org) -> int:
    return db.session.query(Ticket).filter_by(org_id=org.id).count()


def test_a_ticket_filed_with_a_refused_attachment_is_not_listed_and_not_stored(app, desk, client, login_as):
    login_as(desk.customer)
    page = client.post(
        "/o/acme/tickets",
        data={
            "subject": "Phantom",
            "body": "It broke",
            "category": "question",
            "priority": "medium",
            "file": (io.BytesIO(b"<html><script>x</script></html>"), "page.html"),
        },
        content_type="multipart/form-data",
    )
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "This kind of file is not accepted" in html
    assert "Phantom" not in html.split('id="new-ticket"')[0]  # the list above the form shows no new ticket
    assert _tickets(desk.org) == 0
    assert "Phantom" not in client.get("/o/acme/tickets").get_data(as_text=True).split('id="new-ticket"')[0]


def _closed_ticket_page(desk, client, login_as, subject: str):
    """A ticket the customer closed, and its page as the customer sees it."""
    ticket = service.create_ticket(desk.org, desk.customer, subject=subject, body="b")
    service.set_status(ticket, "closed", desk.customer, as_agent=False)
    db.session.commit()
    login_as(desk.customer)
    return ticket, client.get(f"/o/acme/tickets/{ticket.public_id}").get_data(as_text=True)


def test_a_closed_ticket_offers_reopen_and_no_reply_to_customer_and_agent(app, desk, client, login_as):
    ticket, html = _closed_ticket_page(desk, client, login_as, "Done")
    assert "Send reply" not in html and ">Reopen<" in html
    login_as(desk.agent)
    html = client.get(f"/support/tickets/{ticket.public_id}").get_data(as_text=True)
    assert "Send</button>" not in html and ">Reopen<" in html
    assert client.post(f"/support/tickets/{ticket.public_id}/reopen").status_code == 303
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "open"


def test_the_rating_is_a_labelled_group_of_five_stars(app, desk, client, login_as):
    ticket, html = _closed_ticket_page(desk, client, login_as, "Rated")
    assert "<fieldset" in html and "<legend>" in html and 'type="number"' not in html
    for n, label in ((1, "1 star"), (5, "5 stars")):
        assert 'type="radio"' in html and f'value="{n}"' in html and label in html
    assert client.post(f"/o/acme/tickets/{ticket.public_id}/rating", data={"rating": "4"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).rating == 4


def _fill_storage(org, ticket, size: int) -> None:
    """Files the org already holds, on another of its tickets (a ticket's own limit is far lower than the plan's)."""
    ticket = service.create_ticket(org, ticket.requester, subject="Old files", body="b")
    db.session.add(
        TicketAttachment(
            org_id=org.id,
            ticket_id=ticket.id,
            filename="old.bin",
            content_type="application/zip",
            size=size,
            storage_key="support/old",
        )
    )
    db.session.commit()


def _reply_with_a_file(client, ticket):
    return client.post(
        f"/o/acme/tickets/{ticket.public_id}/comments",
        data={"body": "shot", "file": (io.BytesIO(PNG), "shot.png")},
        content_type="multipart/form-data",
    )


def test_over_the_storage_quota_the_page_says_so_with_an_upgrade_link_and_nothing_is_stored(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Full", body="b")
    _fill_storage(desk.org, ticket, 100 * MB)  # the free plan's attachment storage, used up
    login_as(desk.customer)
    page = _reply_with_a_file(client, ticket)
    assert page.status_code == 402
    html = page.get_data(as_text=True)
    assert "attachment storage is full" in html and "Upgrade the plan</a>" in html
    assert db.session.query(TicketAttachment).filter_by(ticket_id=ticket.id).count() == 0
    assert service.thread(db.session.get(Ticket, ticket.id), for_agent=True) == []


def test_over_the_storage_quota_the_api_answers_402_quota_exceeded(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Full", body="b")
    _fill_storage(desk.org, ticket, 100 * MB)
    login_as(desk.customer)
    answer = client.post(
        f"/api/v1/tickets/{ticket.public_id}/attachments?org=acme",
        data={"file": (io.BytesIO(PNG), "shot.png")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 402
    error = answer.get_json()["error"]
    assert error["code"] == "quota_exceeded" and error["fields"]["metric"] == "storage_bytes" and error["fields"]["upgrade_url"]


def test_within_the_quota_a_file_is_stored(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Room", body="b")
    _fill_storage(desk.org, ticket, 100 * MB - 10 * len(PNG))
    login_as(desk.customer)
    assert _reply_with_a_file(client, ticket).status_code == 303


def test_status_changes_and_assignments_appear_in_the_thread_in_words(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Timeline", body="b")
    login_as(desk.agent)
    url = f"/support/tickets/{ticket.public_id}"
    saved = client.post(
        f"{url}/update", data={"status": "in_progress", "assignee_id": desk.agent2.public_id}, follow_redirects=True
    )
    assert "Ticket saved." in saved.text
    assert "Agnes Agent" in saved.text and "changed status from Open to In progress" in saved.text
    assert "assigned the ticket to Bert Agent" in saved.text
    login_as(desk.customer)
    assert "changed status from Open to In progress" in client.get(f"/o/acme/tickets/{ticket.public_id}/thread").text


def test_a_canned_reply_is_inserted_into_the_reply_box_filled_in_and_nothing_is_sent(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Login", body="b")
    canned = service.create_canned(
        "Greeting", "Hi {{ customer_name }}, {{ agent_name }} of {{ org_name }} on {{ ticket_number }}."
    )
    db.session.commit()
    login_as(desk.agent)
    box = client.post(
        f"/support/tickets/{ticket.public_id}/compose",
        data={"canned": canned.public_id, "body": "My own words"},
        headers={"HX-Request": "true"},
    )
    assert box.status_code == 200 and 'id="reply-body"' in box.text
    assert "Hi Carol Customer, Agnes Agent of Acme on #1.\n\nMy own words" in box.text and ticket.public_id not in box.text
    assert service.thread(db.session.get(Ticket, ticket.id), for_agent=True) == []


def test_agent_reply_and_note_answer_with_a_message_and_a_failed_reply_survives_a_reload(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Msgs", body="b")
    login_as(desk.agent)
    url = f"/support/tickets/{ticket.public_id}"
    assert "Reply sent to the customer." in client.post(f"{url}/comments", data={"body": "Hello"}, follow_redirects=True).text
    assert (
        "Internal note added."
        in client.post(f"{url}/comments", data={"body": "psst", "internal": "y"}, follow_redirects=True).text
    )
    failed = client.post(f"{url}/comments", data={"body": ""})
    assert failed.status_code == 422 and "Write a reply." in failed.text
    reload = client.get(f"{url}/comments", follow_redirects=True)  # the failed post's URL, loaded again
    assert reload.status_code == 200 and "Msgs" in reload.text
    assert client.get(f"{url}/update", follow_redirects=True).status_code == 200
