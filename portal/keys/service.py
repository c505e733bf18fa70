"""API keys: create, list, change, rotate, revoke; the org's key policy; usage; expiry reminders.

The one place pages, the JSON API, the CLI and jobs go through. Members manage their own keys
(keys.create); org admins every key of the org (keys.manage), and create keys owned by other members.
Another org's key, or someone else's key without keys.manage, is a 404.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from flask import abort, current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import contains_eager

from portal.accounts.models import User
from portal.audit import service as audit
from portal.errors import Conflict, ServiceError, ValidationFailed
from portal.extensions import db
from portal.keys import tokens
from portal.keys.models import OUTCOMES, SCOPES, ApiKey, ApiKeyPolicy, ApiKeySecret, ApiKeyUsage
from portal.keys.scopes import parse_scopes
from portal.models import utcnow
from portal.orgs.models import Membership, Organization
from portal.pagination import Page, paginate
from portal.roles import role_allows
from portal.tenancy import scoped

MAX_NAME = 100
MAX_RATE_LIMIT = 1_000_000  # requests a minute; ~16,700 a second
MAX_GRACE_SECONDS = 86_400
USAGE_DAYS = 30
EXPIRY_NOTICE_DAYS = (7, 1)  # key.expiring goes out this many days before a key expires, once each
STATUSES = ("active", "expired", "revoked")


def default_rate_limit() -> int:
    """Requests a minute a new key gets when none is given (API_KEY_DEFAULT_RATE_LIMIT)."""
    return int(current_app.config.get("API_KEY_DEFAULT_RATE_LIMIT", 600))


# ---------------------------------------------------------------- policy


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
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        errors["user_scopes"] = f"Unknown scope {unknown[0]!r}; use {', '.join(SCOPES)}."
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
    db.session.commit()
    return policy


# ---------------------------------------------------------------- validation


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _check_name(name, errors: dict) -> str:
    name = (name or "").strip()
    if not name:
        errors["name"] = "Give the key a name, such as the app or server that uses it."
    elif len(name) > MAX_NAME:
        errors["name"] = f"At most {MAX_NAME} characters."
    return name


def _check_scopes(scopes, member: Membership, policy: ApiKeyPolicy, key_scopes: frozenset[str] | None, errors: dict) -> list[str]:
    scopes = parse_scopes(scopes)
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        errors["scopes"] = f"Unknown scope {unknown[0]!r}; use {', '.join(SCOPES)}."
    elif not scopes:
        errors["scopes"] = "Choose at least one scope."
    elif member.role == "user" and not set(scopes) <= set(policy.user_scopes):
        allowed = ", ".join(policy.user_scopes) or "none"
        errors["scopes"] = f"This organization lets members create keys with these scopes only: {allowed}."
    elif key_scopes is not None and not set(scopes) <= key_scopes:
        errors["scopes"] = f"A key can only give other keys its own scopes ({', '.join(s for s in SCOPES if s in key_scopes)})."
    return scopes


def _check_expiry(expires_at: datetime | None, created_at: datetime, policy: ApiKeyPolicy, errors: dict, *, default_to_cap: bool) -> datetime | None:
    expires_at = _as_utc(expires_at)
    cap = created_at + timedelta(days=policy.max_lifetime_days) if policy.max_lifetime_days else None
    if expires_at is None:
        if cap is not None and default_to_cap:
            return cap
        if cap is not None:
            errors["expires_at"] = f"This organization's keys must expire within {policy.max_lifetime_days} days of their creation."
        return None
    if expires_at <= utcnow():
        errors["expires_at"] = "Choose a time in the future."
    elif cap is not None and expires_at > cap + timedelta(seconds=1):
        errors["expires_at"] = f"This organization's keys live at most {policy.max_lifetime_days} days: choose {cap:%Y-%m-%d} or earlier."
    return expires_at


def _check_rate_limit(value, errors: dict) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RATE_LIMIT:
        errors["rate_limit"] = f"Between 1 and {MAX_RATE_LIMIT:,} requests a minute."
        return 0
    return value


# ---------------------------------------------------------------- reading


def can_manage(member: Membership) -> bool:
    """True when member may see and change every key of the org (keys.manage), not only their own."""
    return role_allows(member.role, "keys.manage")


def _visible(org: Organization, member: Membership):
    query = scoped(ApiKey, org)
    return query if can_manage(member) else query.where(ApiKey.user_id == member.user_id)


def get_key(org: Organization, member: Membership, key_id: str) -> ApiKey:
    """One key the member may see: their own, or any of the org's for keys.manage; else 404."""
    key = db.session.scalar(_visible(org, member).where(ApiKey.public_id == key_id))
    if key is None:
        abort(404)
    return key


def _status_filter(query, status: str | None, now: datetime):
    if status == "revoked":
        return query.where(ApiKey.revoked_at.is_not(None))
    if status == "expired":
        return query.where(ApiKey.revoked_at.is_(None), ApiKey.expires_at.is_not(None), ApiKey.expires_at <= now)
    if status == "active":
        return query.where(ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))
    return query


def list_keys(org: Organization, member: Membership, *, status: str | None = None, q: str = "", page: int = 1, per_page: int = 25) -> Page:
    """The keys the member may see, newest first."""
    query = _status_filter(_visible(org, member), status, utcnow())
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(func.lower(ApiKey.name).like(like), ApiKey.prefix.like(f"%{q}%")))
    return paginate(query.order_by(ApiKey.created_at.desc(), ApiKey.id.desc()), page, per_page)


def _days(count: int) -> list[date]:
    today = utcnow().date()
    return [today - timedelta(days=i) for i in range(count - 1, -1, -1)]


def usage_totals(keys: list[ApiKey], days: int = USAGE_DAYS) -> dict[int, dict[str, int]]:
    """Requests of each key over the last `days` days: {key.id: {"total", "2xx", "4xx", "429", "5xx"}}."""
    totals = {k.id: {"total": 0, **dict.fromkeys(OUTCOMES, 0)} for k in keys}
    if not keys:
        return totals
    since = _days(days)[0]
    rows = db.session.execute(
        select(ApiKeyUsage.key_id, ApiKeyUsage.outcome, func.sum(ApiKeyUsage.count))
        .where(ApiKeyUsage.key_id.in_(list(totals)), ApiKeyUsage.day >= since)
        .group_by(ApiKeyUsage.key_id, ApiKeyUsage.outcome)
    )
    for key_id, outcome, count in rows:
        totals[key_id][outcome] = totals[key_id].get(outcome, 0) + int(count)
        totals[key_id]["total"] += int(count)
    return totals


def usage(key: ApiKey, days: int = USAGE_DAYS) -> dict:
    """Per day for the last `days` days: totals by outcome, and by endpoint and outcome."""
    series = _days(days)
    per_day = {d: {"date": d.isoformat(), "total": 0, "outcomes": dict.fromkeys(OUTCOMES, 0), "endpoints": {}} for d in series}
    endpoints: dict[str, dict[str, int]] = {}
    rows = db.session.execute(
        select(ApiKeyUsage.day, ApiKeyUsage.endpoint, ApiKeyUsage.outcome, ApiKeyUsage.count)
        .where(ApiKeyUsage.key_id == key.id, ApiKeyUsage.day >= series[0])
        .order_by(ApiKeyUsage.day, ApiKeyUsage.endpoint)
    )
    for day, endpoint, outcome, count in rows:
        bucket = per_day.get(day)
        if bucket is None:
            continue
        bucket["total"] += count
        bucket["outcomes"][outcome] = bucket["outcomes"].get(outcome, 0) + count
        bucket["endpoints"].setdefault(endpoint, dict.fromkeys(OUTCOMES, 0))[outcome] += count
        endpoints.setdefault(endpoint, {"total": 0, **dict.fromkeys(OUTCOMES, 0)})
        endpoints[endpoint][outcome] += count
        endpoints[endpoint]["total"] += count
    totals = {"total": 0, **dict.fromkeys(OUTCOMES, 0)}
    for bucket in per_day.values():
        totals["total"] += bucket["total"]
        for outcome, count in bucket["outcomes"].items():
            totals[outcome] += count
    return {"days": list(per_day.values()), "endpoints": dict(sorted(endpoints.items(), key=lambda e: -e[1]["total"])), "totals": totals}


def last_used(keys: list[ApiKey]) -> dict[int, tuple[datetime | None, str | None]]:
    """When and from where each key was last used, including uses not yet flushed to the database."""
    from portal.keys.auth import runtime

    pending = runtime().backend.pending_last_used([k.public_id for k in keys])
    found = {}
    for k in keys:
        when, ip = k.last_used_at, k.last_used_ip
        if k.public_id in pending:
            ts, pending_ip = pending[k.public_id]
            live = datetime.fromtimestamp(ts, UTC)
            if when is None or live > when:
                when, ip = live, pending_ip
        found[k.id] = (when, ip)
    return found


def secrets_in_grace(key: ApiKey) -> list[ApiKeySecret]:
    """The key's older secrets that still work because a rotation's grace period has not ended."""
    now = utcnow()
    return [s for s in key.secrets if s.expires_at is not None and s.expires_at > now]


# ---------------------------------------------------------------- changing


def _new_secret(key: ApiKey) -> str:
    secret = tokens.generate()
    key.prefix, key.last4 = tokens.display_prefix(secret), tokens.last4(secret)
    key.secrets.append(ApiKeySecret(secret_hash=tokens.digest(secret), prefix=key.prefix, last4=key.last4))
    return secret


def owner_candidates(org: Organization) -> list[Membership]:
    """The members a new key may be made for (each with its user loaded): not suspended, by name then email."""
    query = (
        scoped(Membership, org).join(User, Membership.user_id == User.id).options(contains_eager(Membership.user))
        .where(User.is_suspended.is_(False)).order_by(func.lower(User.name), func.lower(User.email), Membership.id)
    )
    return list(db.session.scalars(query))


def _find_member(org: Organization, value: str) -> Membership | None:
    """The member of org named by a user id (usr_...), a membership id (mem_...) or an email; None if none."""
    query = scoped(Membership, org).join(User, Membership.user_id == User.id).options(contains_eager(Membership.user))
    if value.startswith("usr_"):
        query = query.where(User.public_id == value)
    elif value.startswith("mem_"):
        query = query.where(Membership.public_id == value)
    elif "@" in value:
        query = query.where(func.lower(User.email) == value.lower())
    else:
        return None
    return db.session.scalar(query)


def resolve_owner(org: Organization, by: Membership, owner: str | None) -> Membership:
    """The membership a new key belongs to: `by` when owner is empty, else the member of org that owner names
    (user id, membership id or email). Naming anyone else needs keys.manage (403); a non-member, another org's
    user or a suspended member is a 422 on `owner`, with one message so that nothing leaks about other orgs."""
    value = owner.strip() if isinstance(owner, str) else ""
    if not value:
        return by
    found = _find_member(org, value)
    if found is not None and found.user_id == by.user_id:
        return by
    if not can_manage(by):
        message = "Only org admins can create keys for other members; leave the owner empty to create your own."
        raise ServiceError(message, code="forbidden", fields={"owner": message}, status=403)
    if found is None:
        raise ValidationFailed({"owner": "No member of this organization has this user id, membership id or email."})
    if found.user.is_suspended:
        raise ValidationFailed({"owner": "This member is suspended: a key of theirs would not work."})
    return found


def create_key(org: Organization, member: Membership, *, name, scopes, expires_at: datetime | None = None,
               rate_limit: int | None = None, key_scopes: frozenset[str] | None = None,
               owner: str | None = None) -> tuple[ApiKey, str]:
    """A new key, created by member and owned by member or (for keys.manage) the member `owner` names;
    returns it with its full secret, shown to the creator only and never again.

    key_scopes: the scopes of the key making this call, if a key makes it (a key cannot mint a stronger one).
    The policy's scope limit for plain users follows the creator's role, like every other change to a key."""
    owned_by = resolve_owner(org, member, owner)
    policy = policy_for(org)
    errors: dict[str, str] = {}
    now = utcnow()
    name = _check_name(name, errors)
    scopes = _check_scopes(scopes, member, policy, key_scopes, errors)
    expires_at = _check_expiry(expires_at, now, policy, errors, default_to_cap=True)
    rate_limit = _check_rate_limit(default_rate_limit() if rate_limit is None else rate_limit, errors)
    if errors:
        raise ValidationFailed(errors)
    key = ApiKey(org_id=org.id, user_id=owned_by.user_id, created_by_id=member.user_id, name=name, scopes=scopes,
                 rate_limit=rate_limit, expires_at=expires_at, created_at=now)
    secret = _new_secret(key)
    db.session.add(key)
    db.session.flush()
    owner_user = owned_by.user
    audit.record("key.created", org=org, actor=member.user, target=key.public_id,
                 data={"name": name, "prefix": key.prefix, "scopes": scopes, "expires_at": expires_at.isoformat() if expires_at else None,
                       "owner": owner_user.public_id, "owner_email": owner_user.email})
    db.session.commit()
    return key, secret


def update_key(org: Organization, member: Membership, key_id: str, changes: dict, *, key_scopes: frozenset[str] | None = None) -> ApiKey:
    """Change name, scopes, expires_at (None: never) or rate_limit; only the keys given in changes."""
    key = get_key(org, member, key_id)
    if key.revoked_at is not None:
        raise Conflict("This key is revoked; create a new one.", code="key_revoked")
    policy = policy_for(org)
    errors: dict[str, str] = {}
    values = {}
    if "name" in changes:
        values["name"] = _check_name(changes["name"], errors)
    if "scopes" in changes:
        values["scopes"] = _check_scopes(changes["scopes"], member, policy, key_scopes, errors)
    if "expires_at" in changes:
        values["expires_at"] = _check_expiry(changes["expires_at"], key.created_at, policy, errors, default_to_cap=False)
    if "rate_limit" in changes:
        values["rate_limit"] = _check_rate_limit(changes["rate_limit"], errors)
    if errors:
        raise ValidationFailed(errors)
    changed = {k: v for k, v in values.items() if getattr(key, k) != v}
    for name, value in changed.items():
        setattr(key, name, value)
    if "expires_at" in changed:
        key.expiry_notice_days = None  # a new expiry gets its own reminders
    if changed:
        audit.record("key.updated", org=org, actor=member.user, target=key.public_id,
                     data={k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in changed.items()})
    db.session.commit()
    return key


def revoke_key(org: Organization, member: Membership, key_id: str) -> ApiKey:
    """Revoke a key for good; every process refuses it from its next request (the epoch bump)."""
    key = get_key(org, member, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        key.revoked_by_id = member.user_id
        audit.record("key.revoked", org=org, actor=member.user, target=key.public_id, data={"name": key.name, "prefix": key.prefix})
        db.session.commit()
    return key


def revoke_key_as_operator(org: Organization, key_id: str, *, via: str = "cli") -> ApiKey | None:
    """Revoke any key of org on an operator's say (the CLI: no member acts, e.g. its owner has left); None if org has no such key."""
    key = db.session.scalar(scoped(ApiKey, org).where(ApiKey.public_id == key_id))
    if key is not None and key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record("key.revoked", org=org, actor=None, target=key.public_id, data={"name": key.name, "prefix": key.prefix, "via": via})
        db.session.commit()
    return key


def rotate_key(org: Organization, member: Membership, key_id: str, grace_period: int = 0) -> tuple[ApiKey, str, datetime]:
    """A new secret for the key, same settings; the old secrets keep working for grace_period seconds.
    Returns the key, the new secret (shown once) and when the old ones stop working."""
    errors = {}
    if isinstance(grace_period, bool) or not isinstance(grace_period, int) or not 0 <= grace_period <= MAX_GRACE_SECONDS:
        errors["grace_period"] = f"Between 0 and {MAX_GRACE_SECONDS:,} seconds."
    if errors:
        raise ValidationFailed(errors)
    key = get_key(org, member, key_id)
    status = key.status
    if status != "active":
        raise Conflict(f"This key is {status}: only active keys can be rotated.", code=f"key_{status}")
    now = utcnow()
    old_until = now + timedelta(seconds=grace_period)
    previous = key.prefix
    for secret in key.secrets:
        if secret.expires_at is None or secret.expires_at > old_until:
            secret.expires_at = old_until
    new_secret = _new_secret(key)
    audit.record("key.rotated", org=org, actor=member.user, target=key.public_id,
                 data={"name": key.name, "previous_prefix": previous, "prefix": key.prefix, "grace_period": grace_period})
    db.session.commit()
    return key, new_secret, old_until


def membership_of(org: Organization, email: str) -> Membership | None:
    """The membership of the user with this email in org (for the CLI)."""
    return db.session.scalar(
        select(Membership).join(User, Membership.user_id == User.id).where(Membership.org_id == org.id, func.lower(User.email) == email.strip().lower())
    )


# ---------------------------------------------------------------- jobs


def flush_usage() -> int:
    """Move usage counts and last uses from Redis (or this process's memory) into the database; returns the buckets written."""
    from sqlalchemy.dialects import postgresql, sqlite

    from portal.keys.auth import runtime

    backend = runtime().backend
    counts, last = backend.drain_usage()
    if not counts and not last:
        return 0
    try:
        ids = {bucket[0] for bucket in counts} | set(last)
        known = {pid: (pk, org_id) for pid, pk, org_id in db.session.execute(
            select(ApiKey.public_id, ApiKey.id, ApiKey.org_id).where(ApiKey.public_id.in_(ids)))}
        rows = [
            {"key_id": known[pid][0], "org_id": known[pid][1], "day": date.fromisoformat(day), "endpoint": endpoint[:200], "outcome": outcome, "count": n}
            for (pid, day, endpoint, outcome), n in counts.items()
            if pid in known  # a deleted key's counts have nowhere to go
        ]
        if rows:
            dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(ApiKeyUsage)
            stmt = stmt.on_conflict_do_update(
                index_elements=["key_id", "day", "endpoint", "outcome"], set_={"count": ApiKeyUsage.count + stmt.excluded.count}
            )
            db.session.execute(stmt, rows)
        for pid, (when, ip) in last.items():
            if pid not in known:
                continue
            moment = datetime.fromtimestamp(when, UTC)
            db.session.execute(
                update(ApiKey)
                .where(ApiKey.id == known[pid][0], or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < moment))
                .values(last_used_at=moment, last_used_ip=ip[:64] or None)
            )
        db.session.commit()
    except Exception:
        db.session.rollback()
        backend.restore_usage(counts, last)
        raise
    return len(rows)


def notify_expiring(now: datetime | None = None) -> int:
    """Send key.expiring to each active key's owner 7 days and 1 day before it expires, once per threshold."""
    from portal.notifications.service import notify

    now = now or utcnow()
    horizon = now + timedelta(days=max(EXPIRY_NOTICE_DAYS))
    candidates = db.session.scalars(
        select(ApiKey).join(Organization, ApiKey.org_id == Organization.id)
        .where(ApiKey.revoked_at.is_(None), ApiKey.expires_at > now, ApiKey.expires_at <= horizon, Organization.is_suspended.is_(False))
        .order_by(ApiKey.id)
    ).all()
    sent = 0
    for key in candidates:
        left = (key.expires_at - now).total_seconds() / 86_400
        threshold = min(t for t in EXPIRY_NOTICE_DAYS if left <= t)
        # Claim the notice in the same transaction that notify() commits: two runners never both send it.
        claimed = db.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id, or_(ApiKey.expiry_notice_days.is_(None), ApiKey.expiry_notice_days > threshold))
            .values(expiry_notice_days=threshold)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            db.session.rollback()
            continue
        org = db.session.get(Organization, key.org_id)
        data = {"key_name": key.name, "key_prefix": key.prefix, "expires_at": key.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
                "days_left": max(1, math.ceil(left))}
        notify(org, [key.owner], "key.expiring", data)
        sent += 1
    return sent
