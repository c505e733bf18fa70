"""The GCRA rate limiter: its arithmetic, one limit shared by several processes on Redis, and the leases
that let a busy key skip the Redis round trip without ever admitting more than its limit."""

from __future__ import annotations

import pytest

from portal.keys.runtime import EPOCH_KEY, MAX_LEASE, NAMESPACE, PERIOD, MemoryBackend, RedisBackend, gcra


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


def test_the_memory_limiter_counts_each_key_apart():
    memory = MemoryBackend()
    assert [memory.hit("key_a", 2).allowed for _ in range(3)] == [True, True, False]
    assert memory.hit("key_b", 2).allowed


@pytest.fixture
def redis_url(app, backend):
    if backend["name"] != "postgres":
        pytest.skip("Redis is part of the PostgreSQL backend")
    return backend["env"]["REDIS_URL"]


class CountingBackend(RedisBackend):
    """The real Redis backend, counting its round trips to Redis."""

    calls = 0

    def _evalsha(self, *keys_and_args):
        self.calls += 1
        return super()._evalsha(*keys_and_args)


def test_processes_share_one_limit_and_leases_never_admit_more(redis_url):
    first, second = RedisBackend(redis_url), RedisBackend(redis_url)  # two processes' limiters
    allowed = sum((first if i % 2 else second).hit("key_shared_limit", 120).allowed for i in range(300))
    assert 120 <= allowed <= 122  # the burst of 120, plus what refilled (2 a second) while the loop ran


def test_a_busy_key_leases_tokens_and_rarely_asks_redis(redis_url):
    busy = CountingBackend(redis_url)
    assert all(busy.hit("key_busy", 600_000).allowed for _ in range(2000))
    assert busy.calls <= 2000 / MAX_LEASE + 10  # one round trip per lease of up to 64 tokens
    quiet = CountingBackend(redis_url)
    for _ in range(5):
        quiet.hit("key_quiet", 100)  # under 120 a minute: no leases, every decision on Redis
    assert quiet.calls == 5


def test_unspent_tokens_given_back_return_to_the_shared_bucket(redis_url):
    backend = RedisBackend(redis_url)
    keys = [f"{NAMESPACE}rl:key_giveback", EPOCH_KEY]
    granted, remaining, *_ = backend._evalsha(*keys, 600, PERIOD, 5, 0)
    assert (granted, remaining) == (5, 595)
    granted, remaining, *_ = backend._evalsha(*keys, 600, PERIOD, 1, 5)  # the 5 come back, 1 is taken
    assert (granted, remaining) == (1, 599)


def test_a_lease_carries_the_epoch_and_a_local_change_drops_it(redis_url):
    backend = RedisBackend(redis_url)
    first = backend.hit("key_epoch", 600_000)
    assert first.fresh
    leased = [backend.hit("key_epoch", 600_000) for _ in range(3)]
    assert any(not d.fresh for d in leased) and {d.epoch for d in leased} == {first.epoch}
    backend.bump_epoch()
    backend.drop_leases()
    after = backend.hit("key_epoch", 600_000)
    assert after.fresh and after.epoch == first.epoch + 1
