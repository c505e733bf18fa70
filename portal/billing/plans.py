"""Plans and their entitlements, in one place: what each plan costs and allows.

Limits are per organization. Metered metrics count over a usage period (a calendar month in UTC); gauges
are how much the org holds now (members, stored bytes, runs at once); a ceiling caps a setting (an API
key's rate limit). `None` means unlimited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

METERED = ("workflow_runs", "api_calls", "llm_tokens")
GAUGES = ("seats", "storage_bytes", "concurrent_runs")
CEILINGS = ("api_rate_limit",)
METRICS = (*METERED, *GAUGES, *CEILINGS)

LABELS = {
    "workflow_runs": "workflow runs a month",
    "api_calls": "API calls a month",
    "llm_tokens": "LLM tokens a month",
    "seats": "seats (members)",
    "storage_bytes": "attachment storage",
    "concurrent_runs": "workflow runs at once",
    "api_rate_limit": "API key rate limit (requests a minute)",
}
THRESHOLDS = (80, 90, 100)  # percent of a metered limit at which billing and org admins are told, once a period
INTERVALS = ("month", "year")
CURRENCY = "usd"

MB = 1024 * 1024


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    summary: str
    prices: dict[str, int]  # interval -> integer cents of CURRENCY
    entitlements: dict[str, int | None]
    rank: int  # ordering: a plan of lower rank is a downgrade

    def limit(self, metric: str) -> int | None:
        """The plan's limit of metric (None: unlimited)."""
        return self.entitlements[metric]

    def price_id(self, interval: str) -> str:
        """The provider's price id of this plan per interval (created with these ids in Stripe)."""
        return f"vetrai_{self.key}_{interval}"

    @property
    def paid(self) -> bool:
        """True for a plan with a price."""
        return any(self.prices.values())


PLANS: dict[str, Plan] = {
    p.key: p
    for p in (
        Plan("free", "Free", "For trying the portal with a small team.", {"month": 0, "year": 0}, {
            "workflow_runs": 100, "api_calls": 10_000, "llm_tokens": 100_000, "seats": 10, "storage_bytes": 100 * MB,
            "concurrent_runs": 1, "api_rate_limit": 600}, rank=0),
        Plan("pro", "Pro", "For teams running workflows every day.", {"month": 4_900, "year": 49_000}, {
            "workflow_runs": 5_000, "api_calls": 500_000, "llm_tokens": 5_000_000, "seats": 50, "storage_bytes": 10_240 * MB,
            "concurrent_runs": 5, "api_rate_limit": 6_000}, rank=1),
        Plan("enterprise", "Enterprise", "For organizations at scale, with unlimited seats.", {"month": 49_900, "year": 499_000}, {
            "workflow_runs": 100_000, "api_calls": 10_000_000, "llm_tokens": 100_000_000, "seats": None,
            "storage_bytes": 1_048_576 * MB, "concurrent_runs": 50, "api_rate_limit": 60_000}, rank=2),
    )
}
FREE = PLANS["free"]
TRIAL_PLAN = "pro"  # the plan a trial gives


def get_plan(key: str | None) -> Plan:
    """The plan named key; free for an unknown or missing one."""
    return PLANS.get(key or "", FREE)


def plan_for_price(price_id: str | None) -> tuple[Plan, str] | None:
    """(plan, interval) of a provider price id, or None for a price the portal does not sell."""
    for plan in PLANS.values():
        for interval in INTERVALS:
            if plan.price_id(interval) == price_id:
                return plan, interval
    return None


def period_of(moment: datetime) -> str:
    """The usage period holding moment: its calendar month in UTC, as YYYY-MM."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """(start, end) of a usage period: the month's first instant and the next month's."""
    year, month = (int(p) for p in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end
