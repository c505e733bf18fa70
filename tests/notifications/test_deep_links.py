"""Inbox deep links: every in-app notification leads to what it is about (a ticket, a run, a key, the members or
billing page), opening one marks it read, approval requests resolve themselves once the run is decided, and the
bell previews the latest five."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.keys import service as keys
from portal.models import utcnow
from portal.notifications import service, templating
from portal.notifications.catalog import EVENTS
from portal.notifications.models import Notification
from portal.orgs import service as orgs
from portal.orgs.models import Membership
from portal.support import service as support
from portal.workflows import service as workflows
from tests.factories import MembershipFactory, OrgFactory, UserFactory, member, on_plan


@pytest.fixture
def org(app):
    return on_plan(OrgFactory(slug="links", name="Links Org"), "enterprise")


@pytest.fixture
def admin(org):
    return member(org, "org_admin", email="ada@links.test", name="Ada Admin")


def _membership(org, user) -> Membership:
    return db.session.scalar(select(Membership).filter_by(org_id=org.id, user_id=user.id))


def _objects(org, admin) -> dict:
    """A real ticket, run, key and invitation of org: what the notifications point at."""
    ticket = support.create_ticket(org, admin, subject="Printer on fire", body="Smoke everywhere.")
    run = workflows.start_run(org, workflows.create_from_starter(org, "approval", admin).public_id, {"amount": 3, "reason": "pens"}, by=admin)
    key, _secret = keys.create_key(org, _membership(org, admin), name="deploy bot", scopes=["read"])
    invitation = orgs.invite(org, "newcomer@example.test", "user", by=admin)
    db.session.commit()
    return {"ticket_id": ticket.public_id, "run_id": run.public_id, "key_id": key.public_id, "invitation_id": invitation.public_id}


def _expected_path(org, event: str, ids: dict, note: Notification) -> str:
    base = f"/o/{org.slug}"
    if event.startswith("ticket."):
        return f"{base}/tickets/{ids['ticket_id']}"
    if event.startswith("workflow."):
        return f"{base}/runs/{ids['run_id']}"
    return {
        "key.expiring": f"{base}/keys/{ids['key_id']}",
        "member.invited": f"{base}/members",
        "usage.threshold_reached": f"{base}/billing",
        "invoice.payment_failed": f"{base}/billing",
    }.get(event, f"{base}/notifications#n-{note.public_id}")


def _send(org, user, event: str, data: dict) -> Notification:
    [note] = service.notify(org, [user], event, data, channels=["in_app"])
    db.session.commit()
    return note


def test_each_events_link_opens_its_object_for_the_recipient(client, login_as, org, admin):
    ids = _objects(org, admin)
    login_as(admin)
    for event in sorted(EVENTS):
        note = _send(org, admin, event, {**templating.sample_data(EVENTS[event]), **ids})
        opened = client.get(f"/o/{org.slug}/notifications/{note.public_id}/open")
        assert opened.status_code == 303, event
        assert opened.headers["Location"] == _expected_path(org, event, ids, note), event
        landed = client.get(opened.headers["Location"].split("#")[0])
        assert landed.status_code == 200, f"{event}: {opened.headers['Location']} answered {landed.status_code}"
        db.session.expire_all()
        assert db.session.get(Notification, note.id).read_at is not None, f"{event} still unread after opening it"


def test_a_notification_without_its_objects_id_leads_to_the_list_and_never_off_site(client, login_as, org, admin):
    # The API lets a member send any event with data of their choosing: the link is built from ids, never taken from data.
    login_as(admin)
    partial = _send(org, admin, "key.expiring", {"key_name": "k", "key_prefix": "vtr_x", "expires_at": "soon", "days_left": 1})
    assert client.get(f"/o/{org.slug}/notifications/{partial.public_id}/open").headers["Location"] == f"/o/{org.slug}/keys"
    crafted = _send(org, admin, "message", {"title": "Click me", "body": "", "url": "https://evil.example/"})
    location = client.get(f"/o/{org.slug}/notifications/{crafted.public_id}/open").headers["Location"]
    assert location == f"/o/{org.slug}/notifications#n-{crafted.public_id}"


def test_the_inbox_item_is_a_link_that_marks_it_read_without_js(client, login_as, org, admin):
    ticket = support.create_ticket(org, admin, subject="Printer on fire", body="Smoke everywhere.")
    db.session.commit()
    note = _send(org, admin, "ticket.status_changed", {"ticket_id": ticket.public_id, "ticket_number": ticket.short_number, "subject": ticket.subject, "old_status": "Open",
                                                        "new_status": "Resolved", "changed_by": "Agnes Agent"})
    _send(org, admin, "message", {"title": "Still unread", "body": ""})
    login_as(admin)
    assert 'data-count="2"' in client.get(f"/o/{org.slug}/notifications/badge").text
    page = client.get(f"/o/{org.slug}/notifications").text
    assert f'href="/o/{org.slug}/notifications/{note.public_id}/open"' in page and "Resolved: #1 Printer on fire" in page
    assert "A ticket&#39;s status changed" in page and ">ticket.status_changed<" not in page  # the event in words, in the item and the filter
    assert "<code>ticket.status_changed</code>" not in page
    landed = client.get(f"/o/{org.slug}/notifications/{note.public_id}/open", follow_redirects=True)
    assert landed.status_code == 200 and landed.request.path == f"/o/{org.slug}/tickets/{ticket.public_id}"
    assert "Printer on fire" in landed.text
    assert 'data-count="1"' in client.get(f"/o/{org.slug}/notifications/badge").text


def test_senders_put_the_objects_id_in_the_data_and_ticket_titles_read_as_words(client, login_as, org, admin):
    customer = member(org, "user", email="carol@links.test", name="Carol Customer")
    agent = UserFactory(email="agent@vetrai.test", name="Agnes Agent", platform_role="support_agent")
    ticket = support.create_ticket(org, customer, subject="Export fails on big files", body="It times out.")
    support.add_comment(ticket, agent, "Could you try again?", as_agent=True)
    key, _secret = keys.create_key(org, _membership(org, customer), name="ci", scopes=["read"], expires_at=utcnow() + timedelta(days=6))
    invitation = orgs.invite(org, "someone@example.test", "user", by=admin)
    db.session.commit()
    assert keys.notify_expiring() == 1
    db.session.commit()

    told = {n.event: n for n in db.session.scalars(select(Notification).where(Notification.user_id == customer.id))}
    replied, expiring = told["ticket.replied"], told["key.expiring"]
    assert replied.title == "New reply on #1: Export fails on big files"  # the org's short number and the subject, not "[tkt_…]"
    assert not any(n.title.startswith("[") for n in db.session.scalars(select(Notification)))
    assert expiring.data["key_id"] == key.public_id
    [invited] = db.session.scalars(select(Notification).filter_by(event="member.invited"))
    assert invited.data["invitation_id"] == invitation.public_id

    login_as(customer)
    for note, path in ((replied, f"/o/{org.slug}/tickets/{ticket.public_id}"), (expiring, f"/o/{org.slug}/keys/{key.public_id}")):
        landed = client.get(f"/o/{org.slug}/notifications/{note.public_id}/open", follow_redirects=True)
        assert landed.status_code == 200 and landed.request.path == path


def test_another_orgs_or_members_notification_id_is_a_404_and_stays_unread(client, login_as, org, admin):
    other = OrgFactory(slug="elsewhere")
    theirs = _send(other, member(other, "org_admin"), "message", {"title": "Not yours", "body": ""})
    colleague_note = _send(org, member(org), "message", {"title": "Colleague's", "body": ""})
    MembershipFactory(org=other, user=admin, role="user")  # a member of both: the URL's org still decides
    login_as(admin)
    assert client.get(f"/o/{org.slug}/notifications/{theirs.public_id}/open").status_code == 404
    assert client.get(f"/o/{org.slug}/notifications/{colleague_note.public_id}/open").status_code == 404
    assert client.get(f"/o/{other.slug}/notifications/{theirs.public_id}/open").status_code == 404  # not their own either
    db.session.expire_all()
    assert db.session.get(Notification, theirs.id).read_at is None and db.session.get(Notification, colleague_note.id).read_at is None


def _waiting_run(org, starter, wait_for_jobs):
    wf = workflows.create_from_starter(org, "approval", starter)
    run = workflows.start_run(org, wf.public_id, {"amount": 42, "reason": "a chair"}, by=starter)
    db.session.commit()
    wait_for_jobs()
    db.session.expire_all()
    assert workflows.get_run(org, run.public_id).status == "waiting_for_approval"
    return run


def _approval_notes(run) -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(select(Notification).where(Notification.event == "workflow.needs_approval")
                                   .order_by(Notification.id)).all())


@pytest.mark.parametrize("decision", ["approve", "reject", "cancel"])
def test_deciding_a_run_marks_every_recipients_approval_request_read(client, login_as, org, admin, wait_for_jobs, decision):
    starter = member(org, "user", email="walt@links.test", name="Walt User")
    approver = member(org, "org_admin", email="olga@links.test", name="Olga Owner")
    run = _waiting_run(org, starter, wait_for_jobs)
    other_run = _waiting_run(org, starter, wait_for_jobs)
    # Everyone the rule lets decide is asked (both admins); the starter, whom the default rule refuses, is not.
    about_run = [n for n in _approval_notes(run) if n.data["run_id"] == run.public_id]
    assert {n.user_id for n in about_run} == {admin.id, approver.id} and all(n.read_at is None for n in about_run)

    login_as(admin)
    if decision == "cancel":
        answer = client.post(f"/o/{org.slug}/runs/{run.public_id}/cancel")
    else:
        answer = client.post(f"/api/v1/workflows/{run.public_id}/approval?org={org.slug}",
                             json={"approved": decision == "approve", "reason": "fine by me"})
    assert answer.status_code in (200, 303), answer.text
    wait_for_jobs()  # an approved run resumes in the background and finishes

    notes = _approval_notes(run)
    assert all(n.read_at is not None for n in notes if n.data["run_id"] == run.public_id)
    assert all(n.read_at is None for n in notes if n.data["run_id"] == other_run.public_id)  # still waiting: still asked
    # The other admin keeps the other run's request. The starter hears how their run ended: it finished once approved,
    # it was rejected (by whom and why); a cancelled run tells them nothing.
    told = [n.event for n in db.session.scalars(select(Notification).where(Notification.user_id == starter.id))]
    assert service.unread_count(org, approver) == 1
    assert told == {"approve": ["workflow.succeeded"], "reject": ["workflow.rejected"], "cancel": []}[decision]


def test_the_bell_previews_the_latest_five_and_marks_all_read_in_place(client, login_as, org, admin):
    for n in range(7):
        _send(org, admin, "message", {"title": f"News {n}", "body": ""})
    login_as(admin)
    page = client.get(f"/o/{org.slug}/").text
    assert 'id="notification-bell"' in page and f'hx-get="/o/{org.slug}/notifications/bell"' in page
    assert "Open the inbox" in page and "Mark all read" in page  # without JS the bell still opens onto these
    bell = client.get(f"/o/{org.slug}/notifications/bell", headers={"HX-Request": "true"}).text
    assert [f"News {n}" in bell for n in range(7)] == [False, False, True, True, True, True, True]
    assert bell.count(">New<") == 5 and bell.index("News 6") < bell.index("News 2")
    label = client.get(f"/o/{org.slug}/notifications/badge").text
    assert "Inbox" in label and 'data-count="7"' in label and "unread" in label
    cleared = client.post(f"/o/{org.slug}/notifications/read-all", data={"view": "bell"}, headers={"HX-Request": "true"})
    assert cleared.status_code == 200 and cleared.headers["HX-Trigger"] == "notifications-changed"
    assert "News 6" in cleared.text and ">New<" not in cleared.text
    assert service.unread_count(org, admin) == 0
