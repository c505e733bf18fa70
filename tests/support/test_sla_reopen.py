"""A resolved or closed ticket's SLA clock stands still: reopening it counts only the time it was worked on."""

from __future__ import annotations

from datetime import timedelta

from portal.extensions import db
from portal.support import service

from .test_sla_job import _aged_ticket, _events, _setup


def _as_if_hours_ago(ticket, hours: int) -> None:
    """Move everything the ticket recorded back in time, as if it had all happened `hours` earlier."""
    shift = timedelta(hours=hours)
    for name in ("created_at", "resolved_at", "closed_at", "first_response_at", "last_activity_at", "sla_paused_at"):
        if getattr(ticket, name) is not None:
            setattr(ticket, name, getattr(ticket, name) - shift)
    service.recompute_due(ticket)
    db.session.commit()


def test_a_ticket_reopened_by_the_customer_days_later_is_not_breached_by_the_time_it_sat_resolved(app, desk, client, login_as):
    _setup(desk)  # around the clock; high priority: first response 60 min, resolution 100 min
    ticket = _aged_ticket(desk, 10)
    service.add_comment(ticket, desk.agent, "Fixed: clear your cache.", as_agent=True)
    service.set_status(ticket, "resolved", desk.agent, as_agent=True)
    _as_if_hours_ago(ticket, 3)  # solved 10 minutes after filing, three hours ago
    service.add_comment(ticket, desk.customer, "It's back.", as_agent=False)
    assert ticket.status == "open"
    resolution = service.sla_status(ticket)["resolution"]
    assert resolution["used"] < 15 * 60 and resolution["state"] == "ok"
    assert service.check_sla_all() == 0 and _events(ticket.public_id) == []
    login_as(desk.agent)
    assert ticket.public_id in client.get("/support/queue?sla=ok").text
    assert ticket.public_id not in client.get("/support/queue?sla=breached").text


def test_the_reopen_button_and_closing_stop_and_restart_the_clock_too(app, desk):
    _setup(desk)
    ticket = _aged_ticket(desk, 20)
    service.set_status(ticket, "closed", desk.customer, as_agent=False)
    _as_if_hours_ago(ticket, 5)
    service.set_status(ticket, "open", desk.customer, as_agent=False)
    assert 20 * 60 <= service.sla_status(ticket)["resolution"]["used"] < 25 * 60
    # a wait on the customer that ends in a resolution is not counted twice
    service.set_status(ticket, "waiting_on_customer", desk.agent, as_agent=True)
    _as_if_hours_ago(ticket, 1)  # an hour's wait
    service.set_status(ticket, "resolved", desk.agent, as_agent=True)
    used = service.sla_status(ticket)["resolution"]["used"]
    assert 20 * 60 <= used < 25 * 60 and ticket.sla_state == "unanswered"  # not breached; but nobody replied, so not met
    service.set_status(ticket, "closed", desk.agent, as_agent=True)
    assert service.sla_status(ticket)["resolution"]["used"] == used
