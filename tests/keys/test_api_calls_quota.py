"""The plan's API calls a month hold at serve time: an org whose calls are used up gets 402 `quota_exceeded`
(metric, limit, used, upgrade link) on its keys' next requests, the refused calls are not billed, and an
upgrade lets the keys through again at once. Calls served reach the ledger with the usage flush, so the
limit is reached through the same counts billing shows."""

from __future__ import annotations

import time

import pytest

from portal.billing import service as billing
from portal.billing.plans import FREE
from portal.keys import tasks
from portal.uow import unit_of_work
from tests.factories import on_plan

from .helpers import bearer

FREE_CALLS = FREE.limit("api_calls")  # 10,000 a month


@pytest.fixture
def quick_readings(app):
    """Readings of an org's calls trusted for 0.2 s instead of 10 s, so a test sees the flush's counts soon."""
    quota = app.extensions["keys"].quota
    ttl, quota.ttl = quota.ttl, 0.2
    quota.clear()
    yield quota
    quota.ttl = ttl
    quota.clear()


def _use(org, calls: int, key: str) -> None:
    with unit_of_work():
        billing.record_usage(org, "api_calls", calls, key)


def test_an_org_whose_calls_are_used_up_gets_402_and_an_upgrade_lets_its_keys_through(app, org, admin, make_key, quick_readings):
    _, secret = make_key(org, admin, name="reporting")
    api = app.test_client()
    _use(org, FREE_CALLS, "earlier-calls")

    refused = api.get("/api/v1/me", headers=bearer(secret))
    assert refused.status_code == 402
    error = refused.get_json()["error"]
    assert error["code"] == "quota_exceeded"
    assert {k: error["fields"][k] for k in ("metric", "limit", "used")} == {"metric": "api_calls", "limit": FREE_CALLS, "used": FREE_CALLS}
    assert error["fields"]["upgrade_url"].endswith(f"/o/{org.slug}/billing/plans")
    assert "10,000 API calls a month" in error["message"]

    on_plan(org, "pro")  # the billing account's change drops every process's readings, not after the 0.2 s
    quick_readings.ttl = 3600
    assert api.get("/api/v1/me", headers=bearer(secret)).status_code == 200


def test_calls_served_reach_the_limit_through_the_flush_and_refused_calls_are_not_billed(app, org, admin, make_key, quick_readings):
    _, secret = make_key(org, admin, name="busy")
    api = app.test_client()
    _use(org, FREE_CALLS - 3, "earlier-calls")
    served = [api.get("/api/v1/me", headers=bearer(secret)).status_code for _ in range(3)]
    assert served == [200, 200, 200]  # the last three calls of the month

    tasks.flush_usage()  # what the periodic flush does every 30 s (a worker's flush may have moved some already)
    assert billing.used_in(org, "api_calls") == FREE_CALLS
    time.sleep(0.25)
    assert [api.get("/api/v1/me", headers=bearer(secret)).status_code for _ in range(5)] == [402] * 5

    tasks.flush_usage()
    assert billing.used_in(org, "api_calls") == FREE_CALLS  # the five refusals were counted on the key, not billed


def test_a_key_page_counts_the_refused_calls_in_their_own_column(app, client, login_as, org, admin, make_key, quick_readings):
    key, secret = make_key(org, admin, name="over")
    _use(org, FREE_CALLS, "earlier-calls")
    api = app.test_client()
    assert [api.get("/api/v1/me", headers=bearer(secret)).status_code for _ in range(2)] == [402, 402]
    tasks.flush_usage()

    login_as(admin)
    page = client.get(f"/o/{org.slug}/keys/{key.public_id}").get_data(as_text=True)
    assert '<th scope="col">402</th>' in page
    assert "<td><code>GET /api/v1/me</code></td><td>2</td><td>0</td><td>0</td><td>2</td>" in page
