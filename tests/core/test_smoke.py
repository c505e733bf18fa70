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


def test_home_sends_each_kind_of_user_somewhere_they_may_go(client, login_as):
    from tests.factories import UserFactory

    login_as(UserFactory(platform_role="super_admin"))
    assert client.get("/").headers["Location"] == "/admin/"
    for role in ("support_agent", None):
        login_as(UserFactory(platform_role=role))
        target = client.get("/").headers["Location"]
        assert client.get(target).status_code == 200, (role, target)


def test_a_request_over_the_body_limit_is_told_the_limit_in_words(app, client, login_as):
    org = OrgFactory()
    login_as(member(org, "user"))
    limit = app.config["MAX_CONTENT_LENGTH"]
    too_big = client.post(f"/o/{org.slug}/tickets", data=b"subject=" + b"x" * limit, content_type="application/x-www-form-urlencoded")
    assert too_big.status_code == 413
    text = too_big.get_data(as_text=True)
    assert f"over {limit // (1024 * 1024)} MB, the most one request may carry" in text and "capacity limit" not in text
