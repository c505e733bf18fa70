"""Workflows over the JSON API: definitions (versioned), execute, status, cancel, approval, metrics."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from portal.api import bp
from portal.api.helpers import parse_body
from portal.api.idempotency import idempotent
from portal.api.openapi import route
from portal.errors import ServiceError
from portal.tenancy import current_org, org_required
from portal.workflows import schemas, service


def workflow_json(wf) -> dict:
    version = service.latest(wf)
    return schemas.WorkflowOut(
        id=wf.public_id, name=wf.name, description=wf.description, version=wf.latest_version,
        definition=version.definition, created_at=wf.created_at, updated_at=wf.updated_at,
    ).model_dump(mode="json")


def run_json(run) -> dict:
    return schemas.RunOut(
        job_id=run.public_id, workflow_id=run.workflow.public_id, version=run.version.number, status=run.status,
        priority=run.priority, input=run.input, output=run.output, error=run.error, current_node=run.current_node,
        llm_tokens=run.llm_tokens, created_at=run.created_at, started_at=run.started_at, finished_at=run.finished_at,
        duration_ms=run.duration_ms, decision=service.decision_of(run),
        steps=[
            schemas.StepOut(node=s.node_id, type=s.node_type, status=s.status, attempt=s.attempt, started_at=s.started_at,
                            finished_at=s.finished_at, duration_ms=s.duration_ms, input=s.input, output=s.output, error=s.error,
                            decision=service.step_decision(s))
            for s in run.steps
        ],
    ).model_dump(mode="json")


def _definition() -> dict:
    if not request.is_json:
        raise ServiceError("Send a JSON body with Content-Type: application/json.", code="unsupported_media_type", status=415)
    parse_body(schemas.DefinitionIn)  # shape errors as 422 with fields
    return request.get_json()


@route(bp, "/workflow-definitions", "GET", summary="List workflows", tag="workflows", response=schemas.WorkflowListOut)
@org_required("workflows.run")
def list_workflow_definitions():
    return jsonify({"data": [workflow_json(w) for w in service.list_workflows(current_org)]})


@route(bp, "/workflow-definitions", "POST", summary="Create a workflow (validated; 422 names every problem)", tag="workflows",
       body=schemas.DefinitionIn, response=schemas.WorkflowOut, status=201, errors=(400, 401, 403, 404))
@org_required("workflows.edit")
def create_workflow_definition():
    wf = service.create_workflow(current_org, _definition(), current_user)
    return jsonify(workflow_json(wf)), 201


@route(bp, "/workflow-definitions/<workflow_id>", "GET", summary="A workflow and its latest definition", tag="workflows", response=schemas.WorkflowOut)
@org_required("workflows.run")
def get_workflow_definition(workflow_id: str):
    return jsonify(workflow_json(service.get_workflow(current_org, workflow_id)))


@route(bp, "/workflow-definitions/<workflow_id>", "PUT", summary="Save a new version of a workflow", tag="workflows",
       body=schemas.DefinitionIn, response=schemas.WorkflowOut)
@org_required("workflows.edit")
def update_workflow_definition(workflow_id: str):
    service.get_workflow(current_org, workflow_id)  # the id before the body: another org's workflow is a 404
    definition = _definition()
    return jsonify(workflow_json(service.new_version(current_org, workflow_id, definition, current_user)))


@route(bp, "/workflow-definitions/<workflow_id>", "DELETE", summary="Delete a workflow (its runs stay)", tag="workflows", status=204)
@org_required("workflows.edit")
def delete_workflow_definition(workflow_id: str):
    service.delete_workflow(current_org, workflow_id)
    return "", 204


@route(bp, "/workflows/execute", "POST", summary="Run a workflow: queued, answers with the job id", tag="workflows",
       body=schemas.ExecuteIn, response=schemas.ExecuteOut, status=202, errors=(400, 401, 402, 403, 404, 409), idempotent=True)
@org_required("workflows.run")
@idempotent
def execute_workflow():
    body = parse_body(schemas.ExecuteIn)
    run = service.start_run(current_org, body.workflow_id, body.input, body.priority, current_user)
    out = schemas.ExecuteOut(job_id=run.public_id, status=run.status, workflow_id=body.workflow_id, version=run.version.number)
    return jsonify(out.model_dump()), 202


@route(bp, "/workflows/<job_id>", "GET", summary="A run's status, steps, output and error", tag="workflows", response=schemas.RunOut)
@org_required("workflows.run")
def get_workflow_run(job_id: str):
    return jsonify(run_json(service.get_run(current_org, job_id)))


@route(bp, "/workflows/<job_id>", "DELETE", summary="Cancel a queued, running or waiting run", tag="workflows",
       response=schemas.RunOut, errors=(401, 403, 404, 409))
@org_required("workflows.run")
def cancel_workflow_run(job_id: str):
    return jsonify(run_json(service.cancel(current_org, job_id)))


@route(bp, "/workflows/<job_id>/approval", "POST", summary="Approve or reject a run waiting for approval (a reason is required to reject; 403 for who may not decide)",
       tag="workflows", body=schemas.ApprovalIn, response=schemas.RunOut, errors=(401, 403, 404, 409, 422))
@org_required("workflows.run")
def approve_workflow_run(job_id: str):
    service.get_run(current_org, job_id)
    body = parse_body(schemas.ApprovalIn)
    return jsonify(run_json(service.decide(current_org, job_id, body.approved, current_user, reason=body.reason)))


@route(bp, "/metrics", "GET", summary="Runs by status, p50/p95 duration, queue depths, live workers, failure rate", tag="workflows",
       response=schemas.MetricsOut)
@org_required("workflows.run")
def workflow_metrics():
    return jsonify(service.metrics(current_org))
