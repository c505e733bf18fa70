"""API schemas of support tickets; the OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from portal.api.types import OrgSlug, SearchText
from portal.support.models import CATEGORIES, PRIORITIES, SLA_STATES, STATUSES
from portal.support.services.queue import SORTS

# Derived from the enumerations in models.py (written there once): Literal[("a", "b")] is Literal["a", "b"].
Priority = Literal[PRIORITIES]
Category = Literal[CATEGORIES]
Status = Literal[STATUSES]
# The list's filters: "" is no filter; "active" is every status but resolved and closed.
StatusFilter = Literal[("", "active", *STATUSES)]
PriorityFilter = Literal[("", *PRIORITIES)]
CategoryFilter = Literal[("", *CATEGORIES)]
SlaFilter = Literal[("", *SLA_STATES)]
Sort = Literal[tuple(SORTS)]


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=50_000, description="Markdown")
    category: Category = "question"
    priority: Priority = "medium"


class TicketUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status = None
    priority: Priority = Field(None, description="Agents only")
    category: Category = None
    assignee_id: str = Field(None, max_length=40, description="An agent's user id (usr_...), or \"\" to unassign; agents only")


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=50_000)
    internal: bool = Field(False, description="An internal note; agents only")


class CommentOut(BaseModel):
    id: str
    body: str
    internal: bool
    by_agent: bool
    author_name: str
    created_at: datetime


class AttachmentOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    created_at: datetime


class TicketOut(BaseModel):
    id: str
    org: str
    subject: str
    description: str
    category: str
    priority: str
    status: str
    sla_state: str
    requester_id: str | None
    assignee_id: str | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime
    rating: int | None
    created_at: datetime
    last_activity_at: datetime


class TicketDetailOut(TicketOut):
    comments: list[CommentOut]
    attachments: list[AttachmentOut]


class TicketListOut(BaseModel):
    data: list[TicketOut]
    next: str | None = Field(description="The next page's URL (keyset pagination), or null at the end")


class TicketQuery(BaseModel):
    # An unknown value is a 422 naming the parameter, never a silently ignored filter that returns everything.
    status: StatusFilter = Field("", description="A status, or active")
    priority: PriorityFilter = ""
    category: CategoryFilter = ""
    sla: SlaFilter = Field("", description="ok, warning, breached, paused or met (agents)")
    assignee: str = Field("", max_length=40, description="An agent's user id, me or none (agents)")
    q: SearchText = Field("", description="Search in subject and body")
    sort: Sort = Field("activity", description="activity, priority or due")
    after: str = Field("", max_length=200, description="The cursor from the previous page's next link")
    per_page: int = Field(25, ge=1, le=100)
    org: OrgSlug = Field("", description="Organization slug (customers: which of your orgs; agents: a filter)")
