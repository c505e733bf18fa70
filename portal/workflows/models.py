"""Workflows, their immutable versions, runs, run steps, per-org LLM settings, the SSRF allowlist and usage events.

LangGraph's checkpointer keeps its own tables (created by the saver's setup(), not by Alembic): they are
not part of this metadata, so the schema drift test does not see them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.extensions import db
from portal.models import OrgScopedMixin, PublicIdMixin, TimestampMixin, UTCDateTime, utcnow

# "rejected": an approver said no; the run ends at its approval node (the nodes after it never run).
RUN_STATUSES = ("queued", "running", "waiting_for_approval", "succeeded", "failed", "cancelled", "rejected")
ACTIVE_STATUSES = ("queued", "running", "waiting_for_approval")
FINAL_STATUSES = ("succeeded", "failed", "cancelled", "rejected")
PRIORITIES = ("high", "default", "low")


class Workflow(PublicIdMixin, OrgScopedMixin, TimestampMixin, db.Model):
    public_id_prefix = "wf"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    latest_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    versions: Mapped[list[WorkflowVersion]] = relationship(back_populates="workflow", order_by="WorkflowVersion.number", cascade="all, delete-orphan")


class WorkflowVersion(db.Model):
    """One immutable definition of a workflow; a run pins the version it started with."""

    __table_args__ = (UniqueConstraint("workflow_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id", ondelete="CASCADE"), index=True, nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    definition: Mapped[dict] = mapped_column(JSON, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    workflow: Mapped[Workflow] = relationship(back_populates="versions")


class WorkflowRun(PublicIdMixin, OrgScopedMixin, TimestampMixin, db.Model):
    public_id_prefix = "run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id", ondelete="CASCADE"), index=True, nullable=False)
    version_id: Mapped[int] = mapped_column(ForeignKey("workflow_version.id", ondelete="CASCADE"), nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(24), nullable=False, default="queued", index=True)
    priority: Mapped[str] = mapped_column(String(8), nullable=False, default="default")
    input: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    output: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    current_node: Mapped[str | None] = mapped_column(String(100))
    # an approver's decision, kept until the resumed run has used it (a resume after a worker's death needs it too)
    decision: Mapped[dict | None] = mapped_column(JSON)
    recoveries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    llm_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    worker: Mapped[str | None] = mapped_column(String(100))
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    workflow: Mapped[Workflow] = relationship()
    version: Mapped[WorkflowVersion] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    steps: Mapped[list[WorkflowStep]] = relationship(back_populates="run", order_by="WorkflowStep.id", cascade="all, delete-orphan")

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class WorkflowStep(db.Model):
    """One node's execution (one attempt) within a run."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("workflow_run.id", ondelete="CASCADE"), index=True, nullable=False)
    node_id: Mapped[str] = mapped_column(String(100), nullable=False)
    node_type: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="running")  # running, succeeded, failed, waiting, approved, rejected
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    input: Mapped[str | None] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)

    run: Mapped[WorkflowRun] = relationship(back_populates="steps")


class LLMSettings(OrgScopedMixin, TimestampMixin, db.Model):
    """The organization's OpenAI-compatible endpoint; the API key is encrypted with WORKFLOW_SECRET_KEY."""

    __table_args__ = (UniqueConstraint("org_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    base_url: Mapped[str] = mapped_column(String(500), nullable=False)
    model: Mapped[str] = mapped_column(String(200), nullable=False)
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)


class AllowedHost(TimestampMixin, db.Model):
    """A host (name or name:port) a super admin lets http nodes reach although it is private."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))


class WorkflowUsageEvent(OrgScopedMixin, db.Model):
    """One finished run, for billing: duration and LLM tokens."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow.id", ondelete="CASCADE"), index=True, nullable=False)
    run_id: Mapped[int] = mapped_column(ForeignKey("workflow_run.id", ondelete="CASCADE"), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    llm_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
