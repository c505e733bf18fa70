"""Request and response schemas of the API; the OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: dict[str, str] = {}


class ErrorResponse(BaseModel):
    error: ErrorBody


class OrgMembershipOut(BaseModel):
    slug: str
    name: str
    role: str


class MeOut(BaseModel):
    id: str
    email: str
    name: str
    timezone: str
    email_verified: bool
    platform_role: str | None
    orgs: list[OrgMembershipOut]


class MemberOut(BaseModel):
    id: str = Field(description="Membership id (mem_...)")
    user_id: str
    email: str
    name: str
    role: str
    joined_at: datetime


class MemberListOut(BaseModel):
    data: list[MemberOut]
    page: int
    per_page: int
    total: int
    next: str | None


class MemberQuery(BaseModel):
    page: int = Field(1, description="Page number, from 1")
    per_page: int = Field(25, description="Items a page, at most 100")
    q: str = Field("", description="Search in name and email")
    role: str = Field("", description="Only this role")
    sort: str = Field("name", description="name, email, role or joined")
    dir: str = Field("asc", description="asc or desc")


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254)
    role: Literal["org_admin", "billing_admin", "user"] = "user"


class InvitationOut(BaseModel):
    id: str
    email: str
    role: str
    status: str
    expires_at: datetime


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["org_admin", "billing_admin", "user"]
