"""API schemas of the notifications domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from portal.api.types import OrgSlug, PageNumber, PerPage
from portal.notifications.catalog import EVENTS

Channel = Literal["in_app", "email", "sms"]


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: list[Annotated[str, Field(min_length=1, max_length=254)]] = Field(min_length=1, max_length=1000, description="Emails or user ids (usr_...) of members of this organization")
    event: str = Field("message", min_length=1, max_length=100, description="An event of the catalog; 'message' for ad-hoc text (which needs a title)")
    title: str = Field("", max_length=300)
    body: str = Field("", max_length=5000)
    data: dict = Field(default_factory=dict, description="Values for the event's template variables")
    channels: list[Channel] | None = Field(None, min_length=1, description="Limit to these channels; default: all the event allows")


class DeliveryOut(BaseModel):
    id: str
    channel: str
    status: str
    attempts: int
    last_error: str | None
    provider_message_id: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class NotificationOut(BaseModel):
    id: str
    event: str
    title: str
    body: str
    data: dict
    read: bool
    created_at: datetime
    recipient: str


class SendOut(BaseModel):
    notifications: list[NotificationOut]


class NotificationListOut(BaseModel):
    data: list[NotificationOut]
    page: int
    per_page: int
    total: int
    next: str | None


class NotificationQuery(BaseModel):
    unread: bool = Field(False, description="Only unread ones")
    page: PageNumber = 1
    per_page: PerPage = 20
    org: OrgSlug = ""


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    read: bool = True


class DeliveryListOut(BaseModel):
    data: list[DeliveryOut]


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str | None = Field(None, description="HH:MM in the user's time zone")
    end: str | None = None


class PhoneOut(BaseModel):
    number: str | None
    verified: bool


class PreferencesDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org: str | None = Field(None, description="Read-only: the organization these preferences apply to")
    # Checked by the service, which names an unknown event by itself; listed here for the document.
    events: dict[str, dict[Channel, bool]] = Field(json_schema_extra={"propertyNames": {"enum": list(EVENTS)}})
    quiet_hours: QuietHours = QuietHours()
    phone: PhoneOut | None = Field(None, description="Read-only; verify a number in the portal")


class TwilioStatusReport(BaseModel):
    """The fields of Twilio's status callback this portal reads (Twilio posts many more)."""

    model_config = ConfigDict(extra="ignore")
    MessageSid: str = ""
    MessageStatus: str = ""
    ErrorCode: str | None = None
