"""API schemas of the keys endpoints; the OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class KeyCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="What the key is for, such as the app or server that uses it")
    scopes: list[str] = Field(["read"], description="read (GET endpoints), write (create and update), admin (keys, members, billing, org settings)")
    expires_at: datetime | None = Field(None, description="When the key stops working (UTC); the org's policy may cap it")
    rate_limit: int | None = Field(None, description="Requests per minute (default 600)")
    owner: str | None = Field(None, description="Who owns the key: a member's user id (usr_...), membership id (mem_...) or email. "
                              "Default: the caller. Only org admins may name another member; the key is shown to the caller only")


class KeyUpdateIn(BaseModel):
    """Only the fields sent change; `expires_at: null` removes the expiry."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    scopes: list[str] | None = None
    expires_at: datetime | None = None
    rate_limit: int | None = None


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_period: int = Field(0, description="Seconds (0 to 86,400) the old key keeps working")


class KeyQuery(BaseModel):
    page: int = Field(1, description="Page number, from 1")
    per_page: int = Field(25, description="Items a page, at most 100")
    status: str = Field("", description="active, expired or revoked")
    q: str = Field("", description="Search in names and prefixes")


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
    rate_limit: int = Field(description="Requests per minute")
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None
    usage_30d: dict[str, int] = Field(description="Requests in the last 30 days: total and by outcome (2xx, 4xx, 429, 5xx)")


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
