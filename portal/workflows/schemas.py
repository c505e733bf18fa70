"""API schemas of workflows: definitions, execute, run status, approval, metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class DefinitionIn(BaseModel):
    """A workflow definition: name, description, input_schema, nodes and edges (START and END as edge ends)."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    input_schema: dict[str, Any] = Field(None, description="A JSON Schema for the run's input (omit it for none)")
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]


class WorkflowOut(BaseModel):
    id: str
    name: str
    description: str
    version: int
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class WorkflowListOut(BaseModel):
    data: list[WorkflowOut]


class ExecuteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workflow_id: str = Field(min_length=1, max_length=40)
    input: dict[str, Any] = {}
    priority: Literal["high", "default", "low"] = "default"


class ExecuteOut(BaseModel):
    job_id: str
    status: str
    workflow_id: str
    version: int


class StepOut(BaseModel):
    node: str
    type: str
    status: str
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    input: str | None
    output: str | None
    error: str | None
    decision: DecisionOut | None = Field(None, description="A decided approval step's outcome: approved or not, by whom, when, why")


class RunOut(BaseModel):
    job_id: str
    workflow_id: str
    version: int
    status: Literal["queued", "running", "waiting_for_approval", "succeeded", "failed", "cancelled", "rejected"]
    priority: str
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: str | None
    current_node: str | None
    llm_tokens: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    decision: DecisionOut | None = None
    steps: list[StepOut]


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approved: bool
    reason: str = Field("", max_length=2000, description="Why: required to reject, an optional note to an approval")


class DecisionOut(BaseModel):
    approved: bool
    by: str | None
    at: str
    reason: str = ""


class MetricsOut(BaseModel):
    runs_by_status: dict[str, int]
    duration_ms: dict[str, int | None]
    queue_depth: dict[str, int]
    live_workers: int
    failure_rate: float
