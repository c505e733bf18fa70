"""The rate limiter port, and the two things that ride on its round trip: a change epoch and usage counters.

Two adapters behind one `RateLimiter` protocol: Redis when REDIS_URL is set (shared by every gunicorn
worker and the RQ worker), memory otherwise (the embedded default: one process). Callers name what is
limited by an id of their own (an API key's public id) and pick a Redis namespace for their keys.

* Rate limit: GCRA (the generic cell rate algorithm, as in redis-cell): one timestamp per id, the
  "theoretical arrival time". An id of N requests a minute may burst N, then gets one every 60/N s.
  On Redis it is one Lua script using Redis's own clock, so every process shares one limit.
* Leases: a busy id need not ask Redis on every request. Each process reserves tokens from the shared
  bucket a few at a time (at most one second's worth of the limit, at most 64) and spends them locally
  for up to 0.2 s, asking for more as it uses them up and giving unspent ones back on its next call.
  Tokens are taken before they are spent, so the fleet never admits more than the limit; a limit of
  fewer than 120 requests a minute leases one token at a time, i.e. asks Redis on every request.
* Epoch: a counter the caller bumps when something the limited callers depend on changed. The
  rate-limit script returns it, so a request learns in the same round trip whether what it cached may
  be stale; as leases last 0.2 s at most, a bump reaches every process within that.
* Usage: counted in process memory (no I/O on the request path). With Redis, a background thread adds
  the counts to Redis hashes every second, and whoever drains them (a periodic job) stores them. The
  drain reads and deletes both hashes in one script, so a count pushed at the same moment lands wholly
  in this drain or the next, never in both and never in between. While Redis is unreachable, counts wait
  in process memory. What Redis holds is what a FLUSHALL or a restart without persistence loses: the
  counts pushed since the last drain, i.e. at most one flush interval (see README, Operations).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from redis import Redis
from redis.exceptions import NoScriptError

log = logging.getLogger(__name__)

PERIOD = 60.0  # rate limits are requests per minute
PUSH_INTERVAL = 1.0
LEASE_SECONDS = 0.2  # how long a process may spend reserved tokens (and trust the epoch it got with them)
MAX_LEASE = 64

# KEYS[1] the id's GCRA timestamp, KEYS[2] the epoch. ARGV: limit per period, period (s), tokens wanted,
# tokens given back (reserved earlier, unspent). Grants between 1 and `wanted` tokens, or none.
# Returns {granted, remaining, reset_after, retry_after, epoch}; numbers with fractions as strings.
GCRA_LUA = """
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local want = tonumber(ARGV[3] or '1')
local giveback = tonumber(ARGV[4] or '0')
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') - giveback * interval
if tat < now then tat = now end
local grantable = math.floor((now + period - tat) / interval + 1e-9)
local epoch = redis.call('GET', KEYS[2]) or '0'
if grantable < 1 then
  if giveback > 0 then
    redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
  end
  return {0, 0, tostring(tat - now), tostring(tat + interval - period - now), epoch}
end
local granted = math.min(want, grantable)
local new_tat = tat + granted * interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {granted, grantable - granted, tostring(new_tat - now), '0', epoch}
"""

# Keep the latest "time|ip" per id: KEYS[1] the hash; ARGV pairs of (id, "time|ip").
LAST_USED_LUA = """
for i = 1, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if (not cur) or tonumber(string.match(cur, '^[^|]+')) < tonumber(string.match(ARGV[i + 1], '^[^|]+')) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
"""

# Take the usage counts and the last uses at once: KEYS[1] the counts hash, KEYS[2] the last-used hash.
# One script: no push lands between the read and the delete, and nothing is left behind half-taken.
DRAIN_LUA = """
local counts = redis.call('HGETALL', KEYS[1])
local last = redis.call('HGETALL', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2])
return {counts, last}
"""


@dataclass(frozen=True)
class Decision:
    """One rate-limit decision, with what the RateLimit-* headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float  # seconds until the full quota is back
    retry_after: float  # seconds until the next request may pass (0 when this one did)
    epoch: int | None  # the change epoch seen in the same round trip; None when unknown
    fresh: bool = True  # False when decided from a lease, whose epoch may be up to LEASE_SECONDS old

    def headers(self) -> list[tuple[str, str]]:
        """RateLimit-Limit, -Remaining, -Reset (seconds until the full quota is back), and Retry-After on a refusal."""
        headers = [
            ("RateLimit-Limit", str(self.limit)),
            ("RateLimit-Remaining", str(max(0, self.remaining))),
            ("RateLimit-Reset", str(max(0, math.ceil(self.reset_after)))),
        ]
        if not self.allowed:
            headers.append(("Retry-After", str(max(1, math.ceil(self.retry_after)))))
        return headers


def gcra(tat: float | None, now: float, limit: int, period: float = PERIOD) -> tuple[Decision, float]:
    """The GCRA step in Python (the memory adapter; the Lua script is the same arithmetic).
    Returns the decision and the id's new theoretical arrival time."""
    interval = period / limit
    tat = max(tat or now, now)
    new_tat = tat + interval
    allow_at = new_tat - period
    if now < allow_at:
        return Decision(False, limit, 0, tat - now, allow_at - now, None), tat
    remaining = math.floor((now - allow_at) / interval + 1e-9)
    return Decision(True, limit, remaining, new_tat - now, 0.0, None), new_tat


UsageCounts = dict[tuple[str, str, str, str], int]  # (id, day, endpoint, outcome) -> requests
LastUsed = dict[str, tuple[float, str]]  # id -> (unix time, ip)


class RateLimiter(Protocol):
    """What callers may ask of the rate limiter, whichever adapter it is."""

    name: str
    shared: bool  # True when other processes see the same limits and epoch (Redis)

    def hit(self, key_id: str, limit: int) -> Decision: ...
    def bump_epoch(self) -> int: ...
    def drop_leases(self) -> None: ...
    def reset(self) -> None: ...
    def used(self, key_id: str, when: float, ip: str) -> None: ...
    def count(self, key_id: str, day: str, endpoint: str, outcome: str) -> None: ...
    def push(self) -> None: ...
    def drain_usage(self) -> tuple[UsageCounts, LastUsed]: ...
    def restore_usage(self, counts: UsageCounts, last: LastUsed) -> None: ...
    def pending_last_used(self, key_ids: list[str]) -> LastUsed: ...


class UsageBuffer:
    """Counts of this process, taken whole by whoever flushes them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: UsageCounts = defaultdict(int)
        self._last: LastUsed = {}

    def add(self, key_id: str, day: str, endpoint: str, outcome: str) -> None:
        with self._lock:
            self._counts[(key_id, day, endpoint, outcome)] += 1

    def used(self, key_id: str, when: float, ip: str) -> None:
        with self._lock:
            self._last[key_id] = (when, ip)

    def take(self) -> tuple[UsageCounts, LastUsed]:
        with self._lock:
            counts, last = dict(self._counts), dict(self._last)
            self._counts.clear()
            self._last.clear()
        return counts, last

    def give_back(self, counts: UsageCounts, last: LastUsed) -> None:
        """Put counts back after a failed flush, so that none are lost."""
        with self._lock:
            for k, v in counts.items():
                self._counts[k] += v
            for k, (when, ip) in last.items():
                if k not in self._last or self._last[k][0] < when:
                    self._last[k] = (when, ip)

    def peek_last(self, key_ids: list[str]) -> LastUsed:
        with self._lock:
            return {k: self._last[k] for k in key_ids if k in self._last}


class MemoryLimiter:
    """One process, no Redis: limits, epoch and usage in this process's memory."""

    name = "memory"
    shared = False  # other processes do not see this one's epoch

    def __init__(self):
        self._lock = threading.Lock()
        self._tat: dict[str, float] = {}
        self._epoch = 0
        self._usage = UsageBuffer()

    def hit(self, key_id: str, limit: int) -> Decision:
        now = time.time()
        with self._lock:
            decision, self._tat[key_id] = gcra(self._tat.get(key_id), now, limit)
            if len(self._tat) > 50_000:  # forget ids whose quota is full again
                self._tat = {k: v for k, v in self._tat.items() if v > now}
            epoch = self._epoch
        return Decision(decision.allowed, limit, decision.remaining, decision.reset_after, decision.retry_after, epoch)

    def bump_epoch(self) -> int:
        with self._lock:
            self._epoch += 1
            return self._epoch

    def drop_leases(self) -> None:
        """No leases: every decision is local."""

    def reset(self) -> None:
        with self._lock:
            self._tat.clear()

    def used(self, key_id: str, when: float, ip: str) -> None:
        self._usage.used(key_id, when, ip)

    def count(self, key_id: str, day: str, endpoint: str, outcome: str) -> None:
        self._usage.add(key_id, day, endpoint, outcome)

    def push(self) -> None:
        """Nothing to push: whoever drains reads this process's buffer directly."""

    def drain_usage(self) -> tuple[UsageCounts, LastUsed]:
        return self._usage.take()

    def restore_usage(self, counts: UsageCounts, last: LastUsed) -> None:
        self._usage.give_back(counts, last)

    def pending_last_used(self, key_ids: list[str]) -> LastUsed:
        return self._usage.peek_last(key_ids)


@dataclass
class _Lease:
    """Tokens this process reserved for one id, and how many to ask for next time."""

    limit: int
    tokens: int
    until: float  # time.monotonic() after which the tokens (and the epoch) are not used any more
    remaining: int  # left in the shared bucket when they were granted
    reset_at: float  # time.time() when the shared bucket is full again
    epoch: int
    want: int


class RedisLimiter:
    """Redis shared by every process: the limit holds across gunicorn workers, an epoch bump reaches them all."""

    name = "redis"
    shared = True

    def __init__(self, url: str, namespace: str):
        # Short timeouts: a stuck Redis must not hold requests (callers then fail open).
        self.redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1, health_check_interval=30)
        self.namespace = namespace
        self.epoch_key = namespace + "epoch"
        self._usage_key = namespace + "usage"
        self._last_used_key = namespace + "last_used"
        self._gcra = self.redis.register_script(GCRA_LUA)
        self._last_used = self.redis.register_script(LAST_USED_LUA)
        self._drain = self.redis.register_script(DRAIN_LUA)
        self._usage = UsageBuffer()
        self._pusher_pid: int | None = None
        self._pusher_lock = threading.Lock()
        self._closed = threading.Event()
        self._local = threading.local()
        self._leases: dict[str, _Lease] = {}
        self._lease_lock = threading.Lock()

    # ------------------------------------------------------------ rate limit and epoch

    def hit(self, key_id: str, limit: int) -> Decision:
        now = time.monotonic()
        cap = max(1, min(MAX_LEASE, limit // 60))  # at most one second's worth of the limit
        want, giveback = 1, 0
        with self._lease_lock:
            lease = self._leases.pop(key_id, None)
            if lease is not None and lease.limit == limit:
                if lease.tokens > 0 and now < lease.until:  # the hot path: no round trip
                    lease.tokens -= 1
                    self._leases[key_id] = lease
                    return Decision(True, limit, lease.remaining + lease.tokens, max(0.0, lease.reset_at - time.time()), 0.0, lease.epoch, fresh=False)
                giveback = lease.tokens
                if now < lease.until:  # used up before it expired: the id is busy, ask for more
                    want = min(cap, lease.want * 2)
                elif now < lease.until + 1.0 and not lease.tokens:
                    want = min(cap, lease.want)
                else:  # left over or long idle: ask for fewer
                    want = max(1, min(cap, lease.want // 2))
        keys, args = [f"{self.namespace}rl:{key_id}", self.epoch_key], [limit, PERIOD, want, giveback]
        try:
            reply = self.evalsha(*keys, *args)
        except NoScriptError:  # Redis restarted or its scripts were flushed: load it again
            reply = self._gcra(keys=keys, args=args)
        granted, remaining, reset_after, retry_after, epoch = reply
        granted, remaining, reset_after, epoch = int(granted), int(remaining), float(reset_after), int(epoch)
        if granted < 1:
            return Decision(False, limit, 0, reset_after, float(retry_after), epoch)
        if cap > 1:
            with self._lease_lock:
                self._leases[key_id] = _Lease(limit, granted - 1, now + LEASE_SECONDS, remaining, time.time() + reset_after, epoch, want)
        return Decision(True, limit, remaining + granted - 1, reset_after, 0.0, epoch)

    def drop_leases(self) -> None:
        """Forget reserved tokens (after a local change: the next request asks Redis, and sees the new epoch)."""
        with self._lease_lock:
            self._leases.clear()

    def evalsha(self, *keys_and_args):
        """The GCRA script (keys: the id's timestamp and the epoch; args as in GCRA_LUA) by EVALSHA on this
        thread's own connection: the hot path skips the client's pool and retry layers, which cost two
        thirds of a decision's client time. Errors drop the connection; the caller fails open."""
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            conn = local.conn = self.redis.connection_pool.make_connection()
            local.pid = os.getpid()
        try:
            conn.send_command("EVALSHA", self._gcra.sha, 2, *keys_and_args)
            return conn.read_response()
        except NoScriptError:
            raise
        except Exception:
            conn.disconnect()
            raise

    def bump_epoch(self) -> int:
        return int(self.redis.incr(self.epoch_key))

    def reset(self) -> None:
        self.drop_leases()
        keys = list(self.redis.scan_iter(match=f"{self.namespace}rl:*", count=1000))
        if keys:
            self.redis.delete(*keys)

    # ------------------------------------------------------------ usage

    def used(self, key_id: str, when: float, ip: str) -> None:
        self._usage.used(key_id, when, ip)

    def count(self, key_id: str, day: str, endpoint: str, outcome: str) -> None:
        self._usage.add(key_id, day, endpoint, outcome)
        self._start_pusher()

    def _start_pusher(self) -> None:
        """Make sure this process's pusher thread runs (started lazily: gunicorn forks after import)."""
        if self._pusher_pid != os.getpid():
            with self._pusher_lock:
                if self._pusher_pid != os.getpid():
                    self._pusher_pid = os.getpid()
                    threading.Thread(target=self._push_loop, name="usage-push", daemon=True).start()
                    atexit.register(self._push_at_exit)  # a process that stops cleanly keeps its last second

    def close(self) -> None:
        """Push what this process still holds (if Redis answers) and stop its pusher thread: a limiter put out of use."""
        self._closed.set()
        atexit.unregister(self._push_at_exit)
        self._push_at_exit()

    def _push_at_exit(self) -> None:
        try:
            self.push()
        except Exception:  # noqa: BLE001 - Redis down as the process stops: that second's counts are lost
            log.warning("could not push the last usage counts to Redis at exit", exc_info=True)

    def _push_loop(self) -> None:
        warned = 0.0
        while not self._closed.wait(PUSH_INTERVAL):
            try:
                self.push()
            except Exception:  # noqa: BLE001 - Redis down: the counts wait in memory for the next try
                if time.monotonic() - warned >= 60:
                    warned = time.monotonic()
                    log.warning("could not push usage counts to Redis; they wait in memory", exc_info=True)

    def push(self) -> None:
        """Add this process's counts to the Redis hashes."""
        counts, last = self._usage.take()
        if not counts and not last:
            return
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for (key_id, day, endpoint, outcome), n in counts.items():
                    pipe.hincrby(self._usage_key, f"{key_id}\t{day}\t{endpoint}\t{outcome}", n)
                pipe.execute()
            if last:
                args = []
                for key_id, (when, ip) in last.items():
                    args += [key_id, f"{when:.3f}|{ip}"]
                self._last_used(keys=[self._last_used_key], args=args)
        except Exception:
            self._usage.give_back(counts, last)
            raise

    def drain_usage(self) -> tuple[UsageCounts, LastUsed]:
        """Take every count from Redis (this process's first), atomically: read and deleted in one script."""
        self.push()
        raw_counts, raw_last = self._drain(keys=[self._usage_key, self._last_used_key])
        counts: UsageCounts = {}
        last: LastUsed = {}
        for field, value in zip(raw_counts[::2], raw_counts[1::2], strict=True):
            bucket = tuple(field.decode().split("\t"))
            counts[bucket] = counts.get(bucket, 0) + int(value)
        for field, value in zip(raw_last[::2], raw_last[1::2], strict=True):
            when, _, ip = value.decode().partition("|")
            last[field.decode()] = (float(when), ip)
        return counts, last

    def restore_usage(self, counts: UsageCounts, last: LastUsed) -> None:
        """Give drained counts back to Redis after whoever drained them could not store them."""
        self._usage.give_back(counts, last)
        self.push()

    def pending_last_used(self, key_ids: list[str]) -> LastUsed:
        """Last uses not yet drained: this process's, then Redis's."""
        found = self._usage.peek_last(key_ids)
        if key_ids:
            try:
                values = self.redis.hmget(self._last_used_key, key_ids)
            except Exception:  # noqa: BLE001 - only a fresher "last used" is lost
                values = [None] * len(key_ids)
            for key_id, value in zip(key_ids, values, strict=True):
                if value:
                    when, _, ip = value.decode().partition("|")
                    if key_id not in found or found[key_id][0] < float(when):
                        found[key_id] = (float(when), ip)
        return found


def make_limiter(redis_url: str | None, namespace: str) -> RateLimiter:
    """The Redis adapter when there is a Redis URL, else the in-memory one (the embedded default)."""
    return RedisLimiter(redis_url, namespace) if redis_url else MemoryLimiter()
