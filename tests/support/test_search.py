"""Queue search: full text on PostgreSQL (GIN indexes over tsvector expressions), LIKE on SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from portal.extensions import db
from portal.support import service


def _ids(html: str, *tickets) -> list[str]:
    return [t.subject for t in tickets if t.public_id in html]


def test_search_finds_a_ticket_by_a_word_of_its_body_in_the_agents_queue(app, desk, client, login_as):
    mine = service.create_ticket(desk.org, desk.customer, subject="Export fails", body="The nightly reconciliation crashes at midnight.")
    other = service.create_ticket(desk.org, desk.customer, subject="Login loop", body="Redirects forever after the password step.")
    login_as(desk.agent)
    assert _ids(client.get("/support/queue?q=reconciliation").text, mine, other) == ["Export fails"]
    assert _ids(client.get("/support/queue?q=redirects+password").text, mine, other) == ["Login loop"]
    assert _ids(client.get("/support/queue?q=export").text, mine, other) == ["Export fails"]  # the subject counts too
    assert _ids(client.get("/support/queue?q=reconciliation+forever").text, mine, other) == []  # every word must match
    # the API's list takes the same search
    assert [t["id"] for t in client.get("/api/v1/tickets?q=reconciliation").get_json()["data"]] == [mine.public_id]


def test_a_customer_search_never_finds_another_orgs_ticket(app, desk, client, login_as):
    ours = service.create_ticket(desk.org, desk.customer, subject="Invoice", body="The quarterly invoice shows a wrong VAT number.")
    theirs = service.create_ticket(desk.other_org, desk.outsider, subject="Invoice too", body="Our quarterly invoice is missing.")
    login_as(desk.customer)
    assert [t["id"] for t in client.get("/api/v1/tickets?org=acme&q=quarterly").get_json()["data"]] == [ours.public_id]
    login_as(desk.outsider)
    assert [t["id"] for t in client.get("/api/v1/tickets?org=bravo&q=quarterly").get_json()["data"]] == [theirs.public_id]
    # the agent's queue narrowed to one org stays in it
    login_as(desk.agent)
    assert _ids(client.get("/support/queue?q=quarterly&org=acme").text, ours, theirs) == ["Invoice"]
    assert _ids(client.get("/support/queue?q=quarterly").text, ours, theirs) == ["Invoice", "Invoice too"]


def test_agents_find_words_in_replies_and_notes_and_odd_input_is_harmless(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Slow", body="Pages are slow.")
    service.add_comment(ticket, desk.agent, "Escalated to the database team", as_agent=True, internal=True)
    login_as(desk.agent)
    assert _ids(client.get("/support/queue?q=escalated").text, ticket) == ["Slow"]
    for junk in ("'); drop table ticket; --", "a & | ! :* (", "\\", "%_%"):
        assert client.get("/support/queue", query_string={"q": junk}).status_code == 200, junk
    assert _ids(client.get("/support/queue", query_string={"q": "slow & !pages"}).text, ticket) == ["Slow"]  # words, not operators


@pytest.mark.postgres_only  # SQLite has no tsvector: it searches with LIKE, covered above
def test_postgres_search_uses_the_gin_indexes(app, desk):
    indexes = dict(db.session.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%search'")).all())
    assert "USING gin" in indexes["ix_ticket_search"] and "USING gin" in indexes["ix_ticket_comment_search"]
    from sqlalchemy import select

    from portal.support.models import Ticket

    db.session.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table: ask whether the index CAN serve the query
    query = select(Ticket.id).where(service.search_condition("reconciliation", search_comments=True))
    plan = "\n".join(db.session.execute(text("EXPLAIN " + str(query.compile(db.engine, compile_kwargs={"literal_binds": True})))).scalars())
    db.session.rollback()
    assert "ix_ticket_search" in plan and "ix_ticket_comment_search" in plan, plan
