"""The org's key policy (a lifetime cap, the scopes plain members may give keys) and who manages keys."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from portal.audit import service as audit
from portal.billing import service as billing
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.keys.models import SCOPES, ApiKeyPolicy
from portal.keys.scopes import parse_scopes
from portal.orgs.models import Membership, Organization
from portal.roles import role_allows
from portal.tenancy import scoped


def default_rate_limit(org: Organization | None = None) -> int:
    """Requests a minute a new key gets when none is given (API_KEY_DEFAULT_RATE_LIMIT), capped by org's plan."""
    default = int(current_app.config.get("API_KEY_DEFAULT_RATE_LIMIT", 600))
    ceiling = billing.limit_of(org, "api_rate_limit") if org is not None else None
    return default if ceiling is None else min(default, ceiling)


@dataclass(frozen=True)
class RateCeiling:
    """The org's plan's cap on a key's rate limit, as the key pages show it."""

    limit: int
    plan: str  # the plan's name

    def caps(self, rate_limit: int) -> bool:
        """True when a key set to rate_limit gets less (the ceiling) because of the plan."""
        return rate_limit > self.limit


def rate_ceiling(org: Organization) -> RateCeiling | None:
    """The cap org's plan puts on every key's rate limit now, also on keys made under a larger plan (None: no cap)."""
    plan = billing.plan_of(org)
    limit = plan.limit("api_rate_limit")
    return None if limit is None else RateCeiling(limit, plan.name)


def can_manage(member: Membership) -> bool:
    """True when member may see and change every key of the org (keys.manage), not only their own."""
    return role_allows(member.role, "keys.manage")


def unknown_scope(scopes: list[str]) -> str | None:
    """The message for the first scope name that is not a scope, or None when all are."""
    unknown = [s for s in scopes if s not in SCOPES]
    return f"Unknown scope {unknown[0]!r}; use {', '.join(SCOPES)}." if unknown else None


def policy_for(org: Organization) -> ApiKeyPolicy:
    """The org's key policy (the defaults, unsaved, when it has none): no lifetime cap; users may create read and write keys."""
    policy = db.session.scalar(scoped(ApiKeyPolicy, org))
    return policy if policy is not None else ApiKeyPolicy(org_id=org.id, max_lifetime_days=None, user_scopes=["read", "write"])


def save_policy(org: Organization, max_lifetime_days: int | None, user_scopes, *, by) -> ApiKeyPolicy:
    """Set the maximum lifetime of new keys (None: no cap) and the scopes plain users may give their keys."""
    errors = {}
    if max_lifetime_days is not None and not 1 <= max_lifetime_days <= 3650:
        errors["max_lifetime_days"] = "Between 1 and 3,650 days, or empty for no limit."
    scopes = parse_scopes(user_scopes)
    if problem := unknown_scope(scopes):
        errors["user_scopes"] = problem
    if errors:
        raise ValidationFailed(errors)
    policy = policy_for(org)
    if policy.id is None:
        db.session.add(policy)
    policy.max_lifetime_days = max_lifetime_days
    policy.user_scopes = scopes
    policy.updated_by_id = by.id if by is not None else None
    audit.record("key.policy_changed", org=org, actor=by, target=org.public_id,
                 data={"max_lifetime_days": max_lifetime_days, "user_scopes": scopes})
    db.session.flush()
    return policy
