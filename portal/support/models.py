"""Support tables: tickets, their thread (replies and internal notes), attachments, SLA settings, agent state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, literal_column, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.extensions import db
from portal.models import OrgScopedMixin, PublicIdMixin, TimestampMixin, UTCDateTime, utcnow
from portal.orgs.models import Organization

# The enumerations, written once: the forms' choices, the API's schemas and the queue's filters derive from these.
STATUSES = ("open", "in_progress", "waiting_on_customer", "resolved", "closed")
FINISHED = ("resolved", "closed")  # the SLA clock stands still and the ticket may be rated
PRIORITIES = ("low", "medium", "high", "critical")
PRIORITY_RANK = {p: i for i, p in enumerate(PRIORITIES)}
CATEGORIES = ("question", "bug", "billing", "account", "feature_request", "other")
# "unanswered": resolved or closed before any agent replied, so its first response target was never met (nor "met").
SLA_STATES = ("ok", "warning", "breached", "paused", "met", "unanswered")

# Full-text search on PostgreSQL: GIN indexes over these tsvector expressions (migration 3c1e0f7d9a42). The queue's
# search builds the same expressions (ticket_search_vector, comment_search_vector), which the planner needs to use
# an expression index. SQLite has neither and searches with LIKE.
TICKET_VECTOR_SQL = "to_tsvector('english'::regconfig, (subject::text || ' '::text) || body)"
COMMENT_VECTOR_SQL = "to_tsvector('english'::regconfig, body)"


class TicketFacts:
    """What a ticket says of itself from its status and number: shared by Ticket and the queue's plain rows."""

    __slots__ = ()

    @property
    def is_open(self) -> bool:
        """Not resolved or closed."""
        return self.status not in FINISHED

    @property
    def short_number(self) -> str:
        """What people call the ticket: "#1042", the org's own count (never the internal id)."""
        return f"#{self.number}"


class Ticket(TicketFacts, PublicIdMixin, OrgScopedMixin, TimestampMixin, db.Model):
    public_id_prefix = "tkt"
    __table_args__ = (
        # The agent queue: keyset pages over (sort key, id), optionally narrowed by status.
        Index("ix_ticket_queue_activity", "last_activity_at", "id"),
        Index("ix_ticket_queue_status_activity", "status", "last_activity_at", "id"),
        Index("ix_ticket_queue_due", "resolution_due_at", "id"),
        Index("ix_ticket_queue_priority", "priority_rank", "id"),
        # A filter the queue often holds, with the sort it is read by: the page is read in order, not picked out of
        # the whole table's sort index (at 100,000 tickets, "high priority, SLA due first" read 180 rows for 26).
        Index("ix_ticket_queue_priority_due", "priority", "resolution_due_at", "id"),
        Index("ix_ticket_queue_sla_activity", "sla_state", "last_activity_at", "id"),
        Index("ix_ticket_org_activity", "org_id", "last_activity_at", "id"),
        Index("ix_ticket_org_priority", "org_id", "priority_rank", "id"),
        Index("ix_ticket_org_due", "org_id", "resolution_due_at", "id"),
        Index("ix_ticket_sla_open", "sla_state", "status"),
        # "#1042": the org's own short number of the ticket, handed out once by TicketCounter.
        UniqueConstraint("org_id", "number", name="uq_ticket_org_number"),
        # Full-text search of the queue, PostgreSQL only: the expression of ticket_search_vector() below.
        Index("ix_ticket_search", text(TICKET_VECTOR_SQL), postgresql_using="gin").ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, nullable=False)  # the org's short number: "#1042" in pages and messages
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    category: Mapped[str] = mapped_column(String(30), nullable=False, default="question")
    priority: Mapped[str] = mapped_column(String(10), nullable=False, default="medium")
    priority_rank: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    status: Mapped[str] = mapped_column(String(24), nullable=False, default="open")
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # SLA clock: business seconds spent waiting on the customer are not counted.
    sla_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_paused_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    sla_state: Mapped[str] = mapped_column(String(10), nullable=False, default="ok")
    sla_warned: Mapped[str] = mapped_column(String(60), nullable=False, default="")  # targets warned, comma-separated
    sla_breached: Mapped[str] = mapped_column(String(60), nullable=False, default="")  # targets breached
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)

    org: Mapped[Organization] = relationship()
    requester: Mapped[User | None] = relationship(foreign_keys=[requester_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])



SEARCH_CONFIG = literal_column("'english'::regconfig")


def ticket_search_vector():
    """to_tsvector over a ticket's subject and body, the expression the index ix_ticket_search holds."""
    return func.to_tsvector(SEARCH_CONFIG, Ticket.subject.op("||")(literal_column("' '")).op("||")(Ticket.body))


class TicketComment(PublicIdMixin, OrgScopedMixin, TimestampMixin, db.Model):
    """A public reply, or an internal note (`internal`) that only agents ever see."""

    public_id_prefix = "tcm"
    __table_args__ = (
        Index("ix_ticket_comment_thread", "ticket_id", "id"),
        Index("ix_ticket_comment_search", text(COMMENT_VECTOR_SQL), postgresql_using="gin").ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, nullable=False)
    internal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    by_agent: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    author: Mapped[User | None] = relationship()


def comment_search_vector():
    """to_tsvector over a comment's body, the expression the index ix_ticket_comment_search holds."""
    return func.to_tsvector(SEARCH_CONFIG, TicketComment.body)


class TicketAttachment(PublicIdMixin, OrgScopedMixin, TimestampMixin, db.Model):
    public_id_prefix = "att"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True, nullable=False)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_comment.id", ondelete="SET NULL"))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(200), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    storage_key: Mapped[str] = mapped_column(String(300), nullable=False)
    internal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    @property
    def is_image(self) -> bool:
        return self.content_type in ("image/png", "image/jpeg", "image/gif", "image/webp")


class TicketCounter(OrgScopedMixin, db.Model):
    """The last short ticket number handed out per organization: numbers are never reused or shifted, and two
    tickets filed at once get two numbers (the upsert that bumps it holds the row until the filer's commit)."""

    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class SupportCalendar(OrgScopedMixin, db.Model):
    """An organization's business hours for SLA clocks (one row per org; defaults when absent)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One row per org: the unique constraint is the index, so the mixin's plain index is not declared twice.
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), unique=True, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    work_days: Mapped[str] = mapped_column(String(20), nullable=False, default="0,1,2,3,4")  # Monday = 0
    start_time: Mapped[str] = mapped_column(String(5), nullable=False, default="09:00")
    end_time: Mapped[str] = mapped_column(String(5), nullable=False, default="17:00")
    holidays: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # ["2026-12-25", ...]


class SlaPolicy(db.Model):
    """First-response and resolution targets (business minutes) for one priority; org_id None = platform default.

    Not OrgScopedMixin (its org_id is NOT NULL): read it through tenancy.scoped_or_platform()."""

    __table_args__ = (UniqueConstraint("org_id", "priority", name="uq_sla_policy_org_priority"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    priority: Mapped[str] = mapped_column(String(10), nullable=False)
    first_response_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    resolution_minutes: Mapped[int] = mapped_column(Integer, nullable=False)


class AgentState(db.Model):
    """A support agent's availability for round-robin assignment."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True, nullable=False)
    available: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class SavedView(PublicIdMixin, TimestampMixin, db.Model):
    """An agent's named queue filter (the query string of the queue)."""

    public_id_prefix = "sv"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True, nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    query: Mapped[str] = mapped_column(String(1000), nullable=False, default="")


class CannedReply(PublicIdMixin, TimestampMixin, db.Model):
    """A reply template for agents; {{ customer_name }}, {{ agent_name }}, {{ org_name }}, {{ subject }} and {{ ticket_number }}
    (the short #N; {{ ticket_id }} gives the same, never the internal id) are filled in."""

    public_id_prefix = "cr"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)


class TicketEvent(OrgScopedMixin, TimestampMixin, db.Model):
    """A status change or an assignment, shown in the ticket's thread ("Dana changed status from Open to Pending")."""

    __table_args__ = (Index("ix_ticket_event_thread", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # "status" or "assignee"
    old_value: Mapped[str | None] = mapped_column(String(120))  # a status key, or the assignee's name
    new_value: Mapped[str | None] = mapped_column(String(120))

    actor: Mapped[User | None] = relationship()
