"""Billing's API and pages: usage recorded once per key and read per metric, admin scope for writes, the
`user` role reads and gets 403 on writes, another org is a 404, the embedded default explains itself, and
super admins assign plans from the console."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.billing import service
from portal.billing.plans import FREE, METRICS, PLANS
from portal.extensions import db
from portal.keys import service as keys
from portal.models import utcnow
from portal.orgs.models import Membership
from portal.uow import unit_of_work
from tests.factories import OrgFactory, UserFactory, member


def _key(org, user, scopes) -> dict:
    membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id, Membership.org_id == org.id))
    _, secret = keys.create_key(org, membership, name="billing", scopes=list(scopes))
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


# ---------------------------------------------------------------------------------------------- usage API


def test_usage_posted_twice_with_one_key_counts_once_and_reads_back_per_metric(app, client, login_as, org, admin):
    login_as(admin)
    body = {"metric": "llm_tokens", "quantity": 1500, "idempotency_key": "agent-42"}
    first = client.post(f"/api/v1/usage?org={org.slug}", json=body)
    again = client.post(f"/api/v1/usage?org={org.slug}", json=body)
    assert (first.status_code, first.get_json()["counted"], first.get_json()["used"]) == (201, True, 1500)
    assert (again.status_code, again.get_json()["counted"], again.get_json()["used"]) == (200, False, 1500)
    usage = {m["metric"]: m for m in client.get(f"/api/v1/usage?org={org.slug}").get_json()["data"]}
    assert set(usage) == set(METRICS)
    assert usage["llm_tokens"]["used"] == 1500 and usage["llm_tokens"]["limit"] == FREE.limit("llm_tokens")
    assert usage["llm_tokens"]["period_start"].endswith("01T00:00:00Z")
    assert usage["seats"]["used"] == 1 and usage["seats"]["period_start"] is None


def test_usage_refuses_unknown_metrics_and_future_timestamps(app, client, login_as, org, admin):
    login_as(admin)
    bad_metric = client.post(f"/api/v1/usage?org={org.slug}", json={"metric": "seats", "quantity": 1, "idempotency_key": "k"})
    future = (utcnow() + timedelta(days=1)).isoformat()
    too_late = client.post(f"/api/v1/usage?org={org.slug}", json={"metric": "api_calls", "quantity": 1, "idempotency_key": "k", "timestamp": future})
    assert bad_metric.status_code == 422 and "metric" in bad_metric.get_json()["error"]["fields"]
    assert too_late.status_code == 422 and "timestamp" in too_late.get_json()["error"]["fields"]
    assert service.used_in(org, "api_calls") == 0


def test_usage_of_last_month_counts_in_last_months_period(app, client, login_as, org, admin):
    login_as(admin)
    last_month = (utcnow().replace(day=1) - timedelta(days=2)).isoformat()
    answer = client.post(f"/api/v1/usage?org={org.slug}", json={"metric": "api_calls", "quantity": 9, "idempotency_key": "old", "timestamp": last_month})
    assert answer.status_code == 201 and answer.get_json()["period"] == last_month[:7]
    assert service.used_in(org, "api_calls") == 0


def test_writes_need_the_admin_scope_and_reads_the_read_scope(app, client, org, admin):
    read_key, admin_key = _key(org, admin, ("read",)), _key(org, admin, ("admin",))
    body = {"metric": "api_calls", "quantity": 1, "idempotency_key": "scoped"}
    refused = client.post("/api/v1/usage", json=body, headers=read_key)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "insufficient_scope"
    assert client.post("/api/v1/usage", json=body, headers=admin_key).status_code == 201
    assert client.get("/api/v1/usage", headers=read_key).status_code == 200
    assert client.get("/api/v1/subscriptions", headers=read_key).get_json()["plan"] == "free"


def test_a_user_reads_plan_and_usage_and_gets_403_on_every_billing_write(app, client, login_as, org, user):
    login_as(user)
    assert client.get(f"/api/v1/subscriptions?org={org.slug}").status_code == 200
    assert client.get(f"/api/v1/usage?org={org.slug}").status_code == 200
    assert client.get(f"/api/v1/invoices?org={org.slug}").get_json() == {"data": []}
    writes = [("/api/v1/customers", None), ("/api/v1/subscriptions", {"plan": "pro", "interval": "month"}),
              ("/api/v1/checkout", {"plan": "pro", "interval": "month"}), ("/api/v1/usage", {"metric": "api_calls", "quantity": 1, "idempotency_key": "u"})]
    for path, body in writes:
        response = client.post(f"{path}?org={org.slug}", json=body)
        assert response.status_code == 403, path
    for action in ("checkout", "subscription", "portal", "cancel", "resume", "trial"):
        assert client.post(f"/o/{org.slug}/billing/{action}", data={"plan": "pro", "interval": "month"}).status_code == 403, action
    page = client.get(f"/o/{org.slug}/billing").text
    assert "Workflow runs a month" in page and "Start a free Pro trial" not in page


def test_another_orgs_invoices_usage_and_pages_are_404(app, client, login_as, org):
    other = OrgFactory(slug="other-org")
    login_as(member(other, "org_admin"))
    for path in ("/api/v1/invoices", "/api/v1/usage", "/api/v1/subscriptions"):
        response = client.get(f"{path}?org={org.slug}")
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found", path
    assert client.get(f"/o/{org.slug}/billing").status_code == 404
    assert client.post(f"/o/{org.slug}/billing/trial").status_code == 404


# ---------------------------------------------------------------------------------------------- pages


def test_without_stripe_the_billing_page_shows_plan_and_usage_and_says_payment_is_not_configured(app, client, login_as, org, admin):
    with unit_of_work():
        service.record_usage(org, "workflow_runs", 42, "seed")
    login_as(admin)
    page = client.get(f"/o/{org.slug}/billing").text
    assert "Online payment is not configured" in page and "Free" in page
    assert 'aria-label="workflow runs a month: 42% used"' in page
    assert "No invoices yet." in page
    refused = client.post(f"/api/v1/checkout?org={org.slug}", json={"plan": "pro", "interval": "month"})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "payments_not_configured"


def test_the_plans_page_compares_every_plan_on_every_entitlement(app, client, login_as, org, user):
    login_as(user)
    page = client.get(f"/o/{org.slug}/billing/plans").text
    for plan in PLANS.values():
        assert plan.name in page
    assert "Unlimited" in page and "USD 49.00 a month" in page and "API key rate limit" in page


def test_a_trial_gives_pro_limits_once_and_its_end_shows(app, client, login_as, org, admin):
    login_as(admin)
    assert client.post(f"/o/{org.slug}/billing/trial").status_code == 303
    acct = service.find_account(org)
    assert (acct.plan, acct.status) == ("pro", "trialing") and service.plan_of(org) is PLANS["pro"]
    page = client.get(f"/o/{org.slug}/billing").text
    assert "Trial ends" in page and "The Pro trial has started." in page  # the person is told what happened
    again = client.post(f"/o/{org.slug}/billing/trial", follow_redirects=True)
    assert "already had its trial" in again.text
    assert service.effective_plan(acct, acct.trial_end + timedelta(seconds=1)) is FREE


def test_a_super_admin_assigns_plans_and_sees_every_orgs_plan_and_mrr(app, client, login_as, org, admin):
    login_as(UserFactory(platform_role="super_admin"))
    listing = client.get("/admin/billing").text
    assert org.name in listing and "USD 0.00" in listing
    assert client.post(f"/admin/billing/{org.public_id}/plan", data={"plan": "enterprise"}).status_code == 303
    assert service.plan_of(org) is PLANS["enterprise"]
    assert f"{org.name} is on the Enterprise plan now." in client.get("/admin/billing").text
    assert client.post(f"/admin/billing/{org.public_id}/plan", data={"plan": "gold"}, follow_redirects=True).status_code == 200
    assert service.plan_of(org) is PLANS["enterprise"]
    login_as(admin)
    assert client.get("/admin/billing").status_code == 404


def test_the_billing_page_shows_every_gauge_as_its_domain_measures_it(app, client, login_as, org, admin):
    from portal.orgs import service as orgs
    from portal.workflows import service as workflows

    wf_id = workflows.create_from_starter(org, "approval", admin).public_id
    workflows.start_run(org, wf_id, {"amount": 42, "reason": "a chair"}, "default", admin)  # waits for a decision: it holds one of the runs at once
    orgs.invite(org, "new@billing.test", "user", admin)  # an open invitation holds a seat, as the invite check counts it
    db.session.commit()
    login_as(admin)
    page = client.get(f"/o/{org.slug}/billing").get_data(as_text=True)

    def used(metric: str) -> str:
        return page.split(f'id="usage-{metric}"')[1].split('data-label="Used">')[1].split("</td>")[0]

    assert used("concurrent_runs") == "1"
    assert used("seats") == str(orgs.count_members(org) + 1)
    assert "not measured yet" not in page
