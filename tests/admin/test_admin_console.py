from portal.extensions import db
from tests.factories import PASSWORD, OrgFactory, UserFactory, member
from tests.security.helpers import tags


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


def test_suspending_from_a_plain_browser_goes_back_to_the_list(client, login_as):
    org = OrgFactory()
    victim = UserFactory()
    login_as(UserFactory(platform_role="super_admin"))
    org_answer = client.post(f"/admin/orgs/{org.public_id}/suspend", data={"suspended": "1"})
    user_answer = client.post(f"/admin/users/{victim.public_id}/suspend", data={"suspended": "1"})
    assert (org_answer.status_code, org_answer.headers["Location"]) == (303, "/admin/orgs")
    assert (user_answer.status_code, user_answer.headers["Location"]) == (303, "/admin/users")
    db.session.refresh(org)
    db.session.refresh(victim)
    assert org.is_suspended and victim.is_suspended


def test_a_suspend_request_without_a_clear_choice_or_against_oneself_changes_nothing(client, login_as, row_counts):
    org = OrgFactory()
    root = UserFactory(platform_role="super_admin")
    login_as(root)
    before = row_counts()
    unclear = client.post(f"/admin/orgs/{org.public_id}/suspend", data={"suspended": "yes"}, headers={"HX-Request": "true"})
    assert unclear.status_code == 422
    myself = client.post(f"/admin/users/{root.public_id}/suspend", data={"suspended": "1"}, headers={"HX-Request": "true"})
    assert myself.status_code == 400 and "You can&#39;t suspend yourself." in myself.text
    unknown = client.post("/admin/orgs/org_doesnotexist/suspend", data={"suspended": "1"})
    assert unknown.status_code == 404
    assert row_counts() == before
    db.session.refresh(org)
    db.session.refresh(root)
    assert not org.is_suspended and not root.is_suspended


def test_the_console_pager_keeps_the_search(client, login_as):
    for n in range(30):
        OrgFactory(name=f"Kennel {n:02d}", slug=f"kennel-{n:02d}")
    OrgFactory(name="Cattery")
    login_as(UserFactory(platform_role="super_admin"))
    first = client.get("/admin/orgs?q=kennel", headers={"HX-Request": "true"})
    assert "Page 1 of 2 · 30 in all" in first.text
    [next_link] = [a["href"] for a in tags(first.text, "a") if a.get("rel") == "next"]
    second = client.get(next_link, headers={"HX-Request": "true"})
    assert "Page 2 of 2 · 30 in all" in second.text and "Cattery" not in second.text
    # Newest first: the second page holds the five oldest kennels.
    assert "Kennel 00" in second.text and "Kennel 04" in second.text and "Kennel 05" not in second.text


def test_the_console_names_each_dependency_in_words(client, login_as):
    from tests.factories import UserFactory

    login_as(UserFactory(platform_role="super_admin"))
    page = client.get("/admin/").get_data(as_text=True)
    deps = page.split('aria-label="Dependencies"')[1].split("</ul>")[0]
    assert "Database" in deps and "Job queue (" in deps and "File storage (" in deps
    assert "jobs:" not in deps and "storage:" not in deps and "Answering" in deps
