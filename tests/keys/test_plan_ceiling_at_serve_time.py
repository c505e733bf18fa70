"""The plan's ceiling on a key's rate limit holds at serve time: keys made under a larger plan are limited to
the smaller plan's ceiling from the next requests after a downgrade (429 naming it), get their own setting
back after an upgrade, and the key pages say when and why a key gets less than its setting."""

from __future__ import annotations

from portal.billing.plans import FREE, PLANS
from tests.factories import UserFactory, member, on_plan

from .helpers import bearer

PRO_LIMIT = PLANS["pro"].limit("api_rate_limit")  # 6,000 a minute
FREE_LIMIT = FREE.limit("api_rate_limit")  # 600 a minute
CAPPED = f"{PRO_LIMIT:,} requests a minute — capped at {FREE_LIMIT:,} by the Free plan"


def _downgrade_in_the_console(client, login_as, org):
    """A super admin puts the org on the free plan from the platform console (a request that commits)."""
    login_as(UserFactory(platform_role="super_admin"))
    assert client.post(f"/admin/billing/{org.public_id}/plan", data={"plan": "free"}).status_code == 303


def test_a_downgrade_caps_existing_keys_on_their_next_requests_and_an_upgrade_lifts_it(app, client, login_as, org, admin, make_key):
    on_plan(org, "pro")
    busy, busy_secret = make_key(org, admin, name="busy", rate_limit=PRO_LIMIT)
    _, other_secret = make_key(org, admin, name="other", rate_limit=PRO_LIMIT)
    api = app.test_client()  # the key's caller: no browser session
    for secret in (busy_secret, other_secret):  # served (and cached) under the pro plan's limits
        served = api.get("/api/v1/me", headers=bearer(secret))
        assert served.status_code == 200 and served.headers["RateLimit-Limit"] == str(PRO_LIMIT)

    _downgrade_in_the_console(client, login_as, org)

    first = api.get("/api/v1/me", headers=bearer(busy_secret))
    assert first.status_code == 200 and first.headers["RateLimit-Limit"] == str(FREE_LIMIT)
    allowed, limited = 1, None
    while allowed < PRO_LIMIT:  # the key's own limit would let all of these through
        response = api.get("/api/v1/me", headers=bearer(busy_secret))
        if response.status_code == 429:
            limited = response
            break
        allowed += 1
    assert limited is not None, f"{allowed} requests in a row were served on the free plan"
    assert allowed >= FREE_LIMIT - 10  # the free plan's burst, less the pro request and (on Redis) a lease's rounding
    error = limited.get_json()["error"]
    assert error["code"] == "rate_limited" and f"rate limit is {FREE_LIMIT} requests a minute" in error["message"]
    assert "Free plan" in error["message"]
    assert limited.headers["RateLimit-Limit"] == str(FREE_LIMIT) and int(limited.headers["Retry-After"]) >= 1

    on_plan(org, "pro")  # back on pro: the next requests get the key's own limit again

    lifted = api.get("/api/v1/me", headers=bearer(other_secret))
    assert lifted.status_code == 200 and lifted.headers["RateLimit-Limit"] == str(PRO_LIMIT)
    assert int(lifted.headers["RateLimit-Remaining"]) > FREE_LIMIT
    assert api.get("/api/v1/me", headers=bearer(busy_secret)).headers["RateLimit-Limit"] == str(PRO_LIMIT)


def test_the_key_pages_say_a_key_is_capped_by_the_plan_with_an_upgrade_link_for_billing_managers(client, login_as, org, admin, make_key):
    on_plan(org, "pro")
    key, _ = make_key(org, admin, name="reporting", rate_limit=PRO_LIMIT)
    plain = member(org, "user", email="plain@keys.test")
    own, _ = make_key(org, plain, name="plain key", scopes=["read"], rate_limit=PRO_LIMIT)
    make_key(org, admin, name="modest", rate_limit=FREE_LIMIT)

    _downgrade_in_the_console(client, login_as, org)
    upgrade = f'href="/o/{org.slug}/billing/plans"'

    login_as(admin)
    page = client.get(f"/o/{org.slug}/keys/{key.public_id}").get_data(as_text=True)
    assert CAPPED in page and upgrade in page
    listing = client.get(f"/o/{org.slug}/keys").get_data(as_text=True)
    assert f"{PRO_LIMIT:,} a minute — capped at {FREE_LIMIT:,} by the Free plan" in listing
    assert listing.count("capped at") == 2  # the key at the free plan's limit is not capped
    login_as(plain)  # may not manage billing: told why, without a link they could not use
    own_page = client.get(f"/o/{org.slug}/keys/{own.public_id}").get_data(as_text=True)
    assert CAPPED in own_page and upgrade not in own_page

    on_plan(org, "pro")
    login_as(admin)
    page = client.get(f"/o/{org.slug}/keys/{key.public_id}").get_data(as_text=True)
    assert f"{PRO_LIMIT:,} requests a minute" in page and "capped at" not in page


def test_the_api_tells_a_keys_own_limit_and_the_limit_it_gets_under_the_plan(app, client, login_as, org, admin, make_key):
    on_plan(org, "pro")
    key, secret = make_key(org, admin, name="reporting", rate_limit=PRO_LIMIT)
    api = app.test_client()
    before = api.get(f"/api/v1/keys/{key.public_id}", headers=bearer(secret)).get_json()
    assert (before["rate_limit"], before["effective_rate_limit"]) == (PRO_LIMIT, PRO_LIMIT)
    _downgrade_in_the_console(client, login_as, org)
    after = api.get("/api/v1/keys", headers=bearer(secret)).get_json()
    [listed] = [k for k in after["data"] if k["id"] == key.public_id]
    assert (listed["rate_limit"], listed["effective_rate_limit"]) == (PRO_LIMIT, FREE_LIMIT)


def test_rotating_a_key_made_under_a_larger_plan_says_the_new_secret_is_capped(client, login_as, org, admin, make_key):
    on_plan(org, "pro")
    key, _ = make_key(org, admin, name="reporting", rate_limit=PRO_LIMIT)
    _downgrade_in_the_console(client, login_as, org)

    login_as(admin)
    rotated = client.post(f"/o/{org.slug}/keys/{key.public_id}/rotate", data={"grace_period": "0"}, headers={"HX-Request": "true"})
    dialog = rotated.get_data(as_text=True).split('id="key-dialog"')[1].split("</dialog>")[0]
    assert rotated.status_code == 200 and "Key rotated" in dialog
    assert CAPPED in dialog  # the secret just handed over gets the plan's limit, not the 6,000 it is set to
