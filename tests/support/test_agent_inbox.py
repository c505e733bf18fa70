"""Agents belong to no customer org, so their in-app ticket notifications have their own inbox under /support/."""

from __future__ import annotations

from portal.notifications import service as notifications
from portal.support import service


def test_an_agents_inbox_shows_ticket_events_from_every_org(app, desk, client, login_as):
    acme = service.create_ticket(desk.org, desk.customer, subject="Acme printer on fire", body="b")
    bravo = service.create_ticket(desk.other_org, desk.outsider, subject="Bravo login loop", body="b")
    service.assign(acme, desk.agent.public_id, desk.agent2)
    service.add_comment(acme, desk.customer, "Any news on the fire?", as_agent=False)
    login_as(desk.agent)
    # the org inbox is not theirs: they are not members of acme
    assert client.get("/o/acme/notifications").status_code == 404
    page = client.get("/support/notifications")
    assert page.status_code == 200
    html = page.text
    # each org numbers its own tickets: both are its #1
    assert "New medium ticket #1: Acme printer on fire" in html
    assert "New medium ticket #1: Bravo login loop" in html and f'href="/support/tickets/{bravo.public_id}"' in html
    assert "Assigned to Agnes Agent: #1 Acme printer on fire" in html
    assert "New reply on #1: Acme printer on fire" in html and "Any news on the fire?" in html
    assert "A ticket got a reply" in html and "ticket.replied" not in html  # what happened in words, not the event's code
    assert f'href="/support/tickets/{acme.public_id}"' in html and "Bravo" in html  # a link to the ticket, and its org
    # the queue links to it
    assert 'href="/support/notifications"' in client.get("/support/queue").text


def test_an_agents_inbox_holds_only_their_own_ticket_notifications(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Only for Bert", body="b")
    service.assign(ticket, desk.agent2.public_id, desk.agent)
    notifications.notify(desk.org, [desk.agent], "message", {"title": "Not a ticket event", "body": "x"})
    login_as(desk.agent)
    html = client.get("/support/notifications").text
    assert "New medium ticket #1: Only for Bert" in html  # ticket.created reached every agent
    assert "Assigned to Bert Agent" not in html and "Not a ticket event" not in html
    login_as(desk.agent2)
    assert "Assigned to Bert Agent: #1 Only for Bert" in client.get("/support/notifications").text
    # customers and org admins never see it: a 404, as for every /support/ page
    for person in (desk.customer, desk.admin):
        login_as(person)
        assert client.get("/support/notifications").status_code == 404



def test_an_org_muting_an_event_for_its_members_does_not_mute_it_for_agents(app, desk, client, login_as):
    # Ada turns new-ticket notifications off in every channel for Acme's members
    notifications.save_preferences(desk.org, None, {"ticket.created": {"in_app": False, "email": False}})
    notifications.notify(desk.org, [desk.agent, desk.admin], "ticket.created",
                         {"ticket_id": "tkt_x", "ticket_number": "#9", "subject": "Muted for members", "priority": "high", "requester_name": "Carol", "url": ""})
    login_as(desk.agent)
    assert "Muted for members" in client.get("/support/notifications").text
    login_as(desk.admin)
    assert "Muted for members" not in client.get("/o/acme/notifications").text
