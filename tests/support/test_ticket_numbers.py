"""Short ticket numbers ("#3"): each organization counts its own tickets from 1, the number is stored once
(it never shifts, and a refused filing hands none out), two tickets filed at the same moment get two numbers,
and people see it in lists, on the ticket and in what they are told. The migration numbers existing tickets
the way the pages counted them before, so nobody's "#2" changes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from portal.errors import ServiceError
from portal.extensions import db
from portal.support import service
from portal.support.models import Ticket
from tests.conftest import ROOT
from tests.support.conftest import PNG


def _numbers(org) -> list[int]:
    db.session.expire_all()
    return list(db.session.scalars(select(Ticket.number).where(Ticket.org_id == org.id).order_by(Ticket.id)))


def test_each_org_counts_its_own_tickets_and_a_refused_filing_takes_no_number(app, desk):
    first = service.create_ticket(desk.org, desk.customer, subject="One", body="b")
    service.create_ticket(desk.other_org, desk.outsider, subject="Bravo's first", body="b")
    db.session.commit()
    with pytest.raises(ServiceError):  # a file that lies about its type: the whole filing is refused
        service.create_ticket(desk.org, desk.customer, subject="Two", body="b", files=[("report.pdf", PNG)])
    db.session.rollback()
    second = service.create_ticket(desk.org, desk.customer, subject="Two again", body="b")
    db.session.commit()
    assert (first.short_number, second.short_number) == ("#1", "#2")
    assert _numbers(desk.org) == [1, 2] and _numbers(desk.other_org) == [1]


def test_people_read_the_number_in_lists_on_the_ticket_and_in_what_they_are_told(app, desk, client, login_as):
    service.create_ticket(desk.org, desk.customer, subject="Earlier", body="b")
    ticket = service.create_ticket(desk.org, desk.customer, subject="Printer on fire", body="b")
    service.add_comment(ticket, desk.agent, "On it.", as_agent=True)
    db.session.commit()
    login_as(desk.customer)
    listed = client.get("/o/acme/tickets").text
    row = listed.split(f'data-ticket="{ticket.public_id}"')[1].split("</tr>")[0]
    assert "<td>#2</td>" in row and "tkt_" not in row.split("href=")[0]
    assert "Ticket #2" in client.get(f"/o/acme/tickets/{ticket.public_id}").text
    assert "New reply on #2: Printer on fire" in client.get("/o/acme/notifications").text
    login_as(desk.agent)
    queue_row = client.get("/support/queue").text.split(f'data-ticket="{ticket.public_id}"')[1].split("</tr>")[0]
    assert "<td>#2</td>" in queue_row and 'aria-label="Select #2 Printer on fire"' in queue_row


@pytest.mark.postgres_only
def test_tickets_filed_at_the_same_moment_get_different_numbers(app, desk):
    org_id, customer_id = desk.org.id, desk.customer.id
    db.session.commit()
    start, problems = threading.Barrier(4), []

    def file_some(worker: int) -> None:
        with app.app_context():
            try:
                org, customer = db.session.get(type(desk.org), org_id), db.session.get(type(desk.customer), customer_id)
                start.wait(10)
                for i in range(5):
                    service.create_ticket(org, customer, subject=f"Worker {worker} ticket {i}", body="b")
                    db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below, with the worker that hit it
                problems.append(f"worker {worker}: {exc!r}")
                db.session.rollback()

    threads = [threading.Thread(target=file_some, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert problems == []
    assert sorted(_numbers(desk.org)) == list(range(1, 21))


def test_the_migration_numbers_existing_tickets_as_the_pages_counted_them(tmp_path):
    from portal import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.db'}", "SQLALCHEMY_ENGINE_OPTIONS": {},
                      "REDIS_URL": None})
    now = datetime(2026, 11, 1, tzinfo=UTC).isoformat(sep=" ")
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="b8f4e2a6c0d1")  # before stored numbers
        with db.engine.begin() as conn:
            for org_id, slug in ((1, "acme"), (2, "bravo")):
                conn.execute(text("INSERT INTO organization (id, public_id, slug, name, is_suspended, created_at, updated_at) "
                                  "VALUES (:id, :p, :s, :s, false, :t, :t)"), {"id": org_id, "p": f"org_{slug}", "s": slug, "t": now})
            # interleaved: acme, bravo, acme, acme, bravo
            for ticket_id, org_id in ((10, 1), (11, 2), (12, 1), (15, 1), (17, 2)):
                conn.execute(text(
                    "INSERT INTO ticket (id, public_id, org_id, subject, body, category, priority, priority_rank, status, last_activity_at, "
                    "resolution_due_at, sla_state, sla_paused_seconds, sla_warned, sla_breached, created_at, updated_at) VALUES "
                    "(:id, :p, :o, 's', 'b', 'question', 'medium', 1, 'open', :t, :t, 'ok', 0, '', '', :t, :t)"),
                    {"id": ticket_id, "p": f"tkt_{ticket_id}", "o": org_id, "t": now})
        upgrade(directory=str(ROOT / "migrations"))
        with db.engine.connect() as conn:
            numbers = dict(conn.execute(text("SELECT id, number FROM ticket")).all())
            counters = dict(conn.execute(text("SELECT org_id, last_number FROM ticket_counter")).all())
        assert numbers == {10: 1, 11: 1, 12: 2, 15: 3, 17: 2}
        assert counters == {1: 3, 2: 2}
        db.engine.dispose()
