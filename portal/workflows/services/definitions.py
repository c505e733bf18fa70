"""Workflow definitions: create, list, version (every save and every editor change is a new, immutable version), delete."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from portal.errors import NotFound, ServiceError, ValidationFailed
from portal.extensions import db
from portal.models import utcnow
from portal.orgs.models import Organization
from portal.tenancy import get_scoped_or_404, scoped
from portal.workflows.definition import STARTERS, node_id_problem, validate
from portal.workflows.models import Workflow, WorkflowVersion


def list_workflows(org: Organization) -> list[Workflow]:
    """The org's workflows (not deleted), by name."""
    return list(db.session.scalars(scoped(Workflow, org).where(Workflow.deleted_at.is_(None)).order_by(Workflow.name)))


def get_workflow(org: Organization, public_id: str) -> Workflow:
    """The org's workflow; NotFound for another org's, an unknown or a deleted one."""
    wf = get_scoped_or_404(Workflow, org, public_id)
    if wf.deleted_at is not None:
        raise NotFound()
    return wf


def with_latest(org: Organization, public_id: str) -> tuple[Workflow, WorkflowVersion]:
    """The org's (not deleted) workflow and its latest version, in one query; NotFound when there is none."""
    row = db.session.execute(
        scoped(Workflow, org).add_columns(WorkflowVersion)
        .join(WorkflowVersion, (WorkflowVersion.workflow_id == Workflow.id) & (WorkflowVersion.number == Workflow.latest_version))
        .where(Workflow.public_id == public_id, Workflow.deleted_at.is_(None))
    ).first()
    if row is None:
        raise NotFound()
    return row[0], row[1]


def latest(wf: Workflow) -> WorkflowVersion:
    """The workflow's latest version."""
    return db.session.scalar(select(WorkflowVersion).filter_by(workflow_id=wf.id, number=wf.latest_version))


def _checked(definition: Any, strict: bool) -> dict:
    if not isinstance(definition, dict):
        raise ValidationFailed({"definition": "The definition must be a JSON object."})
    if strict:
        problems = validate(definition)
        if problems:
            raise ValidationFailed(problems, "The workflow definition has problems.")
    elif not str(definition.get("name") or "").strip():
        raise ValidationFailed({"name": "Give the workflow a name."})
    return definition


def create_workflow(org: Organization, definition: dict, by=None, *, strict: bool = True) -> Workflow:
    """A new workflow with version 1 (strict: refuse a definition with problems)."""
    definition = _checked(definition, strict)
    wf = Workflow(org_id=org.id, name=str(definition["name"])[:200], description=str(definition.get("description") or ""),
                  created_by_id=getattr(by, "id", None), latest_version=1)
    db.session.add(wf)
    db.session.flush()
    db.session.add(WorkflowVersion(workflow_id=wf.id, number=1, definition=definition, created_by_id=getattr(by, "id", None)))
    db.session.flush()
    return wf


def unused_name(org: Organization, name: str) -> str:
    """`name`, or "name (2)", "name (3)"... when one of the org's workflows has it already."""
    taken = set(db.session.scalars(scoped(Workflow, org).with_only_columns(Workflow.name)
                                   .where(Workflow.deleted_at.is_(None), Workflow.name.startswith(name, autoescape=True))))
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name} ({n})"
    return candidate


def create_from_starter(org: Organization, key: str, by=None) -> Workflow:
    """A new workflow from one of the built-in starters, named apart from the org's others ("Expense approval (2)")."""
    if key not in STARTERS:
        raise ValidationFailed({"starter": "Unknown starter."})
    definition = json.loads(json.dumps(STARTERS[key]))  # a copy: the starter itself never changes
    definition["name"] = unused_name(org, definition["name"])
    return create_workflow(org, definition, by)


def new_version(org: Organization, public_id: str, definition: dict, by=None, *, strict: bool = True) -> Workflow:
    """Save a definition as the workflow's next version; earlier versions (and their runs) stay as they were."""
    wf = get_workflow(org, public_id)
    return _save_version(wf, _checked(definition, strict), by)


def _save_version(wf: Workflow, definition: dict, by) -> Workflow:
    # Lock the workflow row so two saves don't take the same number (a no-op on SQLite, which serializes writes).
    db.session.execute(select(Workflow.id).where(Workflow.id == wf.id).with_for_update())
    wf.latest_version += 1
    wf.name, wf.description = str(definition["name"])[:200], str(definition.get("description") or "")
    db.session.add(WorkflowVersion(workflow_id=wf.id, number=wf.latest_version, definition=definition, created_by_id=getattr(by, "id", None)))
    db.session.flush()
    return wf


def delete_workflow(org: Organization, public_id: str) -> None:
    """Hide the workflow; its runs and versions stay for billing and history."""
    wf = get_workflow(org, public_id)
    wf.deleted_at = utcnow()
    db.session.flush()


# ---------------------------------------------------------------- editor edits (each one makes a version)


def _config(data: dict) -> dict:
    try:
        return json.loads(data.get("config") or "{}")
    except ValueError as exc:
        raise ValidationFailed({"config": f"Not JSON: {exc}"}) from exc


def edit_definition(org: Organization, public_id: str, change: str, data: dict, by=None) -> Workflow:
    """Apply one editor change (add/remove node or edge, edit a node's config) as a new version."""
    wf = get_workflow(org, public_id)
    definition = json.loads(json.dumps(latest(wf).definition))  # a deep copy: the stored version never changes
    nodes, edges = definition.setdefault("nodes", []), definition.setdefault("edges", [])
    if change == "add_node":
        node_id = (data.get("id") or "").strip()
        # Refused before anything is saved: a version with a bad id could not run, and would say so in a regex.
        problem = node_id_problem(node_id, [n.get("id") for n in nodes if isinstance(n, dict)])
        if problem:
            raise ValidationFailed({"id": problem})
        nodes.append({"id": node_id, "type": data.get("type") or "transform", "config": _config(data)})
    elif change == "edit_node":
        node = next((n for n in nodes if n["id"] == data.get("id")), None)
        if node is None:
            raise ValidationFailed({"id": f"There is no node {data.get('id')!r} in the latest version; reload the editor."})
        node["config"] = _config(data)
        node["type"] = data.get("type") or node["type"]
    elif change == "remove_node":
        node_id = data.get("id")
        definition["nodes"] = [n for n in nodes if n["id"] != node_id]
        definition["edges"] = [e for e in edges if node_id not in (e["from"], e["to"])]
    elif change == "add_edge":
        edge = {"from": (data.get("from") or "").strip(), "to": (data.get("to") or "").strip()}
        if not edge["from"] or not edge["to"]:
            raise ValidationFailed({"from": "Pick both ends of the edge."})
        if (data.get("when") or "").strip():
            edge["when"] = data["when"].strip()
        edges.append(edge)
    elif change == "remove_edge":
        try:
            index = int(data.get("index"))
        except (TypeError, ValueError):
            index = -1
        if not 0 <= index < len(edges):
            raise ValidationFailed({"index": "That edge is no longer there; reload the editor."})
        edges.pop(index)
    else:
        raise ServiceError("Unknown change.", code="bad_change")
    return _save_version(wf, _checked(definition, strict=False), by)
