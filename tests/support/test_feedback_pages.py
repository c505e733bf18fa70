"""Every support action says what it did: in place with a toast for htmx, as a flash after a full-page post
(a customer's reply, close and reopen; the queue's bulk change, saved views and the agent's availability)."""

from __future__ import annotations

import json
import re

from portal.extensions import db
from portal.support import service

HTMX = {"HX-Request": "true"}


def toast_of(response) -> dict:
    return json.loads(response.headers["HX-Trigger"])["toast"]


def flashes(html: str) -> str:
    return html.split('id="flashes"')[1].split("</div>\n</div>")[0]


def _ticket(desk, subject: str = "Help"):
    ticket = service.create_ticket(desk.org, desk.customer, subject=subject, body="b")
    db.session.commit()
    return ticket


# ---------------------------------------------------------------- the customer's ticket page


def test_a_customers_reply_answers_in_place_with_a_toast_and_an_empty_reply_box(app, desk, client, login_as):
    ticket = _ticket(desk)
    login_as(desk.customer)
    answer = client.post(f"/o/acme/tickets/{ticket.public_id}/comments", data={"body": "Still broken"}, headers=HTMX)
    assert answer.status_code == 200 and toast_of(answer) == {"message": "Reply sent.", "kind": "success"}
    assert answer.text.lstrip().startswith("<div id=\"ticket-main\">") and "<html" not in answer.text
    assert "Still broken" in answer.text.split('id="reply"')[0]  # in the thread, above the reply box
    assert re.search(r"<textarea[^>]*name=\"body\"[^>]*>\s*</textarea>", answer.text)  # the box is empty again


def test_a_customers_reply_from_a_full_page_post_is_a_flash_on_the_ticket_page(app, desk, client, login_as):
    ticket = _ticket(desk)
    login_as(desk.customer)
    page = client.post(f"/o/acme/tickets/{ticket.public_id}/comments", data={"body": "Still broken"}, follow_redirects=True)
    assert page.status_code == 200 and "Reply sent." in flashes(page.text) and "notice-success" in flashes(page.text)


def test_a_blank_reply_in_place_says_why_next_to_the_box_and_toasts_nothing(app, desk, client, login_as):
    ticket = _ticket(desk)
    login_as(desk.customer)
    answer = client.post(f"/o/acme/tickets/{ticket.public_id}/comments", data={"body": " "}, headers=HTMX)
    assert answer.status_code == 422 and "Write a reply." in answer.text and "<html" not in answer.text
    assert "toast" not in answer.headers.get("HX-Trigger", "")


def test_closing_and_reopening_answer_in_place_with_a_toast(app, desk, client, login_as):
    ticket = _ticket(desk)
    login_as(desk.customer)
    url = f"/o/acme/tickets/{ticket.public_id}/status"
    closed = client.post(url, data={"status": "closed"}, headers=HTMX)
    assert closed.status_code == 200 and toast_of(closed) == {"message": "Ticket closed.", "kind": "success"}
    assert 'id="ticket-status">Closed<' in closed.text and ">Reopen<" in closed.text and "Close ticket" not in closed.text
    reopened = client.post(url, data={"status": "open"}, headers=HTMX)
    assert toast_of(reopened)["message"] == "Ticket reopened." and 'id="ticket-status">Open<' in reopened.text
    assert "Close ticket" in reopened.text and "Send reply" in reopened.text


def test_closing_and_reopening_from_full_page_posts_are_flashes(app, desk, client, login_as):
    ticket = _ticket(desk)
    login_as(desk.customer)
    url = f"/o/acme/tickets/{ticket.public_id}/status"
    assert "Ticket closed." in flashes(client.post(url, data={"status": "closed"}, follow_redirects=True).text)
    assert "Ticket reopened." in flashes(client.post(url, data={"status": "open"}, follow_redirects=True).text)


def test_a_refused_move_in_place_shows_the_ticket_as_it_is_and_an_error_toast(app, desk, client, login_as):
    ticket = _ticket(desk)
    login_as(desk.customer)
    refused = client.post(f"/o/acme/tickets/{ticket.public_id}/status", data={"status": "resolved"}, headers=HTMX)
    assert refused.status_code == 409 and toast_of(refused)["kind"] == "error" and "can't become resolved" in toast_of(refused)["message"]
    assert 'id="ticket-status">Open<' in refused.text and "<html" not in refused.text


# ---------------------------------------------------------------- the agents' queue


def test_bulk_with_nothing_ticked_warns_select_tickets_first(app, desk, client, login_as):
    _ticket(desk)
    login_as(desk.agent)
    answer = client.post("/support/queue/bulk", data={"status": "in_progress"}, headers=HTMX)
    assert answer.status_code == 204 and toast_of(answer) == {"message": "Select tickets first.", "kind": "warning"}
    page = client.post("/support/queue/bulk", data={"status": "in_progress"}, follow_redirects=True).text
    assert "Select tickets first." in flashes(page) and "notice-warning" in flashes(page) and "Updated 0" not in page


def test_bulk_on_ticked_tickets_answers_with_the_rows_and_counts_in_words(app, desk, client, login_as):
    tickets = [_ticket(desk, f"T{i}") for i in range(4)]
    login_as(desk.agent)
    three = client.post("/support/queue/bulk", data={"ticket": [t.public_id for t in tickets[:3]], "status": "in_progress",
                                                     "query": "status=active"}, headers=HTMX)
    assert three.status_code == 200 and toast_of(three) == {"message": "Updated 3 tickets.", "kind": "success"}
    assert three.text.lstrip().startswith('<section id="queue">') and three.text.count("<td>In progress</td>") == 3
    one = client.post("/support/queue/bulk", data={"ticket": [tickets[3].public_id], "assignee_id": desk.agent2.public_id}, headers=HTMX)
    assert toast_of(one)["message"] == "Updated 1 ticket."
    page = client.post("/support/queue/bulk", data={"ticket": [tickets[3].public_id], "status": "resolved"}, follow_redirects=True)
    assert "Updated 1 ticket." in flashes(page.text)


def test_bulk_with_no_change_chosen_says_so(app, desk, client, login_as):
    ticket = _ticket(desk)
    login_as(desk.agent)
    answer = client.post("/support/queue/bulk", data={"ticket": [ticket.public_id]}, headers=HTMX)
    assert toast_of(answer) == {"message": "Choose a status or an assignee to apply.", "kind": "warning"}


def test_save_view_answers_with_the_views_listed_and_a_toast(app, desk, client, login_as):
    login_as(desk.agent)
    answer = client.post("/support/views", data={"name": "Hot", "query": "priority=critical"}, headers=HTMX)
    assert answer.status_code == 200 and toast_of(answer) == {"message": "View saved.", "kind": "success"}
    assert answer.text.lstrip().startswith('<div id="saved-views">') and ">Hot</a>" in answer.text
    assert 'name="name" placeholder="Name this view"' in answer.text  # the box again, empty
    page = client.post("/support/views", data={"name": "Mine", "query": "assignee=me"}, follow_redirects=True).text
    assert "View saved." in flashes(page) and ">Mine</a>" in page


def test_a_refused_view_in_place_toasts_the_reason(app, desk, client, login_as):
    login_as(desk.agent)
    refused = client.post("/support/views", data={"name": " ", "query": "priority=critical"}, headers=HTMX)
    assert refused.status_code >= 400 and toast_of(refused)["kind"] == "error" and 'id="saved-views"' in refused.text


def test_going_available_and_away_answers_in_place_with_a_toast(app, desk, client, login_as):
    login_as(desk.agent)
    available = client.post("/support/availability", data={"available": "1"}, headers=HTMX)
    assert available.status_code == 200 and toast_of(available) == {"message": "You are available.", "kind": "success"}
    assert 'id="availability"' in available.text and "Go unavailable" in available.text and service.is_available(desk.agent)
    away = client.post("/support/availability", data={"available": "0"}, headers=HTMX)
    assert toast_of(away)["message"] == "You are away." and "Go available" in away.text
    page = client.post("/support/availability", data={"available": "1"}, follow_redirects=True).text
    assert "You are available." in flashes(page) and "Go unavailable" in page
