"""The queue's "high priority, SLA due first" view: only active high-priority tickets, the soonest due first, and
"Load more" pages that continue where the last one stopped (ties on the due time included), as the page shows them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from portal.extensions import db
from portal.support import service

URL = "/support/queue?status=active&priority=high&sort=due"


def _row_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-ticket="([^"]+)"', html)


def _seed(desk) -> list:
    """Six active high-priority tickets over two orgs (two pairs due at the same minute), and three that do not belong."""
    base = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    due_hours = [5, 1, 3, 1, 3, 8]  # tickets 1 and 3, 2 and 4 tie
    tickets = []
    for i, hours in enumerate(due_hours):
        org, user = (desk.org, desk.customer) if i % 2 == 0 else (desk.other_org, desk.outsider)
        t = service.create_ticket(org, user, subject=f"High {i}", body="b", priority="high", category="bug")
        t.resolution_due_at = base + timedelta(hours=hours)
        tickets.append(t)
    medium = service.create_ticket(desk.org, desk.customer, subject="Medium", body="b", priority="medium", category="bug")
    resolved = service.create_ticket(desk.org, desk.customer, subject="Resolved", body="b", priority="high", category="bug")
    service.set_status(resolved, "resolved", desk.agent, as_agent=True)
    closed = service.create_ticket(desk.other_org, desk.outsider, subject="Closed", body="b", priority="high", category="bug")
    service.set_status(closed, "closed", desk.agent, as_agent=True)
    for t in (medium, resolved, closed):
        t.resolution_due_at = base  # due before every ticket above: they would come first if the filter let them in
    db.session.commit()
    return tickets


def _expected(tickets) -> list[str]:
    return [t.public_id for t in sorted(tickets, key=lambda t: (t.resolution_due_at, t.id))]


def test_high_priority_sla_due_first_lists_active_high_tickets_soonest_due_first(app, desk, client, login_as):
    tickets = _seed(desk)
    service.assign(tickets[1], desk.agent2.public_id, desk.agent)
    login_as(desk.agent)
    page = client.get(URL, headers={"HX-Request": "true"})
    assert page.status_code == 200
    assert _row_ids(page.text) == _expected(tickets)
    # each row still says which organization and which agent
    row = page.text.split(f'<tr data-ticket="{tickets[1].public_id}">', 1)[1].split("</tr>", 1)[0]
    assert "Bravo" in row and "Bert Agent" in row and tickets[1].short_number in row


def test_load_more_continues_the_due_order_without_skipping_or_repeating(app, desk, client, login_as):
    tickets = _seed(desk)
    for page_of in (service.queue_rows, service.queue):  # the queue page's rows, and the API's tickets
        seen, after = [], ""
        while True:
            rows, after = page_of(service.QueueFilters(status="active", priority="high", sort="due", after=after), desk.agent, per_page=2)
            seen += [r.public_id for r in rows]
            if after is None:
                break
        assert seen == _expected(tickets)
    # the page's "Load more" answers the rows after the cursor it was given
    _rows, cursor = service.queue_rows(service.QueueFilters(status="active", priority="high", sort="due"), desk.agent, per_page=3)
    login_as(desk.agent)
    more = client.get(f"{URL}&{urlencode({'after': cursor})}", headers={"HX-Request": "true"})
    assert _row_ids(more.text) == _expected(tickets)[3:]
