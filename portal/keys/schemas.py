"""API schemas of the keys endpoints; the OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from portal.api.types import PageNumber, PerPage, SearchText

Scope = Literal["read", "write", "admin"]


class KeyCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="What the key is for, such as the app or server that uses it")
    scopes: list[Scope] = Field(["read"], min_length=1, max_length=3, description="read (GET endpoints), write (create and update), admin (keys, members, billing, org settings); never more than the owner's role allows")
    expires_at: datetime | None = Field(None, description="When the key stops working (UTC); the org's policy may cap it")
    rate_limit: int = Field(None, ge=1, le=1_000_000, description="Requests per minute (default 600; the org's policy may cap it)")
    owner: str | None = Field(None, min_length=1, max_length=254, description="Who owns the key: a member's user id (usr_...), membership id (mem_...) or email. "
                              "Default (or null): the caller. Only org admins may name another member; the key is shown to the caller only")


class KeyUpdateIn(BaseModel):
    """Only the fields sent change; `expires_at: null` removes the expiry (null is refused for the others)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(None, min_length=1, max_length=100)
    scopes: list[Scope] = Field(None, min_length=1, max_length=3)
    expires_at: datetime | None = None
    rate_limit: int = Field(None, ge=1, le=1_000_000)


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_period: int = Field(ge=0, le=86_400, description="Seconds (0 to 86,400) the old key keeps working; required, so that no rotation cuts off the old key by omission")


class KeyQuery(BaseModel):
    page: PageNumber = 1
    per_page: PerPage = 25
    status: Literal["", "active", "expired", "revoked"] = Field("", description="active, expired or revoked")
    q: SearchText = Field("", description="Search in names and prefixes")


class OwnerOut(BaseModel):
    id: str
    email: str
    name: str


class KeyOut(BaseModel):
    id: str = Field(description="Key id (key_...)")
    name: str
    prefix: str
    last4: str
    masked: str = Field(description="How the key is shown: prefix…last4")
    scopes: list[str]
    status: str = Field(description="active, expired or revoked")
    owner: OwnerOut
    created_by: OwnerOut | None = Field(description="Who created the key (an org admin may create one for another member)")
    rate_limit: int = Field(description="Requests per minute, as the key is set")
    effective_rate_limit: int = Field(description="Requests per minute the key gets now: its own limit, capped by the org's plan")
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None
    usage_30d: dict[str, int] = Field(description="Requests in the last 30 days: total and by outcome (2xx, 4xx, 402, 429, 5xx)")


class KeyCreatedOut(KeyOut):
    key: str = Field(description="The full key. Shown this once: store it now")


class KeyRotatedOut(KeyCreatedOut):
    previous_expires_at: datetime = Field(description="When the previous key stops working")


class KeyListOut(BaseModel):
    data: list[KeyOut]
    page: int
    per_page: int
    total: int
    next: str | None


class UsageDay(BaseModel):
    date: str
    total: int
    outcomes: dict[str, int]
    endpoints: dict[str, dict[str, int]]


class UsageOut(BaseModel):
    key_id: str
    days: list[UsageDay]
    endpoints: dict[str, dict[str, int]]
    totals: dict[str, int]
