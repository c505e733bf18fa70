"""Fixtures of the usage-count fault tests: the app's key limiter pointed at a spare redis-server, and keys."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from redis import Redis
from sqlalchemy import func, select

from portal.extensions import db
from portal.infra.ratelimit import RedisLimiter
from portal.keys import service, tasks
from portal.keys.auth import NAMESPACE
from portal.keys.models import ApiKey, ApiKeyUsage
from tests.faults.spare_redis import SpareRedis, spare_redis  # noqa: F401 - a fixture of these tests
from tests.keys.helpers import bearer, membership


@pytest.fixture
def spare_limiter(app, spare_redis: SpareRedis) -> Iterator[RedisLimiter]:  # noqa: F811 - the fixture above
    """This app's API key limiter, on the spare redis-server for the test (the real adapter, another server)."""
    runtime = app.extensions["keys"]
    saved = runtime.limiter
    runtime.limiter = RedisLimiter(spare_redis.url, NAMESPACE)
    runtime.cache.clear()
    yield runtime.limiter
    runtime.limiter.close()  # its pusher would retry the stopped spare server for the rest of the run
    runtime.limiter = saved
    runtime.cache.clear()


@pytest.fixture
def key_secret(app, org, admin) -> tuple[ApiKey, str]:
    """A committed key of the fault org's admin, and its secret."""
    made = service.create_key(org, membership(org, admin), name="fault key", scopes=["read"])
    db.session.commit()
    return made


def call(client, secret: str, times: int) -> None:
    """`times` API requests with the key, each answered 200 (Redis down or not: the limiter fails open)."""
    for _ in range(times):
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200


def stored(key: ApiKey) -> int:
    """The key's requests the database holds."""
    db.session.expire_all()
    return db.session.scalar(select(func.coalesce(func.sum(ApiKeyUsage.count), 0)).where(ApiKeyUsage.key_id == key.id))


def held_by_redis(server: SpareRedis) -> int:
    """The requests counted in Redis and not yet drained."""
    with Redis.from_url(server.url) as client:
        return sum(int(v) for v in client.hvals(NAMESPACE + "usage"))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll check until it holds (a deadline for the background pusher, not a timed assertion)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def flush_until(key: ApiKey, expected: int, timeout: float = 10.0) -> int:
    """Run the flush job until the database holds `expected` requests of key (or the deadline); returns what it holds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            tasks.flush_usage()
        except Exception:  # noqa: BLE001 - Redis just came back: the client reconnects on the next try
            db.session.rollback()
        found = stored(key)
        if found >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
