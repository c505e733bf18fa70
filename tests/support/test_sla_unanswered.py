"""A ticket resolved or closed before any agent replied never met its SLA: its stored state is "unanswered" ("Closed
without a reply"), not "met", so the queue's "SLA met" filter leaves it out and the SLA report counts it apart. The
migration writes that state for the tickets finished before it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from portal.extensions import db
from portal.models import utcnow
from portal.support import service
from tests.conftest import ROOT, scratch_app

BEFORE = "4e7b2d9c1a85"  # the revision before the data migration


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _tickets(desk):
    """Closed by the customer unanswered, resolved by an agent unanswered, and answered then resolved."""
    silent = service.create_ticket(desk.org, desk.customer, subject="Never mind", body="b")
    service.set_status(silent, "closed", desk.customer, as_agent=False)
    quiet = service.create_ticket(desk.org, desk.customer, subject="Sorted it myself", body="b")
    service.set_status(quiet, "resolved", desk.agent, as_agent=True)
    answered = service.create_ticket(desk.org, desk.customer, subject="Answered", body="b")
    service.add_comment(answered, desk.agent, "Fixed it.", as_agent=True)
    service.set_status(answered, "resolved", desk.agent, as_agent=True)
    db.session.commit()
    return silent, quiet, answered


def test_a_ticket_finished_without_a_reply_is_unanswered_not_met(app, desk):
    silent, quiet, answered = _tickets(desk)
    assert (silent.sla_state, quiet.sla_state, answered.sla_state) == ("unanswered", "unanswered", "met")
    rows = {r["priority"]: r for r in service.sla_report(utcnow() - timedelta(days=1), utcnow() + timedelta(days=1))}
    medium = rows["medium"]
    assert (medium["total"], medium["met"], medium["unanswered"]) == (3, 1, 2)
    assert medium["share"] == pytest.approx(1 / 3)
    # an agent's reply to the closed ticket answers it after all; reopening it runs the clock again
    service.add_comment(silent, desk.agent, "Sorry for the wait.", as_agent=True)
    assert silent.status == "closed" and silent.sla_state == "met"
    service.set_status(quiet, "open", desk.customer, as_agent=False)
    assert quiet.sla_state == "ok"


def test_the_queue_filter_report_and_page_do_not_call_it_met(app, desk, client, login_as):
    silent, quiet, answered = _tickets(desk)
    login_as(desk.agent)
    met = client.get("/support/queue?sla=met").text
    assert answered.public_id in met and silent.public_id not in met and quiet.public_id not in met
    unanswered = client.get("/support/queue?sla=unanswered").text
    assert silent.public_id in unanswered and quiet.public_id in unanswered and answered.public_id not in unanswered
    assert re.search(r'<option value="unanswered"[^>]*>Closed without a reply</option>', unanswered)
    row = unanswered.split(f'data-ticket="{silent.public_id}"')[1].split("</tr>")[0]
    assert 'class="sla sla-unanswered">Closed without a reply</span>' in row
    page = _text(client.get(f"/support/tickets/{silent.public_id}").text.split('id="sla"')[1].split("</p>")[0])
    assert "SLA: Closed without a reply · First response: Closed without a reply" in page and "Met" not in page
    today = utcnow().date().isoformat()
    report = client.get(f"/support/report?start={today}&end={today}").text
    assert "<th" in report and "Closed without a reply</th>" in report
    medium = _text(report.split("<td>Medium</td>")[1].split("</tr>")[0]).split()
    assert medium == ["3", "1", "2", "33%"]  # tickets, met, closed without a reply, share


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_the_migration_marks_finished_unanswered_tickets_and_leaves_the_rest(tmp_path, backend_name):
    with scratch_app(tmp_path, backend_name) as app:
        _migrate_and_check(app)


def _migrate_and_check(app) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC).isoformat(sep=" ")
    # id: (status, first_response_at, sla_breached, sla_state before)
    rows = {1: ("closed", None, "", "met"), 2: ("resolved", None, "", "met"), 3: ("resolved", now, "", "met"),
            4: ("closed", None, "first_response", "breached"), 5: ("open", None, "", "ok"), 6: ("waiting_on_customer", None, "", "paused")}
    with app.app_context():
        directory = str(ROOT / "migrations")
        upgrade(directory=directory, revision=BEFORE)
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO organization (id, public_id, slug, name, is_suspended, created_at, updated_at) "
                              "VALUES (1, 'org_acme', 'acme', 'Acme', false, :t, :t)"), {"t": now})
            for ticket_id, (status, first_response_at, breached, state) in rows.items():
                conn.execute(text(
                    "INSERT INTO ticket (id, public_id, org_id, number, subject, body, category, priority, priority_rank, status, "
                    "last_activity_at, first_response_at, resolution_due_at, sla_state, sla_paused_seconds, sla_warned, sla_breached, "
                    "created_at, updated_at) VALUES "
                    "(:id, :p, 1, :id, 's', 'b', 'question', 'medium', 1, :status, :t, :fr, :t, :state, 0, '', :breached, :t, :t)"),
                    {"id": ticket_id, "p": f"tkt_{ticket_id}", "status": status, "fr": first_response_at, "state": state,
                     "breached": breached, "t": now})
        upgrade(directory=directory)

        def states() -> dict[int, str]:
            with db.engine.connect() as conn:
                return dict(conn.execute(text("SELECT id, sla_state FROM ticket")).all())

        assert states() == {1: "unanswered", 2: "unanswered", 3: "met", 4: "breached", 5: "ok", 6: "paused"}
        downgrade(directory=directory, revision=BEFORE)
        assert states() == {ticket_id: row[3] for ticket_id, row in rows.items()}
        db.engine.dispose()
