from portal.extensions import db
from tests.factories import PASSWORD, OrgFactory, UserFactory, member


def test_super_admin_lists_and_searches_orgs_and_users(client, login_as):
    OrgFactory(name="Findable Org", slug="findable")
    OrgFactory(name="Other Org")
    UserFactory(email="needle@example.test")
    login_as(UserFactory(platform_role="super_admin"))
    assert "Findable Org" in client.get("/admin/orgs").text
    found = client.get("/admin/orgs?q=findable", headers={"HX-Request": "true"})
    assert "Findable Org" in found.text and "Other Org" not in found.text
    users = client.get("/admin/users?q=needle", headers={"HX-Request": "true"})
    assert "needle@example.test" in users.text


def test_suspending_an_org_locks_its_members_out_until_restored(client, login_as, app):
    org = OrgFactory(name="Paused Org")
    user = member(org, "org_admin")
    login_as(UserFactory(platform_role="super_admin"))
    row = client.post(f"/admin/orgs/{org.public_id}/suspend", data={"suspended": "1"}, headers={"HX-Request": "true"})
    assert row.status_code == 200 and "Suspended" in row.text
    other = app.test_client()
    with other.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
    blocked = other.get(f"/o/{org.slug}/")
    assert blocked.status_code == 403 and "This organization is suspended" in blocked.text
    client.post(f"/admin/orgs/{org.public_id}/suspend", data={"suspended": "0"})
    assert other.get(f"/o/{org.slug}/").status_code == 200


def test_suspended_user_cannot_log_in(client, login_as, app):
    victim = UserFactory(email="paused@example.test")
    login_as(UserFactory(platform_role="super_admin"))
    client.post(f"/admin/users/{victim.public_id}/suspend", data={"suspended": "1"})
    response = app.test_client().post("/login", data={"email": "paused@example.test", "password": PASSWORD})
    assert response.status_code == 403 and "This account is suspended" in response.text
    db.session.refresh(victim)
    assert victim.is_suspended


def test_support_agents_and_org_admins_do_not_see_the_console(client, login_as):
    login_as(UserFactory(platform_role="support_agent"))
    assert client.get("/admin/").status_code == 404
    login_as(member(OrgFactory(), "org_admin"))
    assert client.get("/admin/orgs").status_code == 404
