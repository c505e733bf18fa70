"""API schemas of the billing domain; money is integer cents with a currency, times are UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PlanKey = Literal["free", "pro", "enterprise"]
Interval = Literal["month", "year"]
Metered = Literal["workflow_runs", "api_calls", "llm_tokens"]


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan: PlanKey
    interval: Interval = "month"
    proration_date: int | None = Field(None, description="A change's preview time (epoch seconds, from the preview): the charge is the preview's")


class CustomerOut(BaseModel):
    id: str = Field(description="The org's customer id at the payment provider")
    created: bool = Field(description="True when this call created it")


class CheckoutOut(BaseModel):
    url: str = Field(description="The provider's Checkout page (subscription mode)")


class SubscriptionOut(BaseModel):
    plan: str = Field(description="The plan subscribed to")
    effective_plan: str = Field(description="The plan whose limits apply now (free after a lapsed trial or grace period)")
    interval: str | None
    status: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    trial_end: datetime | None
    cancel_at_period_end: bool
    payment_failed_at: datetime | None
    grace_ends_at: datetime | None
    payments_configured: bool


class Money(BaseModel):
    amount: int = Field(description="Integer cents (the currency's minor unit)")
    currency: str


class ChangePreviewOut(BaseModel):
    plan: str
    interval: str
    charged: bool = Field(description="False without a payment provider: the change costs nothing")
    amount_due: Money | None = Field(None, description="Charged at once: the rest of the period at the new price, less the old one's unused time")
    next_amount: Money | None = Field(None, description="Then charged every interval from period_end")
    period_end: datetime | None = None
    proration_date: int | None = Field(None, description="Send it with the change so that the charge is this preview's")


class InvoiceOut(BaseModel):
    id: str
    number: str | None
    status: str
    amount_due: Money
    amount_paid: Money
    period_start: datetime | None
    period_end: datetime | None
    hosted_url: str | None
    pdf_url: str | None
    created: datetime


class InvoiceListOut(BaseModel):
    data: list[InvoiceOut]


class UsageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: Metered
    quantity: int = Field(ge=0, le=10**12)
    idempotency_key: str = Field(min_length=1, max_length=200, description="The same key twice counts once")
    timestamp: datetime | None = Field(None, description="When the usage happened (UTC; default: now); decides its period")


class UsageRecordedOut(BaseModel):
    counted: bool = Field(description="False when this idempotency key was recorded before (nothing counted twice)")
    metric: str
    used: int
    limit: int | None
    period: str


class MetricOut(BaseModel):
    metric: str
    label: str
    used: int | None = Field(description="Used in the period (metered) or held now (seats); null when not measured")
    limit: int | None = Field(description="null: unlimited")
    period_start: datetime | None
    period_end: datetime | None


class UsageOut(BaseModel):
    plan: str
    data: list[MetricOut]
