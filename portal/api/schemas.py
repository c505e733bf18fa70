"""Request and response schemas of the API; the OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from portal.api.types import EmailAddress, PageNumber, PerPage, SearchText
from portal.roles import ORG_ROLES

OrgRole = Literal[ORG_ROLES]  # written once, in roles.py


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: dict[str, str] = {}


class ErrorResponse(BaseModel):
    error: ErrorBody


class OrgMembershipOut(BaseModel):
    id: str = Field(description="The organization's id (org_...), as /api/v1/themes/{org_id} takes it")
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
    page: PageNumber = 1
    per_page: PerPage = 25
    q: SearchText = Field("", description="Search in name and email")
    role: Literal[("", *ORG_ROLES)] = Field("", description="Only this role")
    sort: Literal["name", "email", "role", "joined"] = Field("name", description="name, email, role or joined")
    dir: Literal["asc", "desc"] = Field("asc", description="asc or desc")


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailAddress
    role: OrgRole = "user"


class InvitationOut(BaseModel):
    id: str
    email: str
    role: str
    status: str
    expires_at: datetime


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: OrgRole
