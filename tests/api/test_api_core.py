from sqlalchemy import select

from portal.extensions import db
from portal.orgs.models import Invitation, Membership
from tests.factories import OrgFactory, member


def test_anonymous_api_call_is_a_401_json_error(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthenticated"
    assert set(response.json["error"]) == {"code", "message", "fields"}


def test_me_returns_the_caller_and_their_orgs(client, login_as):
    org = OrgFactory(slug="api-org", name="API Org")
    user = member(org, "billing_admin", email="me@example.test")
    login_as(user)
    body = client.get("/api/v1/me").json
    assert body["id"] == user.public_id and body["id"].startswith("usr_")
    assert body["email"] == "me@example.test"
    assert body["orgs"] == [{"id": org.public_id, "slug": "api-org", "name": "API Org", "role": "billing_admin"}]


def test_members_list_paginates_with_a_next_link(client, login_as):
    org = OrgFactory()
    login_as(member(org, "user", name="Aaron"))
    for i in range(4):
        member(org, "user", name=f"Member {i}")
    first = client.get(f"/api/v1/orgs/{org.slug}/members?per_page=2").json
    assert first["total"] == 5 and len(first["data"]) == 2 and first["page"] == 1
    assert first["data"][0]["name"] == "Aaron" and first["data"][0]["id"].startswith("mem_")
    seen = [m["id"] for m in first["data"]]
    url = first["next"]
    while url:
        page = client.get(url).json
        seen += [m["id"] for m in page["data"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 5


def test_members_list_filters_by_role(client, login_as):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    member(org, "billing_admin", email="bill@example.test")
    body = client.get(f"/api/v1/orgs/{org.slug}/members?role=billing_admin").json
    assert [m["email"] for m in body["data"]] == ["bill@example.test"]


def test_create_invitation_over_the_api(client, login_as, mailbox):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    response = client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": "api-invitee@example.test", "role": "user"})
    assert response.status_code == 201
    assert response.json["id"].startswith("inv_") and response.json["status"] == "pending"
    mailbox.wait_for("api-invitee@example.test")


def test_bad_invitation_bodies_are_4xx_json_errors_naming_the_field(client, login_as, row_counts):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    url = f"/api/v1/orgs/{org.slug}/invitations"
    before = row_counts()
    unknown_role = client.post(url, json={"email": "a@example.test", "role": "emperor"})
    assert unknown_role.status_code == 422 and "role" in unknown_role.json["error"]["fields"]
    missing = client.post(url, json={"role": "user"})
    assert missing.status_code == 422 and "email" in missing.json["error"]["fields"]
    extra = client.post(url, json={"email": "a@example.test", "org_id": 1})
    assert extra.status_code == 422 and "org_id" in extra.json["error"]["fields"]
    bad_email = client.post(url, json={"email": "nope"})
    assert bad_email.status_code == 422 and bad_email.json["error"]["fields"] == {"email": "Enter a valid email address."}
    not_json = client.post(url, data="email=a@example.test")
    assert not_json.status_code == 415 and not_json.json["error"]["code"] == "unsupported_media_type"
    broken = client.post(url, data="{oops", content_type="application/json")
    assert broken.status_code == 400
    assert row_counts() == before


def test_change_role_and_remove_over_the_api(client, login_as):
    org = OrgFactory()
    admin = member(org, "org_admin")
    login_as(admin)
    target = member(org, "user")
    m = db.session.scalar(select(Membership).filter_by(user_id=target.id))
    updated = client.put(f"/api/v1/orgs/{org.slug}/members/{m.public_id}", json={"role": "org_admin"})
    assert updated.status_code == 200 and updated.json["role"] == "org_admin"
    assert client.delete(f"/api/v1/orgs/{org.slug}/members/{m.public_id}").status_code == 204
    assert client.delete(f"/api/v1/orgs/{org.slug}/members/{m.public_id}").status_code == 404
    mine = db.session.scalar(select(Membership).filter_by(user_id=admin.id))
    last = client.delete(f"/api/v1/orgs/{org.slug}/members/{mine.public_id}")
    assert last.status_code == 409 and last.json["error"]["code"] == "last_admin"


def test_a_plain_user_gets_403_on_admin_actions(client, login_as):
    org = OrgFactory()
    login_as(member(org, "user"))
    response = client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": "a@example.test"})
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert db.session.scalar(select(Invitation)) is None


def test_unknown_api_route_is_a_json_404(client, login_as):
    login_as(member(OrgFactory()))
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_openapi_document_describes_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            path = rule.rule.replace("<", "{").replace(">", "}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, method.lower()) in documented, f"{method} {path} is missing from the OpenAPI document"
    invite = spec["paths"]["/api/v1/orgs/{org_slug}/invitations"]["post"]
    schema_name = invite["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(spec["components"]["schemas"][schema_name]["properties"]) == {"email", "role"}


def test_api_docs_pages_use_vendored_assets(client):
    swagger = client.get("/api/docs")
    assert swagger.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in swagger.text
    redoc = client.get("/api/redoc")
    assert redoc.status_code == 200 and "/static/vendor/redoc/redoc.standalone.js" in redoc.text
    assert client.get("/static/vendor/redoc/redoc.standalone.js").status_code == 200
    assert "http" not in swagger.text.split("<body>")[1].replace("http-equiv", "")
