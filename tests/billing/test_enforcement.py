"""The other domains ask billing before they act: a workflow run is counted before it is queued (402 over
the limit, nothing queued), an invitation needs a free seat, and the keys' usage flush carries API calls into
the ledger without a write per request."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.billing import service
from portal.billing.models import UsageRecord
from portal.billing.plans import FREE
from portal.extensions import db
from portal.keys import service as keys
from portal.keys import tasks as key_tasks
from portal.orgs.models import Invitation, Membership
from portal.uow import unit_of_work
from portal.workflows import service as workflows
from portal.workflows.models import WorkflowRun
from tests.factories import member, on_plan


def _runs() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(WorkflowRun.id)))


def test_each_run_is_counted_in_the_ledger_once_before_it_is_queued(app, client, login_as, org, admin, wait_for_jobs):
    on_plan(org, "pro")  # room for three runs at once (the free plan runs one)
    wf = workflows.create_from_starter(org, "greeting", admin)
    db.session.commit()
    login_as(admin)
    for _ in range(3):
        assert client.post("/api/v1/workflows/execute?org=" + org.slug, json={"workflow_id": wf.public_id, "input": {"name": "Ada"}}).status_code == 202
    wait_for_jobs()
    assert service.used_in(org, "workflow_runs") == 3
    keys_ = set(db.session.scalars(select(UsageRecord.idempotency_key).where(UsageRecord.metric == "workflow_runs")))
    assert keys_ == {f"run:{r.public_id}" for r in db.session.scalars(select(WorkflowRun))}


def test_at_the_run_limit_the_api_answers_402_and_the_page_says_so_with_an_upgrade_link(app, client, login_as, org, admin):
    wf = workflows.create_from_starter(org, "greeting", admin)
    with unit_of_work():
        service.record_usage(org, "workflow_runs", FREE.limit("workflow_runs"), "used-up")
    login_as(admin)
    before = _runs()
    response = client.post("/api/v1/workflows/execute?org=" + org.slug, json={"workflow_id": wf.public_id, "input": {"name": "Ada"}})
    error = response.get_json()["error"]
    assert response.status_code == 402 and error["code"] == "quota_exceeded"
    assert error["fields"]["metric"] == "workflow_runs" and error["fields"]["limit"] == error["fields"]["used"] == FREE.limit("workflow_runs")
    assert error["fields"]["upgrade_url"].endswith(f"/o/{org.slug}/billing/plans")
    page = client.post(f"/o/{org.slug}/workflows/{wf.public_id}/runs", data={"priority": "default", "input.name": "Ada"}, follow_redirects=True)
    assert "Your plan allows 100 workflow runs a month" in page.text and f"/o/{org.slug}/billing/plans" in page.text
    assert _runs() == before


def test_llm_tokens_are_metered_as_a_running_total_so_a_retry_adds_only_what_it_spent(app, org):
    with unit_of_work():
        assert service.record_total(org, "llm_tokens", 120, "run:r1:tokens") == 120
        assert service.record_total(org, "llm_tokens", 120, "run:r1:tokens") == 0  # the same finish again
        assert service.record_total(org, "llm_tokens", 200, "run:r1:tokens") == 80  # retried: 80 more
    assert service.used_in(org, "llm_tokens") == 200


def test_an_invitation_needs_a_free_seat_counting_open_invitations(app, client, login_as, org, admin):
    for n in range(FREE.limit("seats") - 2):
        member(org, "user", email=f"seat{n}@bill.test")
    login_as(admin)
    first = client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": "last@bill.test", "role": "user"})
    assert first.status_code == 201
    full = client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": "one-more@bill.test", "role": "user"})
    assert full.status_code == 402 and full.get_json()["error"]["fields"]["metric"] == "seats"
    # inviting the same person again replaces their invitation: no extra seat
    assert client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": "last@bill.test", "role": "user"}).status_code == 201
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Invitation.id)).where(Invitation.email == "one-more@bill.test")) == 0


def test_the_key_usage_flush_carries_served_api_calls_into_the_ledger(app, client, org, admin):
    membership = db.session.scalar(select(Membership).where(Membership.user_id == admin.id))
    _, secret = keys.create_key(org, membership, name="metered", scopes=["read"])
    db.session.commit()
    app.extensions["keys"].limiter.drain_usage()  # only this test's calls
    headers = {"Authorization": f"Bearer {secret}"}
    for _ in range(4):
        assert client.get("/api/v1/subscriptions", headers=headers).status_code == 200
    assert client.get("/api/v1/workflows/none_such", headers=headers).status_code == 404  # served: billed
    assert service.used_in(org, "api_calls") == 0  # nothing written on the request path
    with unit_of_work():
        key_tasks.flush_usage()
    assert service.used_in(org, "api_calls") == 5


def test_the_invite_form_says_the_seat_limit_in_a_sentence(app, client, login_as, org, admin):
    for n in range(FREE.limit("seats") - 1):
        member(org, "user", email=f"page-seat{n}@bill.test")
    login_as(admin)
    page = client.post(f"/o/{org.slug}/invitations", data={"email": "over@bill.test", "role": "user"})
    text = page.get_data(as_text=True)
    assert page.status_code in (402, 422) and "Your plan allows" in text and "upgrade" in text.lower()
    assert "<li>seats</li>" not in text  # the API's data fields are not shown as form errors
    assert f'/o/{org.slug}/billing/plans">See the plans</a>' in text and "for more: http" not in text  # linked, not spelled out
