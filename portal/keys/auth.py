"""API key authentication on /api/: `Authorization: Bearer vtr_...` or `X-API-Key: vtr_...`.

The hot path makes no database query: the format and checksum are checked offline, the SHA-256 of the
key is looked up in a bounded in-process cache, and the Redis round trip of the rate limiter (at most
one a request; busy keys spend tokens leased for 0.2 s, see portal.infra.ratelimit) also returns the
key-change epoch, which says whether the cached entry may be stale. A commit that changes a key, its
owner, its owner's membership, its org or its org's billing account bumps the epoch
(portal.keys.invalidation): the committing
process forgets its cache at once, every other process within 0.2 s. Without Redis (one process)
cached entries live one second; with Redis, 60 seconds as a backstop for changes made outside the ORM.

The limit a key gets is its own setting capped by its org's plan (the `api_rate_limit` ceiling), read
with the key: a downgrade, a lapsed payment or a super admin's assignment applies from the next requests,
and an entry is reloaded when its plan ends by the clock alone (a trial's or a grace period's end).

This module speaks no HTTP: a refused key is a `Refusal`, which the request hook (portal.security)
renders as the API's JSON error.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from flask import Flask, current_app, g, request
from sqlalchemy import and_, inspect, select
from sqlalchemy.orm import make_transient_to_detached

from portal.accounts.models import User
from portal.billing import service as billing
from portal.billing.models import BillingAccount
from portal.extensions import db, login_manager
from portal.infra.ratelimit import Decision, RateLimiter, make_limiter
from portal.keys import tokens
from portal.keys.models import ApiKey, ApiKeySecret
from portal.keys.quota import ApiCallQuota
from portal.keys.scopes import required_scope
from portal.orgs.models import Membership, Organization

log = logging.getLogger(__name__)

CACHE_SIZE = 10_000
SHARED_TTL = 60.0  # with Redis the epoch announces changes; the TTL only backs it up
LOCAL_TTL = 1.0  # without a shared epoch (or while Redis is unreachable): a revoke is seen within 1 s
NEGATIVE_TTL = 30.0  # unknown keys: remembered briefly, so a flood of made-up keys stays off the database
NAMESPACE = "vetrai:keys:"  # the Redis keys of the key limiter, epoch and usage counts

_USER_COLUMNS = [attr.key for attr in inspect(User).column_attrs]
# The account columns billing.effective_plan reads: the ceiling is computed from them when the key is loaded.
_PLAN_COLUMNS = ("plan", "status", "trial_end", "payment_failed_at", "stripe_subscription_id")


@dataclass(frozen=True)
class Refusal:
    """Why a request's key is refused, for the request hook to answer with (as the API's JSON error)."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)


def refuse(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Refusal:
    """A Refusal; a 401 also says in WWW-Authenticate (RFC 6750) that the token is the problem."""
    headers = {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{code}"'} if status == 401 else {}
    return Refusal(status, code, message, headers, fields or {})


@dataclass(frozen=True)
class CachedKey:
    """What authenticating a key needs, loaded in one query and cached by the key's SHA-256."""

    secret_hash: str
    key_pk: int
    public_id: str
    org_id: int
    user_id: int
    scopes: frozenset[str]
    rate_limit: int
    expires_at: float | None
    secret_expires_at: float | None  # a rotated-out secret's grace end
    revoked: bool
    owner_problem: str | None  # why the key is suspended now: its owner or its org is
    owner_gone: bool  # the owner is no longer a member of the key's org
    user: dict = field(repr=False)
    loaded_at: float = 0.0
    epoch: int | None = None
    ceiling: int | None = None  # the org's plan's cap on a key's rate limit (None: none)
    plan_name: str = ""  # the plan that sets the ceiling, for the 429 message
    plan_until: float | None = None  # when the plan in force ends by the clock alone: reload then

    @property
    def limit(self) -> int:
        """Requests a minute this key gets now: its own setting, capped by its org's plan."""
        return self.rate_limit if self.ceiling is None else min(self.rate_limit, self.ceiling)

    def limit_message(self) -> str:
        """The 429's sentence: the limit in force, and the plan that caps it when it does."""
        message = f"This key's rate limit is {self.limit} requests a minute"
        if self.limit < self.rate_limit:
            message += f" (capped by the {self.plan_name} plan; the key is set to {self.rate_limit:,})"
        return message + ". Retry after the Retry-After seconds."

    def problem(self, now: float) -> tuple[int, str, str] | None:
        """(status, code, message) when the key must be refused at time now."""
        if self.revoked:
            return 401, "revoked_key", "This API key was revoked."
        if self.owner_gone:
            return 401, "revoked_key", "This API key's owner is no longer a member of its organization."
        if self.expires_at is not None and self.expires_at <= now:
            return 401, "expired_key", "This API key has expired."
        if self.secret_expires_at is not None and self.secret_expires_at <= now:
            return 401, "expired_key", "This API key was rotated and its grace period has ended: use the new key."
        if self.owner_problem:
            return 403, "key_suspended", self.owner_problem
        return None


@dataclass(frozen=True)
class _Unknown:
    loaded_at: float
    epoch: int | None


class KeyCache:
    """A bounded LRU of CachedKey (and unknown hashes) by SHA-256, safe across threads."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[str, CachedKey | _Unknown] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, secret_hash: str) -> CachedKey | _Unknown | None:
        with self._lock:
            item = self._items.get(secret_hash)
            if item is not None:
                self._items.move_to_end(secret_hash)
            return item

    def put(self, secret_hash: str, item: CachedKey | _Unknown) -> None:
        with self._lock:
            self._items[secret_hash] = item
            self._items.move_to_end(secret_hash)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def _ts(value) -> float | None:
    return value.timestamp() if value is not None else None


def _plan_in_force(row) -> tuple[int | None, str, float | None]:
    """(ceiling, plan name, when the plan ends by the clock) from the billing columns of a loaded key's row."""
    acct = None
    if row["billing__status"] is not None:  # an org that never had an account is on the free plan
        acct = BillingAccount(**{name: row[f"billing__{name}"] for name in _PLAN_COLUMNS})  # transient: never added
    plan = billing.effective_plan(acct)
    return plan.limit("api_rate_limit"), plan.name, _ts(billing.plan_changes_at(acct))


def load_key(secret_hash: str) -> CachedKey | None:
    """One query: the secret, its key, the key's org and its billing account, the owner and the owner's membership."""
    user_cols = [getattr(User, name).label(f"user__{name}") for name in _USER_COLUMNS]
    plan_cols = [getattr(BillingAccount, name).label(f"billing__{name}") for name in _PLAN_COLUMNS]
    query = (
        select(
            ApiKeySecret.secret_hash, ApiKeySecret.expires_at.label("secret_expires_at"), ApiKey.id, ApiKey.public_id,
            ApiKey.org_id, ApiKey.user_id, ApiKey.scopes, ApiKey.rate_limit, ApiKey.expires_at, ApiKey.revoked_at,
            Organization.is_suspended.label("org_suspended"), Membership.role, *user_cols, *plan_cols,
        )
        .join(ApiKey, ApiKeySecret.key_id == ApiKey.id)
        .join(Organization, Organization.id == ApiKey.org_id)
        .join(User, ApiKey.user_id == User.id)
        .outerjoin(Membership, and_(Membership.user_id == ApiKey.user_id, Organization.id == Membership.org_id))
        .outerjoin(BillingAccount, BillingAccount.org_id == Organization.id)
        .where(ApiKeySecret.secret_hash == secret_hash)
    )
    row = db.session.execute(query).mappings().first()
    if row is None:
        return None
    user = {name: row[f"user__{name}"] for name in _USER_COLUMNS}
    owner_problem = None
    if user["is_suspended"]:
        owner_problem = "This API key's owner is suspended."
    elif row["org_suspended"]:
        owner_problem = "This API key's organization is suspended. Contact the platform's support."
    ceiling, plan_name, plan_until = _plan_in_force(row)
    return CachedKey(
        secret_hash=row["secret_hash"], key_pk=row["id"], public_id=row["public_id"], org_id=row["org_id"],
        user_id=row["user_id"], scopes=frozenset(row["scopes"] or ()), rate_limit=row["rate_limit"],
        expires_at=_ts(row["expires_at"]), secret_expires_at=_ts(row["secret_expires_at"]),
        revoked=row["revoked_at"] is not None, owner_problem=owner_problem, owner_gone=row["role"] is None, user=user,
        ceiling=ceiling, plan_name=plan_name, plan_until=plan_until,
    )


def attach_user(columns: dict) -> User:
    """Make the user with these column values current_user for this request, without a query: the
    instance joins the request's session as if it had been loaded (it is not written back unless changed)."""
    user = User(**columns)
    make_transient_to_detached(user)
    user = db.session.merge(user, load=False)
    login_manager._update_request_context_with_user(user)
    return user


def presented_key() -> str | None:
    """The key in `Authorization: Bearer ...` or `X-API-Key`, or None when the request sends neither."""
    header = request.headers.get("Authorization")
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
    value = request.headers.get("X-API-Key")
    return value.strip() if value is not None else None


class KeyAuth:
    """This app's key cache and rate limiter (app.extensions["keys"])."""

    def __init__(self, app: Flask):
        self.limiter: RateLimiter = make_limiter(app.config.get("REDIS_URL"), NAMESPACE)
        self.cache = KeyCache(app.config.get("API_KEY_CACHE_SIZE", CACHE_SIZE))
        self.quota = ApiCallQuota()
        self.ttl = SHARED_TTL if self.limiter.shared else LOCAL_TTL
        self.epoch_seen: int | None = None
        self._lock = threading.Lock()
        self._skip_redis_until = 0.0  # after a Redis failure: fail open without waiting on it for a second
        self._warned_at = 0.0

    def _warn(self, message: str) -> None:
        """Log a Redis problem at most every 10 s (not on every request of an outage)."""
        now = time.monotonic()
        if now - self._warned_at >= 10:
            self._warned_at = now
            log.warning(message, exc_info=True)

    # ---------------------------------------------------------------- cache and epoch

    def observe(self, epoch: int) -> None:
        """An epoch from Redis: a new one means some key changed somewhere, so drop every cached entry."""
        if epoch != self.epoch_seen:
            with self._lock:
                if epoch != self.epoch_seen:
                    self.epoch_seen = epoch
                    self.forget()

    def forget(self) -> None:
        """Drop this process's cached keys, rate-limit leases and API call readings (a key or a plan changed)."""
        self.cache.clear()
        self.limiter.drop_leases()
        self.quota.clear()

    def changed(self) -> None:
        """A commit in this process changed keys or their owners: forget them here, tell the others."""
        self.forget()
        try:
            epoch = self.limiter.bump_epoch()
        except Exception:  # noqa: BLE001 - Redis down: other processes fall back to the 1 s TTL meanwhile
            self._warn("could not bump the API key epoch in Redis")
            return
        with self._lock:
            self.epoch_seen = epoch

    def lookup(self, secret_hash: str, now: float) -> CachedKey | None:
        """The key for this hash: from the cache while fresh, else from the database (then cached)."""
        item = self.cache.get(secret_hash)
        if item is not None and item.epoch == self.epoch_seen:
            age = now - item.loaded_at
            if isinstance(item, _Unknown) and age < NEGATIVE_TTL:
                return None
            if isinstance(item, CachedKey) and age < self.ttl and (item.plan_until is None or now < item.plan_until):
                return item
        return self._load(secret_hash, now)

    def _load(self, secret_hash: str, now: float) -> CachedKey | None:
        epoch = self.epoch_seen  # read before the query: a change committed meanwhile shows a newer epoch
        found = load_key(secret_hash)
        if found is None:
            self.cache.put(secret_hash, _Unknown(now, epoch))
            return None
        found = replace(found, loaded_at=now, epoch=epoch)
        self.cache.put(secret_hash, found)
        return found

    # ---------------------------------------------------------------- the request

    def authenticate(self, raw: str) -> Refusal | None:
        """Authenticate raw for this request: a Refusal, or None with current_user set."""
        now = time.time()
        if not tokens.well_formed(raw):
            return refuse(401, "invalid_key", "The API key is not valid. Check that it was copied whole.")
        secret_hash = tokens.digest(raw)
        entry = self.lookup(secret_hash, now)
        if entry is None or not hmac.compare_digest(entry.secret_hash, secret_hash):
            return refuse(401, "invalid_key", "The API key is not valid.")
        decision: Decision | None = None
        if not entry.revoked:  # a revoke is final: no need to ask Redis
            if time.monotonic() >= self._skip_redis_until:
                try:
                    decision = self.limiter.hit(entry.public_id, entry.limit)
                except Exception:  # noqa: BLE001 - fail open on a Redis outage, but trust the cache for 1 s only
                    self._skip_redis_until = time.monotonic() + 1.0
                    self._warn("API key rate limiter unavailable (Redis); letting requests through meanwhile")
            if decision is not None and decision.epoch is not None:
                if decision.fresh:  # straight from Redis (not from a lease): the current epoch
                    self.observe(decision.epoch)
                if entry.epoch != self.epoch_seen:
                    entry = self._load(secret_hash, now)
            elif now - entry.loaded_at >= LOCAL_TTL:
                entry = self._load(secret_hash, now)
            if entry is None:
                return refuse(401, "invalid_key", "The API key is not valid.")
        g.api_key_hit = (entry, decision)  # after_request adds the RateLimit-* headers and counts the request
        problem = entry.problem(now)
        if problem is not None:
            return refuse(*problem)
        if decision is not None and not decision.allowed:
            return refuse(429, "rate_limited", entry.limit_message())
        over_quota = self.quota.refusal(entry.org_id, now)
        if over_quota is not None:  # the plan's API calls this month are used up (not billed: see BILLED_OUTCOMES)
            return refuse(over_quota.status, over_quota.code, over_quota.message, over_quota.fields)
        view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
        if view is not None:
            needed = required_scope(view, request.method)
            if needed not in entry.scopes:
                return refuse(403, "insufficient_scope", f"This API key lacks the '{needed}' scope this endpoint needs.", {"scope": needed})
        # A key is bound to its organization: platform roles never come with it.
        attach_user({**entry.user, "platform_role": None})
        g.api_key = entry
        g.api_key_org_id = entry.org_id
        self.limiter.used(entry.public_id, now, request.remote_addr or "")
        return None

    def after_request(self, response):
        """RateLimit-* headers on every answer to a key, and the request counted for its usage."""
        hit = g.get("api_key_hit")
        if hit is None:
            return response
        entry, decision = hit
        if decision is not None:
            response.headers.extend(decision.headers())  # not set before: extend skips set()'s search
        rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
        status = response.status_code
        outcome = str(status) if status in (402, 429) else "5xx" if status >= 500 else "4xx" if status >= 400 else "2xx"
        self.limiter.count(entry.public_id, _utc_day(), f"{request.method} {rule}", outcome)
        return response


_day_cache: tuple[int, str] = (-1, "")


def _utc_day() -> str:
    """Today's UTC date as YYYY-MM-DD, formatted once a day."""
    global _day_cache
    number = int(time.time() // 86_400)
    if _day_cache[0] != number:
        _day_cache = (number, time.strftime("%Y-%m-%d", time.gmtime(number * 86_400)))
    return _day_cache[1]


def runtime() -> KeyAuth:
    """The current app's key authentication state."""
    return current_app.extensions["keys"]


def limiter() -> RateLimiter:
    """The current app's key rate limiter (with the usage counts not yet stored)."""
    return runtime().limiter


def before_request() -> Refusal | None:
    """For /api/ requests that send a key: authenticate it (a Refusal, or None)."""
    g.api_key = None
    if not request.path.startswith("/api/"):
        return None
    raw = presented_key()
    if raw is None:
        return None
    return runtime().authenticate(raw)


def init_app(app: Flask) -> None:
    """Give app its key cache and limiter, and the after-request step that adds RateLimit headers and counts usage."""
    app.extensions["keys"] = KeyAuth(app)
    app.after_request(lambda response: app.extensions["keys"].after_request(response))
