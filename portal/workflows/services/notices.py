"""What a run tells people: its starter that it succeeded or failed; those who may approve it that it waits for them."""

from __future__ import annotations

from portal.extensions import db
from portal.notifications import service as notifications
from portal.orgs.models import Organization
from portal.tokens import external_url
from portal.workflows.models import WorkflowRun
from portal.workflows.services.approvals import approvers_of


def human_duration(ms: int) -> str:
    """350 ms, 4.2 s, 3 min 20 s, 2 h 5 min."""
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def tell_starter(org_id: int, user_id: int | None, workflow_name: str, run_public_id: str, event: str, **data) -> None:
    """Send event (workflow.succeeded, .failed, .needs_approval) to the run's starter, with a link to the run.

    Takes ids and names rather than the run's row: the executor knows them from its claim and loads no run.
    """
    if user_id is None:
        return

    def values(org: Organization) -> dict:
        link = external_url("workflows.run", org_slug=org.slug, run_id=run_public_id)
        return {"workflow_name": workflow_name, "run_id": run_public_id, "url": link, **data}

    # The org, the starter and their preferences in one query (none of them is in the job's session yet);
    # nothing is sent when the starter's account is gone.
    notifications.notify_member(org_id, user_id, event, values)


def ask_approvers(run_id: int, step: str) -> None:
    """Send workflow.needs_approval to the members who may decide on the waiting run (by its approval node's rule:
    never to a starter who may not approve it), with a link to the run."""
    # As the job's write left it (its current node is the approval node the rule is read from), not a copy loaded earlier.
    run = db.session.get(WorkflowRun, run_id, populate_existing=True)
    if run is None:
        return
    org = db.session.get(Organization, run.org_id)
    people = approvers_of(org, run)
    if people:
        link = external_url("workflows.run", org_slug=org.slug, run_id=run.public_id)
        notifications.notify(org, people, "workflow.needs_approval",
                             {"workflow_name": run.workflow.name, "run_id": run.public_id, "url": link, "step": step})
