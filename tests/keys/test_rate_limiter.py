"""The GCRA rate limiter: its arithmetic, one limit shared by several processes on Redis, and the leases
that let a busy key skip the Redis round trip without ever admitting more than its limit."""

from __future__ import annotations

import pytest

from portal.infra.ratelimit import MAX_LEASE, PERIOD, MemoryLimiter, RateLimiter, RedisLimiter, gcra
from portal.keys.auth import NAMESPACE


def test_gcra_allows_a_burst_of_the_limit_then_one_per_interval():
    tat, allowed = None, []
    for _ in range(8):  # 6 a minute: a burst of 6, then one every 10 s
        decision, tat = gcra(tat, 1000.0, 6)
        allowed.append((decision.allowed, decision.remaining))
    assert allowed == [(True, 5), (True, 4), (True, 3), (True, 2), (True, 1), (True, 0), (False, 0), (False, 0)]
    refused, _ = gcra(tat, 1000.0, 6)
    assert refused.retry_after == pytest.approx(10.0) and refused.reset_after == pytest.approx(60.0)
    assert dict(refused.headers()) == {"RateLimit-Limit": "6", "RateLimit-Remaining": "0", "RateLimit-Reset": "60", "Retry-After": "10"}
    later, tat = gcra(tat, 1010.0, 6)  # 10 s on: exactly one more
    assert later.allowed and later.remaining == 0
    assert not gcra(tat, 1010.0, 6)[0].allowed


@pytest.mark.parametrize("adapter", [MemoryLimiter, RedisLimiter])
def test_each_limiter_offers_every_operation_of_the_port(adapter):
    operations = {n for n in vars(RateLimiter) if not n.startswith("_")} | set(RateLimiter.__annotations__)
    assert {"hit", "bump_epoch", "count", "drain_usage"} <= operations
    assert not [n for n in sorted(operations) if not hasattr(adapter, n)]


def test_the_memory_limiter_counts_each_key_apart():
    memory = MemoryLimiter()
    assert [memory.hit("key_a", 2).allowed for _ in range(3)] == [True, True, False]
    assert memory.hit("key_b", 2).allowed


@pytest.fixture
def redis_url(app, backend):
    """Redis is part of the PostgreSQL backend: tests using it are marked postgres_only."""
    assert backend["name"] == "postgres", "mark the test postgres_only"
    return backend["env"]["REDIS_URL"]


class CountingLimiter(RedisLimiter):
    """The real Redis limiter, counting its round trips to Redis."""

    calls = 0

    def evalsha(self, *keys_and_args):
        self.calls += 1
        return super().evalsha(*keys_and_args)


@pytest.mark.postgres_only
def test_processes_share_one_limit_and_leases_never_admit_more(redis_url):
    first, second = RedisLimiter(redis_url, NAMESPACE), RedisLimiter(redis_url, NAMESPACE)  # two processes' limiters
    allowed = sum((first if i % 2 else second).hit("key_shared_limit", 120).allowed for i in range(300))
    assert 120 <= allowed <= 122  # the burst of 120, plus what refilled (2 a second) while the loop ran


@pytest.mark.postgres_only
def test_a_busy_key_leases_tokens_and_rarely_asks_redis(redis_url):
    busy = CountingLimiter(redis_url, NAMESPACE)
    assert all(busy.hit("key_busy", 600_000).allowed for _ in range(2000))
    assert busy.calls <= 2000 / MAX_LEASE + 10  # one round trip per lease of up to 64 tokens
    quiet = CountingLimiter(redis_url, NAMESPACE)
    for _ in range(5):
        quiet.hit("key_quiet", 100)  # under 120 a minute: no leases, every decision on Redis
    assert quiet.calls == 5


@pytest.mark.postgres_only
def test_unspent_tokens_given_back_return_to_the_shared_bucket(redis_url):
    limiter = RedisLimiter(redis_url, NAMESPACE)
    keys = [f"{NAMESPACE}rl:key_giveback", limiter.epoch_key]
    granted, remaining, *_ = limiter.evalsha(*keys, 600, PERIOD, 5, 0)
    assert (granted, remaining) == (5, 595)
    granted, remaining, *_ = limiter.evalsha(*keys, 600, PERIOD, 1, 5)  # the 5 come back, 1 is taken
    assert (granted, remaining) == (1, 599)


@pytest.mark.postgres_only
def test_a_lease_carries_the_epoch_and_a_local_change_drops_it(redis_url):
    limiter = RedisLimiter(redis_url, NAMESPACE)
    first = limiter.hit("key_epoch", 600_000)
    assert first.fresh
    leased = [limiter.hit("key_epoch", 600_000) for _ in range(3)]
    assert any(not d.fresh for d in leased) and {d.epoch for d in leased} == {first.epoch}
    limiter.bump_epoch()
    limiter.drop_leases()
    after = limiter.hit("key_epoch", 600_000)
    assert after.fresh and after.epoch == first.epoch + 1
