"""The support pages speak words, not codes: labels from one mapping, short ticket numbers instead of ids, file sizes
in bytes / KB / MB, and "Closed without a reply" where nobody ever answered a ticket."""

from __future__ import annotations

import re
from html import unescape

import pytest

from portal.extensions import db
from portal.support import service
from portal.support.labels import LABELS
from portal.support.models import CATEGORIES, PRIORITIES, SLA_STATES, STATUSES
from portal.text import file_size


def _text(html: str) -> str:
    """What a person reads: the page without its tags (and so without the ids in links and attributes)."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _options(html: str, name: str) -> dict[str, str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return {value: label.strip() for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)}


def test_every_code_has_words():
    for kind, codes in (("status", STATUSES), ("priority", PRIORITIES), ("category", CATEGORIES), ("sla", SLA_STATES)):
        assert set(LABELS[kind]) == set(codes), kind


def test_queue_filters_show_words_and_keep_the_codes_as_values(app, desk, client, login_as):
    login_as(desk.agent)
    page = client.get("/support/queue").text
    assert _options(page, "priority") == {"": "All priorities", "low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}
    assert _options(page, "category")["feature_request"] == "Feature request"
    assert _options(page, "sla") == {"": "Any SLA state", "ok": "On track", "warning": "Due soon", "breached": "Breached",
                                     "paused": "Paused", "met": "Met", "unanswered": "Closed without a reply"}


def test_queue_rows_and_ticket_pages_show_priority_category_and_sla_in_words(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Dark mode", body="b", category="feature_request", priority="medium")
    db.session.commit()
    login_as(desk.agent)
    row = client.get("/support/queue").text.split(f'data-ticket="{ticket.public_id}"')[1].split("</tr>")[0]
    assert "<td>Medium</td>" in row and ">On track</span>" in row and ">ok<" not in row
    agent_page = _text(client.get(f"/support/tickets/{ticket.public_id}").text)
    assert "Priority: Medium · Category: Feature request" in agent_page and "SLA: On track" in agent_page
    assert "First response 0 / " in agent_page
    login_as(desk.customer)
    customer_page = client.get(f"/o/acme/tickets/{ticket.public_id}").text
    assert "Priority: Medium · Category: Feature request" in _text(customer_page) and "feature request" not in customer_page
    assert "<td>Medium</td>" in client.get("/o/acme/tickets").text


def test_the_agent_ticket_page_names_the_ticket_by_its_number_not_its_id(app, desk, client, login_as):
    service.create_ticket(desk.org, desk.customer, subject="First", body="b")
    ticket = service.create_ticket(desk.org, desk.customer, subject="Second", body="b")
    db.session.commit()
    login_as(desk.agent)
    page = _text(client.get(f"/support/tickets/{ticket.public_id}").text)
    assert f"Ticket {ticket.short_number} · Acme" in page and ticket.short_number == "#2"
    assert "tkt_" not in page  # ids stay in the URLs


@pytest.mark.parametrize(("size", "words"), [(0, "0 bytes"), (1, "1 byte"), (16, "16 bytes"), (1023, "1023 bytes"), (1024, "1 KB"),
                                             (2458, "2.4 KB"), (1_258_291, "1.2 MB"), (1024 * 1024 - 1, "1 MB"), (3 * 1024 ** 3, "3 GB")])
def test_file_sizes_read_in_words(size, words):
    assert file_size(size) == words


def test_a_16_byte_attachment_shows_16_bytes(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Log", body="b", files=[("note.txt", b"sixteen bytes!!\n")])
    db.session.commit()
    login_as(desk.customer)
    assert "(16 bytes)" in client.get(f"/o/acme/tickets/{ticket.public_id}").text
    login_as(desk.agent)
    page = client.get(f"/support/tickets/{ticket.public_id}").text
    assert "(16 bytes)" in page and "0.0 KB" not in page


def test_a_ticket_closed_without_an_agent_reply_says_so_instead_of_met(app, desk, client, login_as):
    silent = service.create_ticket(desk.org, desk.customer, subject="Never mind", body="b")
    service.set_status(silent, "closed", desk.customer, as_agent=False)
    answered = service.create_ticket(desk.org, desk.customer, subject="Answered", body="b")
    service.add_comment(answered, desk.agent, "Fixed it.", as_agent=True)
    service.set_status(answered, "resolved", desk.agent, as_agent=True)
    db.session.commit()
    login_as(desk.agent)
    sla = _text(client.get(f"/support/tickets/{silent.public_id}").text.split('id="sla"')[1].split("</p>")[0])
    assert "SLA: Closed without a reply · First response: Closed without a reply · Resolution " in sla and "Met" not in sla
    assert sla.count("(done)") == 1 and sla.strip().endswith("(done)")  # the resolution only
    sla = _text(client.get(f"/support/tickets/{answered.public_id}").text.split('id="sla"')[1].split("</p>")[0])
    assert "SLA: Met" in sla and re.search(r"First response \d+ / \d+ business min \(done\)", sla) and "without a reply" not in sla
    queue = client.get("/support/queue").text
    assert ">Closed without a reply</span>" in queue.split(f'data-ticket="{silent.public_id}"')[1].split("</tr>")[0]
    assert ">Met</span>" in queue.split(f'data-ticket="{answered.public_id}"')[1].split("</tr>")[0]
