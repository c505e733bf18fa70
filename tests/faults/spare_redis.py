"""A redis-server of the test's own on a spare port, to flush and restart (never the shared 127.0.0.1:6379,
which other tests and test runs use). No persistence: a restart loses everything, as a crash would."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.conftest import free_port, service_missing


class SpareRedis:
    """One redis-server process on its own port; stop() and start() again to restart it empty."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except RedisConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
            finally:
                client.close()

    def stop(self) -> None:
        """Kill it (SIGKILL: a crash, nothing saved)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def flushall(self) -> None:
        with Redis.from_url(self.url) as client:
            client.flushall()


@pytest.fixture
def spare_redis() -> Iterator[SpareRedis]:
    """A running redis-server of this test's own."""
    if shutil.which("redis-server") is None:
        service_missing("redis-server", "install Debian's redis-server package (CI starts one from it)")
    server = SpareRedis(free_port())
    server.start()
    yield server
    server.stop()
