from portal.audit import service as audit
from portal.extensions import db
from tests.factories import PASSWORD, OrgFactory, UserFactory, member
from tests.security.helpers import tags


def test_org_admin_sees_their_orgs_events_only(client, login_as):
    mine, other = OrgFactory(), OrgFactory()
    admin = member(mine, "org_admin")
    audit.record("member.invited", org=mine, actor=admin, target="mine@example.test")
    audit.record("member.invited", org=other, actor=admin, target="theirs@example.test")
    login_as(admin)
    page = client.get(f"/o/{mine.slug}/audit")
    assert "mine@example.test" in page.text and "theirs@example.test" not in page.text


def test_audit_log_filters_by_action_and_actor_and_paginates(client, login_as):
    org = OrgFactory()
    admin = member(org, "org_admin", email="boss@example.test")
    helper = member(org, "org_admin", email="helper@example.test")
    for i in range(60):
        audit.record("member.invited", org=org, actor=admin, target=f"x{i}@example.test")
    audit.record("member.role_changed", org=org, actor=helper, target="y@example.test")
    login_as(admin)
    page1 = client.get(f"/o/{org.slug}/audit", headers={"HX-Request": "true"})
    assert "Page 1 of 2" in page1.text
    assert page1.text.index("member.role_changed") < page1.text.index("member.invited")  # newest first
    by_action = client.get(f"/o/{org.slug}/audit?action=member.role_changed", headers={"HX-Request": "true"})
    assert "y@example.test" in by_action.text and "x1@example.test" not in by_action.text
    by_actor = client.get(f"/o/{org.slug}/audit?actor=helper", headers={"HX-Request": "true"})
    assert "y@example.test" in by_actor.text and "x1@example.test" not in by_actor.text
    # The pager keeps the filters: the older page of boss's invitations holds the first ten and nothing else.
    both = client.get(f"/o/{org.slug}/audit?action=member.invited&actor=boss", headers={"HX-Request": "true"})
    assert "Page 1 of 2 · 60 events" in both.text
    [older] = [a["href"] for a in tags(both.text, "a") if a.get("rel") == "next"]
    page2 = client.get(older, headers={"HX-Request": "true"})
    assert "Page 2 of 2 · 60 events" in page2.text
    assert "x0@example.test" in page2.text and "x9@example.test" in page2.text and "x10@example.test" not in page2.text


def test_plain_users_cannot_read_the_audit_log(client, login_as):
    org = OrgFactory()
    login_as(member(org, "user"))
    assert client.get(f"/o/{org.slug}/audit").status_code == 403


def test_logins_and_failed_logins_are_recorded_with_ip(client):
    org = OrgFactory()
    user = member(org, "org_admin", email="ip@example.test")
    client.post("/login", data={"email": "ip@example.test", "password": "wrong-password-here"}, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    client.post("/login", data={"email": "ip@example.test", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    events = audit.list_all().items
    assert [(e.action, e.ip, e.actor_id) for e in events] == [("login", "203.0.113.9", user.id), ("login.failed", "203.0.113.9", user.id)]


def test_super_admin_sees_every_orgs_events(client, login_as):
    a, b = OrgFactory(), OrgFactory()
    root = UserFactory(platform_role="super_admin")
    audit.record("org.created", org=a, target="event-in-a")
    audit.record("org.created", org=b, target="event-in-b")
    login_as(root)
    page = client.get("/admin/audit")
    assert "event-in-a" in page.text and "event-in-b" in page.text
    db.session.rollback()


def test_the_platform_log_names_each_events_organization(client, login_as):
    org = OrgFactory(name="Named Kennel")
    root = UserFactory(platform_role="super_admin")
    audit.record("org.suspended", org=org, actor=root, target=org.slug)
    audit.record("login.failed", target="ghost@example.test")  # a platform event: no organization
    login_as(root)
    page = client.get("/admin/audit", headers={"HX-Request": "true"})
    assert "Named Kennel" in page.text and f"<td>{org.id}</td>" not in page.text
