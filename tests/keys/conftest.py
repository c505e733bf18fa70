"""Fixtures of the API key tests: keys made through the service, a clean key runtime per test, and real
gunicorn servers (PostgreSQL + Redis backend) for the tests that need a second process."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from portal.extensions import db
from portal.keys import service
from tests.conftest import ARTIFACTS, ROOT, free_port
from tests.factories import OrgFactory, member

from .helpers import membership


@pytest.fixture(autouse=True)
def clean_key_runtime(request):
    """Each test that uses the app starts with an empty key cache, fresh rate limits and no usage counts left by others."""
    if "app" not in request.fixturenames:
        yield None
        return
    runtime = request.getfixturevalue("app").extensions["keys"]
    runtime.cache.clear()
    runtime.limiter.reset()
    runtime.limiter.drain_usage()
    yield runtime
    runtime.limiter.drain_usage()


@pytest.fixture
def org(app):
    return OrgFactory(slug="keys-org", name="Keys Org")


@pytest.fixture
def admin(org):
    return member(org, "org_admin", email="admin@keys.test")


@pytest.fixture
def make_key():
    """make_key(org, user, **fields) -> (ApiKey, full secret), created by the service as the owner and
    committed (as the request that creates it would be), so that other processes see it too."""

    def make(org, user, *, name="test key", scopes=("read", "write", "admin"), **fields):
        made = service.create_key(org, membership(org, user), name=name, scopes=list(scopes), **fields)
        db.session.commit()
        return made

    return make


# ---------------------------------------------------------------- real gunicorn servers


class HeldRequest:
    def __init__(self, port: int, path: str, headers: dict):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
        self.rest = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "Connection: close\r\n\r\n"

    def finish(self) -> tuple[int, dict, bytes]:
        self.sock.sendall(self.rest.encode())
        response = http.client.HTTPResponse(self.sock)
        try:
            response.begin()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            self.sock.close()


@dataclass
class Server:
    port: int
    proc: subprocess.Popen
    access_log: Path

    def request(self, method: str, path: str, headers: dict | None = None, body: str | None = None):
        """One request on a new connection (so that the kernel spreads them over gunicorn's workers)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def hold(self, path: str, headers: dict) -> HeldRequest:
        """Start a request without finishing its headers: the sync worker that accepts it waits for the rest,
        so every other request goes to the other worker until `finish()`."""
        held = HeldRequest(self.port, path, headers)
        time.sleep(0.3)  # let an idle worker accept it (the access log tells afterwards which one did)
        return held

    def served_by(self, at_least: int = 0) -> list[tuple[int, int]]:
        """(worker pid, status) of every request but the start-up health checks, from the access log. Waits (up
        to 5 s) for `at_least` of them: a worker writes its line just after the client has read the answer."""
        deadline = time.monotonic() + 5
        while True:
            lines = self.access_log.read_text().split("\n") if self.access_log.exists() else []
            served = [(int(p.strip("<>")), int(s)) for p, s, _method, path in (line.split()[:4] for line in lines if line.strip())
                      if path != "/health"]
            if len(served) >= at_least or time.monotonic() > deadline:
                return served
            time.sleep(0.05)


@pytest.fixture
def gunicorn(app, backend, tmp_path):
    """start(workers) -> a gunicorn serving wsgi:app with the backend's environment (PostgreSQL + Redis).
    For tests marked postgres_only: a second process shares limits and revocations through Redis."""
    assert backend["name"] == "postgres", "mark the test postgres_only: only Redis shares state between processes"
    servers: list[Server] = []

    def start(workers: int = 1) -> Server:
        port = free_port()
        access_log = tmp_path / f"access-{port}.log"
        log = open(ARTIFACTS / f"gunicorn-keys-{os.getpid()}.log", "ab")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            # Sync workers, one request at a time each: `Server.hold` relies on a held request keeping its worker busy.
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync", "--threads", "1",
             "--bind", f"127.0.0.1:{port}",
             "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(s)s %(m)s %(U)s", "wsgi:app"],
            cwd=ROOT, env={**os.environ, **backend["env"]}, stdout=log, stderr=subprocess.STDOUT,
        )
        server = Server(port, proc, access_log)
        servers.append(server)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {proc.returncode}; see {log.name}")
            try:
                if server.request("GET", "/health")[0] == 200:
                    return server
            except OSError:
                time.sleep(0.1)
        raise AssertionError("gunicorn did not answer /health within 30 s")

    yield start
    for server in servers:
        server.proc.terminate()
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(5)
