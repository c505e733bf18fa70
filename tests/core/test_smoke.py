from tests.factories import OrgFactory, member


def test_org_admin_sees_dashboard_and_members(client, login_as):
    org = OrgFactory(name="Smoke Org")
    admin = member(org, "org_admin", name="Ada")
    login_as(admin)
    page = client.get(f"/o/{org.slug}/")
    assert page.status_code == 200
    assert "Smoke Org" in page.text
    members = client.get(f"/o/{org.slug}/members")
    assert admin.email in members.text
