"""What a member's home page and search show of workflows: runs waiting for an approver, their own latest runs,
runs per day, workflows and runs matching a search."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, func
from sqlalchemy.orm import contains_eager, joinedload

from portal.accounts.models import User
from portal.extensions import db
from portal.models import utcnow
from portal.orgs.models import Organization
from portal.search import contains, search
from portal.tenancy import scoped, scoped_by_org_id
from portal.workflows.models import Workflow, WorkflowRun
from portal.workflows.services import approvals

# How the home page's chart groups run statuses: each finished outcome, and everything still going as "active".
RUN_OUTCOMES = ("succeeded", "failed", "cancelled", "rejected", "active")
SCAN_BATCH = 50  # waiting runs read at a time while looking for those a member may decide on
SCAN_MAX = 200  # and at most this many per page: a member with hundreds of their own waiting runs costs a bounded read


def waiting_for_approval(org: Organization, user: User, role: str, limit: int = 5) -> list[WorkflowRun]:
    """The org's runs paused at an approval step that `user` (with `role` in org) may decide on (by each approval
    node's rule: not the runs they started, by default), oldest first (they have waited longest), among the oldest
    SCAN_MAX waiting runs."""
    query = (scoped(WorkflowRun, org).where(WorkflowRun.status == "waiting_for_approval")
             .options(joinedload(WorkflowRun.workflow), joinedload(WorkflowRun.created_by), joinedload(WorkflowRun.version))
             .order_by(WorkflowRun.updated_at, WorkflowRun.id))
    # The rule is in each version's definition, not a column: read in batches until enough are found.
    found: list[WorkflowRun] = []
    offset = 0
    while len(found) < limit and offset < SCAN_MAX:
        batch = list(db.session.scalars(query.offset(offset).limit(SCAN_BATCH)))
        found += [r for r in batch if approvals.may_decide(r, user.id, role)]
        if len(batch) < SCAN_BATCH:
            break
        offset += SCAN_BATCH
    return found[:limit]


# The home page's two run statements that do not change shape: built once (see tenancy.scoped_by_org_id).
_RUNS_OF = (scoped_by_org_id(WorkflowRun).where(WorkflowRun.created_by_id == bindparam("user_id"))
            .options(joinedload(WorkflowRun.workflow)).order_by(WorkflowRun.id.desc()).limit(bindparam("limit")))
_DAY = func.date(WorkflowRun.created_at)
_RUNS_PER_DAY_SINCE = (scoped_by_org_id(WorkflowRun).with_only_columns(_DAY, WorkflowRun.status, func.count())
                       .where(WorkflowRun.created_at >= bindparam("since")).group_by(_DAY, WorkflowRun.status))


def recent_runs_of(org: Organization, user: User, limit: int = 5) -> list[WorkflowRun]:
    """The runs this member started, newest first."""
    return list(db.session.scalars(_RUNS_OF, {"org_id": org.id, "user_id": user.id, "limit": limit}))


def find_workflows(org: Organization, text: str, limit: int = 5) -> list[Workflow]:
    """The org's workflows (not deleted) whose name or description contains text, by name."""
    query = search(scoped(Workflow, org).where(Workflow.deleted_at.is_(None)), text, Workflow.name, Workflow.description)
    return list(db.session.scalars(query.order_by(Workflow.name).limit(limit)))


def find_runs(org: Organization, text: str, limit: int = 5) -> list[WorkflowRun]:
    """The org's runs by their id (`run_…`, as pasted from a log or an email) or their workflow's name, newest first."""
    query = scoped(WorkflowRun, org).join(Workflow, Workflow.id == WorkflowRun.workflow_id).options(contains_eager(WorkflowRun.workflow))
    text = text.strip()
    matches = WorkflowRun.public_id == text if text.startswith("run_") else contains(text, Workflow.name)
    return list(db.session.scalars(query.where(matches).order_by(WorkflowRun.id.desc()).limit(limit)))


def runs_per_day(org: Organization, days: int = 14) -> list[dict]:
    """Runs started on each of the last `days` days (UTC), by outcome: {"date", "total", "outcomes"}."""
    today = utcnow().date()
    series = [today - timedelta(days=i) for i in range(days - 1, -1, -1)]
    per_day = {d.isoformat(): {"date": d.isoformat(), "total": 0, "outcomes": dict.fromkeys(RUN_OUTCOMES, 0)} for d in series}
    since = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    rows = db.session.execute(_RUNS_PER_DAY_SINCE, {"org_id": org.id, "since": since})
    for started_on, status, count in rows:
        bucket = per_day.get(str(started_on)[:10])
        if bucket is None:
            continue
        outcome = status if status in RUN_OUTCOMES else "active"
        bucket["outcomes"][outcome] += count
        bucket["total"] += count
    return list(per_day.values())
