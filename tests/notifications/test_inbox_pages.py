import json

from portal.notifications import service
from tests.factories import OrgFactory, member

MSG = {"title": "Hello", "body": "Body text"}


def _send(org, user, title="Hello"):
    return service.notify(org, [user], "message", {"title": title, "body": "Body text"}, channels=["in_app"])[0]


def test_inbox_lists_notifications_and_the_badge_counts_unread(client, login_as):
    org = OrgFactory()
    alice = member(org)
    _send(org, alice, "First news")
    _send(org, alice, "Second news")
    login_as(alice)
    page = client.get(f"/o/{org.slug}/notifications")
    assert "First news" in page.text and "Second news" in page.text
    assert page.text.index("Second news") < page.text.index("First news")  # newest first
    badge = client.get(f"/o/{org.slug}/notifications/badge")
    assert 'data-count="2"' in badge.text
    # The badge is on every org page, and polls itself.
    dashboard = client.get(f"/o/{org.slug}/")
    assert 'id="notification-badge"' in dashboard.text and 'data-count="2"' in dashboard.text
    assert "every 5s" in dashboard.text


def test_mark_read_mark_all_and_archive(client, login_as):
    org = OrgFactory()
    alice = member(org)
    first, second, third = (_send(org, alice, t) for t in ("One", "Two", "Three"))
    login_as(alice)
    row = client.post(f"/o/{org.slug}/notifications/{first.public_id}/read", headers={"HX-Request": "true"})
    assert row.status_code == 200 and "Mark unread" in row.text and row.headers["HX-Trigger"] == "notifications-changed"
    assert service.unread_count(org, alice) == 2
    archiving = client.post(f"/o/{org.slug}/notifications/{second.public_id}/archive", headers={"HX-Request": "true"})
    triggers = json.loads(archiving.headers["HX-Trigger"])  # the row goes, the badge refreshes and a toast says where it went
    assert triggers["toast"]["message"] == "Notification archived: it is under Archived." and "notifications-changed" in triggers
    listing = client.get(f"/o/{org.slug}/notifications", headers={"HX-Request": "true"})
    assert "Two" not in listing.text and "Three" in listing.text
    archived = client.get(f"/o/{org.slug}/notifications?state=archived", headers={"HX-Request": "true"})
    assert "Two" in archived.text and "Three" not in archived.text
    all_read = client.post(f"/o/{org.slug}/notifications/read-all", headers={"HX-Request": "true"})
    assert all_read.status_code == 200 and "0 unread" in all_read.text
    assert service.unread_count(org, alice) == 0
    assert third.id


def test_filters_by_read_state_and_event(client, login_as):
    org = OrgFactory()
    alice = member(org)
    note = _send(org, alice, "Message one")
    service.notify(org, [alice], "workflow.failed", {"workflow_name": "Flow", "run_id": "r", "error": "e"}, channels=["in_app"])
    service.mark_read(org, alice, note.public_id)
    login_as(alice)
    unread = client.get(f"/o/{org.slug}/notifications?state=unread", headers={"HX-Request": "true"})
    assert "Flow failed" in unread.text and "Message one" not in unread.text
    by_event = client.get(f"/o/{org.slug}/notifications?event=message", headers={"HX-Request": "true"})
    assert "Message one" in by_event.text and "Flow failed" not in by_event.text


def test_another_members_notification_is_a_404(client, login_as):
    org = OrgFactory()
    alice, bob = member(org), member(org)
    note = _send(org, alice)
    login_as(bob)
    assert client.post(f"/o/{org.slug}/notifications/{note.public_id}/read").status_code == 404
    assert client.post(f"/o/{org.slug}/notifications/{note.public_id}/archive").status_code == 404
    assert service.unread_count(org, alice) == 1


def test_notifications_of_another_org_stay_there(client, login_as):
    a, b = OrgFactory(), OrgFactory()
    alice = member(a)
    from tests.factories import MembershipFactory

    MembershipFactory(org=b, user=alice)
    _send(a, alice, "Only in A")
    login_as(alice)
    assert "Only in A" not in client.get(f"/o/{b.slug}/notifications").text
    assert 'data-count' not in client.get(f"/o/{b.slug}/notifications/badge").text


def test_mark_all_read_keeps_the_filtered_view(client, login_as):
    import re

    org = OrgFactory()
    alice = member(org)
    _send(org, alice, "Still here")
    login_as(alice)
    page = client.get(f"/o/{org.slug}/notifications?state=unread&event=message", headers={"HX-Request": "true"})
    action = re.search(r'hx-post="([^"]*read-all[^"]*)"', page.text).group(1).replace("&amp;", "&")
    after = client.post(action, headers={"HX-Request": "true"})
    # The person was looking at unread messages: after marking all read, that view is empty.
    assert after.status_code == 200 and "Nothing unread." in after.text and "Still here" not in after.text
    assert service.unread_count(org, alice) == 0
    plain = client.post(re.search(r'action="([^"]*read-all[^"]*)"', page.text).group(1).replace("&amp;", "&"))
    assert plain.status_code == 303 and "state=unread" in plain.headers["Location"]
