"""A key's rate limit is capped by the org's plan: above the ceiling is refused with a field error naming
the cap (form and API), and a key created without one gets the default capped to the plan."""

from __future__ import annotations

from sqlalchemy import select

from portal.billing.plans import FREE, PLANS
from portal.extensions import db
from portal.keys.models import ApiKey
from tests.factories import OrgFactory, member


def _setup(login_as):
    org = OrgFactory(slug="ceil-org", name="Ceil Org")
    admin = member(org, "org_admin", email="admin@ceil.test")
    db.session.commit()
    login_as(admin)
    return org


def test_api_refuses_a_key_above_the_free_plans_rate_limit_ceiling(app, client, login_as):
    org = _setup(login_as)
    response = client.post(f"/api/v1/keys?org={org.slug}", json={"name": "greedy", "scopes": ["read"], "rate_limit": 999_999})
    assert response.status_code == 422
    message = response.get_json()["error"]["fields"]["rate_limit"]
    assert f"{FREE.limit('api_rate_limit'):,}" in message and f"/o/{org.slug}/billing/plans" in message
    assert db.session.scalar(select(ApiKey).where(ApiKey.name == "greedy")) is None


def test_editing_a_key_above_the_ceiling_is_refused_and_at_the_ceiling_accepted(app, client, login_as):
    org = _setup(login_as)
    created = client.post(f"/api/v1/keys?org={org.slug}", json={"name": "edit-me", "scopes": ["read"]})
    assert created.status_code == 201
    body = created.get_json()
    key_id = body["id"]
    assert (
        client.put(f"/api/v1/keys/{key_id}?org={org.slug}", json={"rate_limit": PLANS["pro"].limit("api_rate_limit")}).status_code
        == 422
    )
    assert (
        client.put(f"/api/v1/keys/{key_id}?org={org.slug}", json={"rate_limit": FREE.limit("api_rate_limit")}).status_code == 200
    )


def test_a_key_without_a_rate_limit_gets_the_default_capped_to_the_plan(app, client, login_as):
    org = _setup(login_as)
    assert client.post(f"/api/v1/keys?org={org.slug}", json={"name": "plain", "scopes": ["read"]}).status_code == 201
    db.session.expire_all()
    assert db.session.scalar(select(ApiKey.rate_limit).where(ApiKey.name == "plain")) == FREE.limit("api_rate_limit")


def test_the_key_form_shows_the_ceiling_next_to_the_field(app, client, login_as):
    org = _setup(login_as)
    page = client.post(f"/o/{org.slug}/keys", data={"name": "form-greedy", "scopes": ["read"], "rate_limit": "999999"})
    assert page.status_code == 422
    assert f"Your plan caps the API key rate limit (requests a minute) at {FREE.limit('api_rate_limit')}" in page.text
    assert f"/o/{org.slug}/billing/plans" in page.text
