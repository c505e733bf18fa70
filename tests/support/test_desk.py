"""Platform staff's homes: a support agent lands on the support desk (active, unassigned, SLA warning and
past-SLA counts linking to the queue filtered to them, the tickets nearest their deadline, the busiest
organizations); a super admin's console shows the same desk with the job queues and the newest organizations."""

from __future__ import annotations

import re
from datetime import timedelta

from portal.extensions import db
from portal.models import utcnow
from portal.support import service
from portal.support.models import SlaPolicy
from tests.factories import UserFactory
from tests.support.test_sla_job import _aged_ticket


def _seed(desk):
    """Acme: one ticket past its SLA, one at its warning, one fresh, one resolved; Bravo: one fresh ticket."""
    service.set_calendar(desk.org, timezone="UTC", work_days="0,1,2,3,4,5,6", start_time="00:00", end_time="24:00", holidays=[])
    db.session.add(SlaPolicy(org_id=desk.org.id, priority="high", first_response_minutes=600, resolution_minutes=100))
    db.session.commit()
    late = _aged_ticket(desk, 130)  # resolution (100 min) passed 30 min ago
    warned = _aged_ticket(desk, 85)  # 85% of 100 min: warning
    fresh = service.create_ticket(desk.org, desk.customer, subject="Fresh question", body="b", priority="low")
    done = service.create_ticket(desk.org, desk.customer, subject="All sorted", body="b")
    service.set_status(done, "resolved", desk.agent, as_agent=True)
    service.assign(warned, desk.agent.public_id, desk.agent)
    elsewhere = service.create_ticket(desk.other_org, desk.outsider, subject="Bravo asks", body="b")
    late.subject, warned.subject = "Login loop", "Export stuck"
    db.session.commit()
    service.check_sla_all()
    db.session.commit()
    return late, warned, fresh, done, elsewhere


def _stat(html: str, label: str) -> tuple[str, str]:
    """(the number shown under the card's label, where it links)."""
    found = re.search(rf"<header>{label}</header><p class=\"stat\"><a href=\"([^\"]+)\">(\d+)</a>", html)
    assert found, f"no {label} card"
    return found.group(2), found.group(1).replace("&amp;", "&")


def test_a_support_agent_lands_on_the_desk_and_sees_what_is_at_risk_first(app, desk, client, login_as):
    late, warned, fresh, done, elsewhere = _seed(desk)
    login_as(desk.agent)
    assert client.get("/").headers["Location"] == "/support/"
    page = client.get("/support/")
    assert page.status_code == 200
    html = page.text
    assert _stat(html, "Active tickets") == ("4", "/support/queue?status=active")
    assert _stat(html, "Unassigned") == ("3", "/support/queue?status=active&assignee=none")
    assert _stat(html, "SLA warning") == ("1", "/support/queue?status=active&sla=warning")
    assert _stat(html, "Past SLA") == ("1", "/support/queue?status=active&sla=breached")

    at_risk = html.split('id="desk-at-risk"')[1].split("</article>")[0]
    # the overdue ticket first, then the one nearing its deadline; fresh and resolved tickets are not at risk
    assert at_risk.index("Login loop") < at_risk.index("Export stuck")
    assert "Fresh question" not in at_risk and "All sorted" not in at_risk and "Bravo asks" not in at_risk
    assert f'href="/support/tickets/{late.public_id}"' in at_risk
    assert re.search(r"overdue by 3\d min", at_risk) and re.search(r"due in 1\d min", at_risk)
    assert "Breached" in at_risk and "Agnes Agent" in at_risk and "unassigned" in at_risk and "Acme" in at_risk

    busiest = html.split('id="desk-orgs"')[1].split("</article>")[0]
    assert busiest.index("Acme") < busiest.index("Bravo")
    assert "3 active · 1 past SLA" in busiest and "1 active" in busiest
    assert 'href="/support/queue?status=active&amp;org=bravo"' in busiest


def test_the_desk_counts_link_to_a_queue_that_lists_exactly_those_tickets(app, desk, client, login_as):
    late, warned, *_ = _seed(desk)
    login_as(desk.agent)
    html = client.get("/support/").text
    _n, breached_url = _stat(html, "Past SLA")
    listed = client.get(breached_url).text
    assert late.public_id in listed and warned.public_id not in listed


def test_an_empty_desk_says_so(app, desk, client, login_as):
    login_as(desk.agent)
    html = client.get("/support/").text
    assert _stat(html, "Active tickets")[0] == "0"
    assert "No active ticket is near its SLA deadline." in html and "No organization has an active ticket." in html


def test_the_super_admins_console_shows_the_desk_the_job_queues_and_the_newest_orgs(app, desk, client, login_as):
    _seed(desk)
    desk.other_org.created_at = utcnow() + timedelta(seconds=5)  # Bravo is the newest
    db.session.commit()
    login_as(UserFactory(platform_role="super_admin"))
    html = client.get("/admin/").text
    assert _stat(html, "Past SLA")[0] == "1" and "Login loop" in html
    jobs = html.split('id="admin-jobs"')[1].split("</article>")[0]
    for queue in app.config["RQ_QUEUES"]:
        assert re.search(rf"<li>{queue} <span class=\"muted\">\d+ jobs? waiting</span>", jobs), queue
    kind = r"RQ on Redis · \d+ live workers?" if app.config["REDIS_URL"] else r"In-process runner \(no Redis configured\) · \d+ worker threads?"
    assert re.search(kind, jobs), jobs
    assert "Database <span class=\"badge status-succeeded\">Answering</span>" in jobs
    newest = html.split('id="admin-newest"')[1].split("</article>")[0]
    assert newest.index("Bravo") < newest.index("Acme") and "1 member ·" in newest


def test_people_who_are_not_support_staff_do_not_find_the_desk(app, desk, client, login_as):
    login_as(desk.admin)
    assert client.get("/support/").status_code == 404
