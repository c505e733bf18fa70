"""Keys themselves: read, create (for oneself or, with keys.manage, for another member), change, rotate, revoke.

Members manage their own keys (keys.create); org admins every key of the org (keys.manage). Another
org's key, or someone else's key without keys.manage, is NotFound. Writes are flushed; the request's
(or command's) unit of work commits them, and a commit that changes a key drops it from every key
cache (portal.keys.invalidation).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_

from portal.audit import service as audit
from portal.billing import service as billing
from portal.errors import Conflict, NotFound, QuotaExceeded, ServiceError, ValidationFailed
from portal.extensions import db
from portal.keys import tokens
from portal.keys.models import SCOPES, ApiKey, ApiKeyPolicy, ApiKeySecret
from portal.keys.scopes import parse_scopes
from portal.keys.services.policy import can_manage, default_rate_limit, policy_for, unknown_scope
from portal.models import utcnow
from portal.orgs import members
from portal.orgs.models import Membership, Organization
from portal.pagination import Page, paginate
from portal.tenancy import scoped

MAX_NAME = 100
MAX_RATE_LIMIT = 1_000_000  # requests a minute; ~16,700 a second
MAX_GRACE_SECONDS = 86_400
STATUSES = ("active", "expired", "revoked")


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
    if problem := unknown_scope(scopes):
        errors["scopes"] = problem
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


def _check_rate_limit(org: Organization, value, errors: dict) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RATE_LIMIT:
        errors["rate_limit"] = f"Between 1 and {MAX_RATE_LIMIT:,} requests a minute."
        return 0
    try:  # the plan's ceiling of a key's rate limit: a field error naming the cap, with the upgrade link
        billing.check(org, "api_rate_limit", value)
    except QuotaExceeded as exc:
        errors["rate_limit"] = f"{exc.message} The plans: {exc.upgrade_url}"  # a field's message is text, in the API and on the form
        return 0
    return value


# ---------------------------------------------------------------- reading


def _visible(org: Organization, member: Membership):
    query = scoped(ApiKey, org)
    return query if can_manage(member) else query.where(ApiKey.user_id == member.user_id)


def get_key(org: Organization, member: Membership, key_id: str) -> ApiKey:
    """One key the member may see: their own, or any of the org's for keys.manage; else NotFound."""
    key = db.session.scalar(_visible(org, member).where(ApiKey.public_id == key_id))
    if key is None:
        raise NotFound()
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


def expiring_soon(org: Organization, member: Membership, within_days: int = 14, limit: int = 5) -> list[ApiKey]:
    """Active keys the member may see that expire within `within_days`, soonest first."""
    now = utcnow()
    query = _visible(org, member).where(ApiKey.revoked_at.is_(None), ApiKey.expires_at > now,
                                        ApiKey.expires_at <= now + timedelta(days=within_days))
    return list(db.session.scalars(query.order_by(ApiKey.expires_at, ApiKey.id).limit(limit)))


def secrets_in_grace(key: ApiKey) -> list[ApiKeySecret]:
    """The key's older secrets that still work because a rotation's grace period has not ended."""
    now = utcnow()
    return [s for s in key.secrets if s.expires_at is not None and s.expires_at > now]


# ---------------------------------------------------------------- owners


def owner_candidates(org: Organization) -> list[Membership]:
    """The members a new key may be made for (each with its user loaded): not suspended, by name then email."""
    return members.active_members(org)


def resolve_owner(org: Organization, by: Membership, owner: str | None) -> Membership:
    """The membership a new key belongs to: `by` when owner is empty, else the member of org that owner names
    (user id, membership id or email). Naming anyone else needs keys.manage (403); a non-member, another org's
    user or a suspended member is a 422 on `owner`, with one message so that nothing leaks about other orgs."""
    value = owner.strip() if isinstance(owner, str) else ""
    if not value:
        return by
    found = members.member_by(org, value)
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


# ---------------------------------------------------------------- changing


def _new_secret(key: ApiKey) -> str:
    secret = tokens.generate()
    key.prefix, key.last4 = tokens.display_prefix(secret), tokens.last4(secret)
    key.secrets.append(ApiKeySecret(secret_hash=tokens.digest(secret), prefix=key.prefix, last4=key.last4))
    return secret


def create_key(org: Organization, member: Membership, *, name, scopes, expires_at: datetime | None = None,
               rate_limit: int | None = None, key_scopes: frozenset[str] | None = None,
               owner: str | None = None, form_token: str | None = None) -> tuple[ApiKey, str]:
    """A new key, created by member and owned by member or (for keys.manage) the member `owner` names;
    returns it with its full secret, shown to the creator only and never again.

    key_scopes: the scopes of the key making this call, if a key makes it (a key cannot mint a stronger one).
    The policy's scope limit for plain users follows the creator's role, like every other change to a key.
    form_token: the create form's one-time token; a second key with the same one fails its insert (IntegrityError),
    the first write of the call, so the caller may roll back and show `created_with(...)` instead."""
    owned_by = resolve_owner(org, member, owner)
    policy = policy_for(org)
    errors: dict[str, str] = {}
    now = utcnow()
    name = _check_name(name, errors)
    # The org's scope policy follows the owner's role: a key an admin makes for a member is a member's key.
    scopes = _check_scopes(scopes, owned_by, policy, key_scopes, errors)
    expires_at = _check_expiry(expires_at, now, policy, errors, default_to_cap=True)
    rate_limit = _check_rate_limit(org, default_rate_limit(org) if rate_limit is None else rate_limit, errors)
    if errors:
        raise ValidationFailed(errors)
    key = ApiKey(org_id=org.id, user_id=owned_by.user_id, created_by_id=member.user_id, name=name, scopes=scopes,
                 rate_limit=rate_limit, expires_at=expires_at, created_at=now, form_token=form_token)
    secret = _new_secret(key)
    db.session.add(key)
    db.session.flush()
    owner_user = owned_by.user
    audit.record("key.created", org=org, actor=member.user, target=key.public_id,
                 data={"name": name, "prefix": key.prefix, "scopes": scopes, "expires_at": expires_at.isoformat() if expires_at else None,
                       "owner": owner_user.public_id, "owner_email": owner_user.email})
    db.session.flush()
    return key, secret


def created_with(org: Organization, member: Membership, form_token: str) -> ApiKey | None:
    """The key member made with this create form's token, if they may still see it (it was not deleted)."""
    return db.session.scalar(_visible(org, member).where(ApiKey.form_token == form_token, ApiKey.created_by_id == member.user_id))


def _plain(values: dict) -> dict:
    """values with datetimes as ISO strings, for an audit event's JSON."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


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
        owner = members.member_by(org, key.owner.public_id) or member
        values["scopes"] = _check_scopes(changes["scopes"], owner, policy, key_scopes, errors)
    if "expires_at" in changes:
        values["expires_at"] = _check_expiry(changes["expires_at"], key.created_at, policy, errors, default_to_cap=False)
    if "rate_limit" in changes:
        values["rate_limit"] = _check_rate_limit(org, changes["rate_limit"], errors)
    if errors:
        raise ValidationFailed(errors)
    changed = {k: v for k, v in values.items() if getattr(key, k) != v}
    before = {k: getattr(key, k) for k in changed}  # the audit log says "from … to …"
    for name, value in changed.items():
        setattr(key, name, value)
    if "expires_at" in changed:
        key.expiry_notice_days = None  # a new expiry gets its own reminders
    if changed:
        audit.record("key.updated", org=org, actor=member.user, target=key.public_id,
                     data={**_plain(changed), "before": _plain(before)})
    db.session.flush()
    return key


def _revoke(key: ApiKey, org: Organization, by: Membership | None, **data) -> None:
    """Revoke key for good (once: revoking again changes nothing); every process refuses it from its next request."""
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    key.revoked_by_id = by.user_id if by is not None else None
    audit.record("key.revoked", org=org, actor=by.user if by is not None else None, target=key.public_id,
                 data={"name": key.name, "prefix": key.prefix, **data})
    db.session.flush()


def revoke_key(org: Organization, member: Membership, key_id: str) -> ApiKey:
    """Revoke a key the member may see; every process refuses it from its next request (the epoch bump)."""
    key = get_key(org, member, key_id)
    _revoke(key, org, member)
    return key


def revoke_key_as_operator(org: Organization, key_id: str, *, via: str = "cli") -> ApiKey | None:
    """Revoke any key of org on an operator's say (the CLI: no member acts, e.g. its owner has left); None if org has no such key."""
    key = db.session.scalar(scoped(ApiKey, org).where(ApiKey.public_id == key_id))
    if key is not None:
        _revoke(key, org, None, via=via)
    return key


def rotate_key(org: Organization, member: Membership, key_id: str, grace_period: int = 0) -> tuple[ApiKey, str, datetime]:
    """A new secret for the key, same settings; the old secrets keep working for grace_period seconds.
    Returns the key, the new secret (shown once) and when the old ones stop working."""
    if isinstance(grace_period, bool) or not isinstance(grace_period, int) or not 0 <= grace_period <= MAX_GRACE_SECONDS:
        raise ValidationFailed({"grace_period": f"Between 0 and {MAX_GRACE_SECONDS:,} seconds."})
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
    db.session.flush()
    return key, new_secret, old_until
