"""Workflows: the one module views, the API, the CLI and tests call. A façade over the service modules of one
concern each (portal/workflows/services/): settings, definitions, runs, maintenance, metrics. The run job
itself is portal.workflows.executor."""

from __future__ import annotations

from portal.workflows.models import WorkflowRun
from portal.workflows.services.activity import (
    RUN_OUTCOMES,
    find_runs,
    find_workflows,
    recent_runs_of,
    runs_per_day,
    waiting_for_approval,
)
from portal.workflows.services.approvals import approval_request, decision_of, step_decision
from portal.workflows.services.definitions import (
    create_from_starter,
    create_workflow,
    delete_workflow,
    edit_definition,
    get_workflow,
    latest,
    list_workflows,
    new_version,
)
from portal.workflows.services.maintenance import prune, reap
from portal.workflows.services.metrics import metrics, prometheus_text
from portal.workflows.services.node_test import NodeTestResult, sample_for, try_node
from portal.workflows.services.node_test import refusal as node_test_refusal
from portal.workflows.services.runs import cancel, decide, get_run, list_runs, retry, run_again, start_run, transition
from portal.workflows.services.settings import (
    allow_host,
    allowed_hosts,
    disallow_host,
    list_allowed_hosts,
    llm_settings,
    save_llm_settings,
)

__all__ = [
    "NodeTestResult", "RUN_OUTCOMES", "WorkflowRun", "approval_request", "decision_of", "find_runs", "find_workflows", "recent_runs_of", "runs_per_day", "waiting_for_approval",
    "allow_host", "allowed_hosts", "cancel", "create_from_starter", "create_workflow", "decide", "delete_workflow", "disallow_host",
    "edit_definition", "get_run", "get_workflow", "latest", "list_allowed_hosts", "list_runs", "list_workflows",
    "llm_settings", "metrics", "new_version", "node_test_refusal", "sample_for", "try_node", "prometheus_text", "prune", "reap", "retry", "run_again",
    "save_llm_settings", "start_run", "step_decision", "transition",
]
