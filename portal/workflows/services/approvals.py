"""Approvals: what a waiting run asks (its approval node's message, the run's input and latest output), who
may decide on it (the node's `approvers`), and the decisions a run holds."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from portal.accounts.models import User
from portal.errors import Forbidden, ValidationFailed
from portal.extensions import db
from portal.orgs import members
from portal.orgs import service as orgs
from portal.orgs.models import Organization
from portal.roles import role_allows
from portal.workflows.definition import DEFAULT_APPROVERS, template
from portal.workflows.models import WorkflowRun, WorkflowStep
from portal.workflows.nodes import APPROVAL_MESSAGE

SMALL_OUTPUT = 600  # characters of a node's output still worth showing in the approval's summary
REASON_MAX = 2000

REFUSALS = {
    "anyone_but_requester": "Someone else must approve a run you started.",
    "admins": "Only an organization admin may approve this run.",
}


@dataclass
class ApprovalRequest:
    """What the approval panel shows: the question, the run's input, the latest output, and whether `user` may answer."""

    node_id: str
    message: str
    approvers: str
    inputs: list[tuple[str, str]] = field(default_factory=list)
    latest_node: str | None = None
    latest_output: list[tuple[str, str]] = field(default_factory=list)
    refusal: str | None = None

    @property
    def may_decide(self) -> bool:
        return self.refusal is None


def approval_node(run: WorkflowRun) -> dict:
    """The approval node a waiting run stopped at (an empty config when the definition no longer names it)."""
    for node in run.version.definition.get("nodes") or []:
        if isinstance(node, dict) and node.get("id") == run.current_node:
            return node
    return {"id": run.current_node or "", "type": "approval", "config": {}}


def rule_of(node: dict) -> str:
    """The approval node's `approvers` rule (the default when it names none)."""
    return (node.get("config") or {}).get("approvers") or DEFAULT_APPROVERS


def _refusal_by_rule(rule: str, starter_id: int | None, user_id: int | None, role: str | None) -> str | None:
    """Why a member (by id and role) may not decide under `rule` on a run `starter_id` started; None when they may."""
    if rule == "anyone":
        return None
    if rule == "admins":
        return None if role == "org_admin" else REFUSALS["admins"]
    # anyone_but_requester (the default, and what an unknown rule falls back to: the stricter reading)
    if starter_id is not None and user_id == starter_id:
        return REFUSALS["anyone_but_requester"]
    return None


def refusal(org: Organization, run: WorkflowRun, node: dict, user: Any) -> str | None:
    """Why `user` may not decide on the run at `node` (its `approvers` rule); None when they may."""
    rule = rule_of(node)
    user_id = getattr(user, "id", None)
    role = None
    if rule == "admins" and user_id is not None:  # the only rule that asks the role: no query otherwise
        membership = orgs.membership_of(org, user)
        role = membership.role if membership is not None else None
    return _refusal_by_rule(rule, run.created_by_id, user_id, role)


def may_decide(run: WorkflowRun, user_id: int | None, role: str | None) -> bool:
    """True when a member (their id and role in the run's org) may decide on the waiting run."""
    return _refusal_by_rule(rule_of(approval_node(run)), run.created_by_id, user_id, role) is None


def approvers_of(org: Organization, run: WorkflowRun) -> list[User]:
    """The members who may decide on the waiting run, by its approval node's rule: whom to ask for the decision."""
    rule = rule_of(approval_node(run))
    return [m.user for m in members.active_members(org)
            if role_allows(m.role, "workflows.run") and _refusal_by_rule(rule, run.created_by_id, m.user_id, m.role) is None]


def check_decision(org: Organization, run: WorkflowRun, approved: bool, reason: str, user: Any) -> str:
    """The decision's reason, cleaned; Forbidden when `user` may not decide, ValidationFailed for a rejection without a reason."""
    why_not = refusal(org, run, approval_node(run), user)
    if why_not:
        raise Forbidden(why_not, code="not_an_approver")
    reason = (reason or "").strip()
    if not approved and not reason:
        raise ValidationFailed({"reason": "Say why you reject this run: the person who started it will read it."})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": f"Keep the reason under {REASON_MAX} characters."})
    return reason


def _waiting_step(run_id: int, node_id: str | None) -> WorkflowStep | None:
    """The latest step of the approval node, recorded as "waiting" when the run paused there."""
    return db.session.scalar(select(WorkflowStep).where(WorkflowStep.run_id == run_id, WorkflowStep.node_id == node_id,
                                                        WorkflowStep.status == "waiting").order_by(WorkflowStep.id.desc()).limit(1))


def mark_decided(run_id: int, node_id: str | None, decision: dict, now: datetime) -> None:
    """Mark the approval node's waiting step approved or rejected, with the decision as its output and its time as
    the step's end (diagram, steps table and API show the outcome, not "waiting"). It stays the node's one step: the
    resumed run writes none for the approval node (executor.RunJob.node_ended)."""
    step = _waiting_step(run_id, node_id)
    if step is not None:
        step.status, step.finished_at, step.output = "approved" if decision.get("approved") else "rejected", now, json.dumps(decision)
        db.session.flush()


def step_decision(step: WorkflowStep) -> dict | None:
    """The decision a decided approval step holds (approved, by, by_name, at, reason); None for any other step."""
    if step.node_type != "approval" or step.status not in ("approved", "rejected"):
        return None
    decision = _loads(step.output)
    return decision if isinstance(decision, dict) and "approved" in decision else None


def _pairs(data: Any) -> list[tuple[str, str]]:
    """key: value pairs of a dict, values as short text."""
    if not isinstance(data, dict):
        return []
    return [(str(k), v if isinstance(v, str) else json.dumps(v, default=str)) for k, v in data.items()]


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None  # truncated (a long value): not shown


def approval_request(org: Organization, run: WorkflowRun, user: Any) -> ApprovalRequest | None:
    """What a run waiting for approval asks of `user`; None when the run is not waiting."""
    if run.status != "waiting_for_approval":
        return None
    node = approval_node(run)
    config = node.get("config") or {}
    source = config.get("message") or APPROVAL_MESSAGE
    # The message is rendered as the node rendered it, from the state the waiting step recorded.
    seen = _loads(getattr(_waiting_step(run.id, run.current_node), "input", None)) or {}
    state = seen.get("state") if isinstance(seen, dict) else None
    try:
        message = template(source).render(input=run.input or {}, state=state or {})
    except Exception:  # noqa: BLE001 - a missing key or a truncated state: show the message as written
        message = source
    request = ApprovalRequest(node_id=node.get("id") or "", message=message, approvers=config.get("approvers") or DEFAULT_APPROVERS,
                              inputs=_pairs(run.input), refusal=refusal(org, run, node, user))
    done = [s for s in run.steps if s.status == "succeeded" and s.output]
    if done and len(done[-1].output) <= SMALL_OUTPUT:
        request.latest_node, request.latest_output = done[-1].node_id, _pairs(_loads(done[-1].output))
    return request


def decision_of(run: WorkflowRun) -> dict | None:
    """The run's decision to show: the one it holds, or (once a resumed run used it up) the one its output kept."""
    if run.decision:
        return run.decision
    for node in run.version.definition.get("nodes") or []:
        if isinstance(node, dict) and node.get("type") == "approval":
            kept = (run.output or {}).get(node.get("id"))
            if isinstance(kept, dict) and "approved" in kept:
                return kept
    return None
