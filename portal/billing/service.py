"""The billing service: the one way in for every domain ("may this org do N more of M now?", record usage)
and for billing's own pages, API and jobs. A façade over `services/`, one module per concern."""

from __future__ import annotations

from portal.billing.services.accounts import (
    all_accounts,
    assign_plan,
    billing_url,
    effective_plan,
    find_account,
    grace_ends_at,
    has_subscription,
    limit_of,
    monthly_revenue,
    org_for_console,
    plan_changes_at,
    plan_of,
    start_trial,
    upgrade_url,
)
from portal.billing.services.subscriptions import (
    PlanChange,
    cancel,
    checkout,
    ensure_customer,
    invoices,
    payments_configured,
    portal,
    preview_change,
    provider_origins,
    resume,
    subscribe,
)
from portal.billing.services.usage import (
    MetricUsage,
    check,
    consume,
    daily_usage,
    forecast,
    hold,
    measure,
    record_total,
    record_usage,
    usage_report,
    used_in,
)
from portal.billing.services.webhooks import format_money, process, receive

__all__ = [
    "MetricUsage", "PlanChange", "all_accounts", "assign_plan", "billing_url", "cancel", "check", "checkout", "consume", "daily_usage",
    "effective_plan", "ensure_customer", "find_account", "forecast", "format_money", "grace_ends_at", "has_subscription", "hold", "invoices", "measure", "limit_of",
    "monthly_revenue", "org_for_console", "payments_configured", "plan_changes_at", "plan_of", "portal", "preview_change", "process", "provider_origins", "receive", "record_total", "record_usage", "resume", "start_trial",
    "subscribe", "upgrade_url", "usage_report", "used_in",
]
