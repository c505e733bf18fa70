"""A decided approval is one step of its node: the step recorded at the pause, marked with the outcome (approved or
rejected, by whom, when, why). The resumed run writes no second step for the node, so the run's API answer and its
page list the same steps."""

from __future__ import annotations

import html
import json
import re

from sqlalchemy import select

from portal.extensions import db
from portal.workflows.models import WorkflowRun, WorkflowStep
from tests.factories import waiting_approval_run

HX = {"HX-Request": "true"}


def _page_steps(page: str) -> list[tuple[str, str, str]]:
    """(node, status, output) of each row of the run page's Steps table, the output unescaped."""
    body = page[page.index('id="steps-table"'):]
    body = body[:body.index("</table>")]
    rows = re.findall(r"<tr><td><code>([^<]+)</code> <small[^>]*>[^<]*</small></td><td>([^<]+)</td>.*?<td><small>(.*?)</small></td></tr>", body, re.S)
    return [(node, status, html.unescape(out)) for node, status, out in rows]


def _api_run(client, org, run: WorkflowRun) -> dict:
    resp = client.get(f"/api/v1/workflows/{run.public_id}?org={org.slug}")
    assert resp.status_code == 200
    return resp.get_json()


def _decide(client, org, run: WorkflowRun, approved: bool, reason: str, wait_for_jobs) -> None:
    resp = client.post(f"/o/{org.slug}/runs/{run.public_id}/approval", data={"approved": "1" if approved else "0", "reason": reason}, headers=HX)
    assert resp.status_code == 200
    wait_for_jobs()


def _check_one_decided_step(client, org, run: WorkflowRun, approver, approved: bool, reason: str, nodes: list[tuple[str, str]]) -> None:
    """The API and the page list `nodes` ((node, status)), the approval node once, with the decision on its step."""
    out = _api_run(client, org, run)
    assert [(s["node"], s["status"]) for s in out["steps"]] == nodes
    (step,) = [s for s in out["steps"] if s["node"] == "approve"]
    assert step["type"] == "approval" and step["attempt"] == 1
    assert step["decision"]["approved"] is approved and step["decision"]["by"] == approver.email
    assert step["decision"]["reason"] == reason and step["decision"]["at"] == out["decision"]["at"]
    assert json.loads(step["output"])["approved"] is approved and json.loads(step["output"])["reason"] == reason
    assert step["finished_at"] is not None and step["duration_ms"] is not None
    assert all(s["decision"] is None for s in out["steps"] if s["node"] != "approve")

    page = client.get(f"/o/{org.slug}/runs/{run.public_id}").get_data(as_text=True)
    rows = _page_steps(page)
    assert [(node, status) for node, status, _ in rows] == nodes  # the same steps as the API, none hidden
    (shown,) = [out for node, _, out in rows if node == "approve"]
    assert json.loads(shown) == {**json.loads(step["output"])}  # the step's record: the decision
    assert re.search(r'<g data-node="approve" data-state="([a-z_]+)"', page).group(1) == nodes[1][1]
    verdict = "Approved" if approved else "Rejected"
    assert f"<strong>{verdict}</strong> by {approver.display_name}" in page and reason in html.unescape(page)

    # In the database too: one step of the approval node.
    db.session.expire_all()
    assert len(db.session.scalars(select(WorkflowStep).filter_by(run_id=run.id, node_id="approve")).all()) == 1


def test_an_approved_run_has_one_approval_step_with_the_decision_in_api_and_page(app, client, login_as, org, admin, user, wait_for_jobs):
    run = waiting_approval_run(org, user, wait_for_jobs)
    login_as(admin)
    _decide(client, org, run, True, "within budget", wait_for_jobs)
    db.session.expire_all()
    assert db.session.get(WorkflowRun, run.id).status == "succeeded"
    _check_one_decided_step(client, org, run, admin, True, "within budget",
                            [("draft", "succeeded"), ("approve", "approved"), ("record", "succeeded")])


def test_a_rejected_run_has_one_approval_step_with_the_decision_in_api_and_page(app, client, login_as, org, admin, user, wait_for_jobs):
    run = waiting_approval_run(org, user, wait_for_jobs)
    login_as(admin)
    _decide(client, org, run, False, "Over the team's budget", wait_for_jobs)
    db.session.expire_all()
    assert db.session.get(WorkflowRun, run.id).status == "rejected"
    _check_one_decided_step(client, org, run, admin, False, "Over the team's budget", [("draft", "succeeded"), ("approve", "rejected")])


def test_a_run_approved_over_the_api_lists_the_approval_node_once(app, client, login_as, org, admin, user, wait_for_jobs):
    run = waiting_approval_run(org, user, wait_for_jobs)
    login_as(admin)
    resp = client.post(f"/api/v1/workflows/{run.public_id}/approval?org={org.slug}", json={"approved": True, "reason": "fine"})
    assert resp.status_code == 200
    assert [(s["node"], s["status"]) for s in resp.get_json()["steps"]] == [("draft", "succeeded"), ("approve", "approved")]
    wait_for_jobs()
    _check_one_decided_step(client, org, run, admin, True, "fine", [("draft", "succeeded"), ("approve", "approved"), ("record", "succeeded")])
