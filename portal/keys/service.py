"""API keys: create, list, change, rotate, revoke; the org's key policy; usage; expiry reminders.

The one place pages, the JSON API, the CLI and jobs go through: a façade over one module per concern
(portal/keys/services/). Services flush; the request's, command's or job's unit of work commits.
"""

from portal.keys.services.expiry import EXPIRY_NOTICE_DAYS, notify_expiring
from portal.keys.services.keys import (
    MAX_GRACE_SECONDS,
    MAX_NAME,
    MAX_RATE_LIMIT,
    STATUSES,
    create_key,
    created_with,
    expiring_soon,
    get_key,
    list_keys,
    owner_candidates,
    resolve_owner,
    revoke_key,
    revoke_key_as_operator,
    rotate_key,
    secrets_in_grace,
    update_key,
)
from portal.keys.services.policy import RateCeiling, can_manage, default_rate_limit, policy_for, rate_ceiling, save_policy
from portal.keys.services.usage import USAGE_DAYS, last_used, org_usage_per_day, record_usage, usage, usage_totals

__all__ = [
    "EXPIRY_NOTICE_DAYS", "MAX_GRACE_SECONDS", "MAX_NAME", "MAX_RATE_LIMIT", "STATUSES", "USAGE_DAYS", "RateCeiling",
    "can_manage", "create_key", "created_with", "expiring_soon", "default_rate_limit", "get_key", "last_used", "list_keys", "notify_expiring", "org_usage_per_day",
    "owner_candidates", "policy_for", "rate_ceiling", "record_usage", "resolve_owner", "revoke_key", "revoke_key_as_operator",
    "rotate_key", "save_policy", "secrets_in_grace", "update_key", "usage", "usage_totals",
]
