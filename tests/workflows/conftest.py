"""Fixtures of the workflow tests: orgs and members, a local HTTP server that nodes call (with a gate that
holds a request until the test opens it), and llm-katan's echo backend as the OpenAI-compatible server."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from portal.extensions import db
from portal.workflows import service
from portal.workflows.models import WorkflowRun
from tests.conftest import ARTIFACTS, free_port, service_missing
from tests.factories import OrgFactory, member, on_plan


class Gate:
    """Holds /gate requests until opened; counts hits per path (shared with worker processes over HTTP)."""

    def __init__(self):
        self.opened = threading.Event()
        self.hits: dict[str, int] = {}
        self.entered = threading.Event()


class Handler(BaseHTTPRequestHandler):
    gate: Gate

    def log_message(self, *args):  # quiet
        pass

    def _answer(self, code: int, payload) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        path = self.path.split("?")[0]
        self.gate.hits[path] = self.gate.hits.get(path, 0) + 1
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if path == "/gate":
            self.gate.entered.set()
            self.gate.opened.wait(30)
            return self._answer(200, {"gate": "open"})
        if path.startswith("/flaky/"):  # /flaky/<n>: fails the first n calls with 503
            if self.gate.hits[path] <= int(path.rsplit("/", 1)[1]):
                return self._answer(503, {"error": "try again"})
            return self._answer(200, {"ok": True, "call": self.gate.hits[path]})
        if path == "/fail":
            return self._answer(500, {"error": "boom"})
        return self._answer(200, {"method": self.command, "path": path, "body": body, "header": self.headers.get("X-Test", ""),
                                 "host": self.headers.get("Host", "")})

    do_GET = do_POST = do_PUT = do_DELETE = _handle


@pytest.fixture(scope="session")
def _http_server():
    gate = Gate()
    handler = type("BoundHandler", (Handler,), {"gate": gate})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, gate
    gate.opened.set()
    server.shutdown()


@pytest.fixture
def local_server(_http_server):
    """The local server (base URL, gate), fresh for this test; its host is NOT allowlisted unless allow_local is used."""
    server, gate = _http_server
    gate.opened.clear()
    gate.entered.clear()
    gate.hits.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}", gate
    gate.opened.set()  # never leave a worker blocked


@pytest.fixture
def allow_local(app, local_server):
    """A super admin allowlisted the local server's host:port."""
    base, _gate = local_server
    service.allow_host(base.split("//", 1)[1])
    return local_server


@pytest.fixture(scope="session")
def llm_katan():
    """llm-katan's echo backend (OpenAI-compatible, offline) on a loopback port."""
    port = free_port()
    exe = Path(sys.executable).parent / "llm-katan"
    if not exe.exists():
        service_missing("llm-katan", "pip install -r requirements-dev.txt.")
    log = open(ARTIFACTS / "llm-katan.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([str(exe), "-m", "echo-model", "-b", "echo", "-p", str(port), "-h", "127.0.0.1", "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            conn.getresponse().read()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("llm-katan did not start")
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def org(app):
    # On a plan with room for the runs at once these tests start (the free plan's one would refuse the second).
    return on_plan(OrgFactory(slug="wf-org", name="Workflow Org"), "enterprise")


@pytest.fixture
def admin(org):
    return member(org, "org_admin", email="wf-admin@example.test", name="Wanda Admin")


@pytest.fixture
def user(org):
    return member(org, "user", email="wf-user@example.test", name="Walt User")


def wait_for_status(run_id: str, statuses: tuple[str, ...], timeout: float = 20.0) -> WorkflowRun:
    """Poll the run until its status is one of statuses (a deadline, not a timed assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.expire_all()
        run = db.session.scalar(db.select(WorkflowRun).filter_by(public_id=run_id))
        if run.status in statuses or time.monotonic() > deadline:
            return run
        time.sleep(0.05)
