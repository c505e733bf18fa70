from sqlalchemy import select

from portal.extensions import db
from portal.notifications import service
from portal.notifications.models import Notification
from tests.factories import MembershipFactory, OrgFactory, member


def test_admin_sends_a_message_over_the_api(client, login_as, mailbox):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    login_as(member(org, "org_admin"))
    response = client.post("/api/v1/notifications", json={"to": ["alice@example.test", alice.public_id], "title": "Heads up", "body": "Maintenance at 22:00", "channels": ["in_app", "email"]})
    assert response.status_code == 202
    [note] = response.json["notifications"]  # the same person twice is one notification
    assert note["recipient"] == alice.public_id and note["title"] == "Heads up"
    assert "Maintenance at 22:00" in mailbox.text_of(mailbox.wait_for("alice@example.test")[0])


def test_unknown_or_foreign_recipients_are_refused_by_name(client, login_as, row_counts):
    org, other = OrgFactory(), OrgFactory()
    outsider = member(other, email="outsider@example.test")
    login_as(member(org, "org_admin"))
    before = row_counts()
    response = client.post("/api/v1/notifications", json={"to": ["nobody@example.test", outsider.public_id], "title": "x"})
    assert response.status_code == 422
    message = response.json["error"]["fields"]["to"]
    assert "nobody@example.test" in message and outsider.public_id in message
    assert row_counts() == before


def test_bad_send_bodies_are_4xx(client, login_as):
    org = OrgFactory()
    member(org, email="alice@example.test")
    login_as(member(org, "org_admin"))
    no_title = client.post("/api/v1/notifications", json={"to": ["alice@example.test"]})
    assert no_title.status_code == 422 and "title" in no_title.json["error"]["fields"]
    bad_channel = client.post("/api/v1/notifications", json={"to": ["alice@example.test"], "title": "t", "channels": ["pigeon"]})
    assert bad_channel.status_code == 422
    bad_event = client.post("/api/v1/notifications", json={"to": ["alice@example.test"], "event": "nope"})
    assert bad_event.status_code == 422 and "event" in bad_event.json["error"]["fields"]
    missing_data = client.post("/api/v1/notifications", json={"to": ["alice@example.test"], "event": "workflow.failed"})
    assert missing_data.status_code == 422 and "workflow_name" in missing_data.json["error"]["fields"]["data"]
    empty_to = client.post("/api/v1/notifications", json={"to": [], "title": "t"})
    assert empty_to.status_code == 422


def test_plain_members_cannot_send(client, login_as):
    org = OrgFactory()
    member(org, email="alice@example.test")
    login_as(member(org, "user"))
    response = client.post("/api/v1/notifications", json={"to": ["alice@example.test"], "title": "t"})
    assert response.status_code == 403


def test_member_lists_reads_and_sees_deliveries_of_their_notifications(client, login_as):
    org = OrgFactory()
    alice = member(org)
    for i in range(3):
        service.notify(org, [alice], "message", {"title": f"N{i}", "body": "b"}, channels=["in_app"])
    login_as(alice)
    listing = client.get("/api/v1/notifications?per_page=2").json
    assert listing["total"] == 3 and listing["next"]
    first = listing["data"][0]
    assert client.put(f"/api/v1/notifications/{first['id']}/read").json["read"] is True
    unread = client.get("/api/v1/notifications?unread=true").json
    assert unread["total"] == 2
    assert client.put(f"/api/v1/notifications/{first['id']}/read", json={"read": False}).json["read"] is False
    deliveries = client.get(f"/api/v1/notifications/{first['id']}/deliveries").json["data"]
    assert [(d["channel"], d["status"]) for d in deliveries] == [("in_app", "delivered")]


def test_another_users_or_orgs_notification_is_404(client, login_as):
    org, other = OrgFactory(), OrgFactory()
    alice, bob = member(org), member(org)
    note = service.notify(org, [alice], "message", {"title": "secret", "body": "b"}, channels=["in_app"])[0]
    login_as(bob)
    assert client.put(f"/api/v1/notifications/{note.public_id}/read").status_code == 404
    assert client.get(f"/api/v1/notifications/{note.public_id}/deliveries").status_code == 404
    outsider = member(other, "org_admin")
    login_as(outsider)
    assert client.get(f"/api/v1/notifications/{note.public_id}/deliveries").status_code == 404
    db.session.expire_all()
    assert db.session.scalar(select(Notification)).read_at is None


def test_session_user_in_several_orgs_must_name_one(client, login_as):
    a, b = OrgFactory(), OrgFactory()
    alice = member(a)
    MembershipFactory(org=b, user=alice)
    login_as(alice)
    response = client.get("/api/v1/notifications")
    assert response.status_code == 400 and response.json["error"]["code"] == "org_required"
    assert client.get(f"/api/v1/notifications?org={b.slug}").status_code == 200
    assert client.get("/api/v1/notifications?org=not-mine").status_code == 404


def test_preferences_document_round_trips(client, login_as):
    org = OrgFactory()
    login_as(member(org))
    doc = client.get("/api/v1/preferences").json
    assert doc["events"]["workflow.failed"] == {"in_app": True, "email": True, "sms": False}
    doc["events"]["workflow.failed"]["email"] = False
    doc["quiet_hours"] = {"start": "21:30", "end": "06:45"}
    saved = client.put("/api/v1/preferences", json=doc)
    assert saved.status_code == 200
    assert client.get("/api/v1/preferences").json == saved.json == {**doc, "phone": {"number": None, "verified": False}}
    bad = client.put("/api/v1/preferences", json={**doc, "events": {"no.such": {"email": True}}})
    assert bad.status_code == 422 and "no.such" in bad.json["error"]["fields"]


def test_critical_events_cannot_be_muted_over_the_api(client, login_as, mailbox):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    login_as(alice)
    doc = client.get("/api/v1/preferences").json
    doc["events"]["key.expiring"] = {"in_app": False, "email": False, "sms": False}
    doc["events"]["member.invited"]["email"] = False
    saved = client.put("/api/v1/preferences", json=doc)
    assert saved.status_code == 200
    for shown in (saved.json, client.get("/api/v1/preferences").json):
        assert shown["events"]["key.expiring"]["email"] is True
        assert shown["events"]["key.expiring"]["in_app"] is True
        assert shown["events"]["member.invited"]["email"] is True
    service.notify(org, [alice], "key.expiring", {"key_name": "ci-7", "key_prefix": "vtr_ab", "expires_at": "tomorrow", "days_left": 1})
    db.session.commit()  # the caller's unit of work: the email goes out once it commits
    assert "ci-7" in mailbox.wait_for("alice@example.test")[0]["Subject"]
    assert client.get("/api/v1/notifications?unread=true").json["total"] == 1


def test_sending_on_no_channel_is_refused_rather_than_silently_dropped(client, login_as, row_counts):
    org = OrgFactory()
    member(org, email="alice@example.test")
    login_as(member(org, "org_admin"))
    before = row_counts()
    response = client.post("/api/v1/notifications", json={"to": ["alice@example.test"], "title": "t", "channels": []})
    assert response.status_code == 422 and "channels" in response.json["error"]["fields"]
    assert row_counts() == before


def test_a_refused_preferences_document_changes_nothing_and_names_the_field(client, login_as):
    org = OrgFactory()
    login_as(member(org))
    doc = client.get("/api/v1/preferences").json
    doc["events"]["workflow.failed"]["email"] = False
    doc["quiet_hours"] = {"start": "22:00", "end": None}
    refused = client.put("/api/v1/preferences", json=doc)
    assert refused.status_code == 422
    assert "Set both ends" in refused.json["error"]["fields"]["quiet_hours.end"]
    # Neither half of the document was saved.
    after = client.get("/api/v1/preferences").json
    assert after["events"]["workflow.failed"]["email"] is True and after["quiet_hours"] == {"start": None, "end": None}
    junk = client.put("/api/v1/preferences", json={**doc, "quiet_hours": {"start": "25:99", "end": "07:00"}})
    assert junk.status_code == 422 and "HH:MM" in junk.json["error"]["fields"]["quiet_hours.start"]
