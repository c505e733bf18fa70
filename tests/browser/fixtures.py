"""Browser fixtures: the test app served over real HTTP on loopback, and headless Debian Chromium driven by Playwright.

Browser tests run on the PostgreSQL + RQ backend only (the sqlite variants are deselected), with CSRF on so
that the HTMX requests go through the real `X-CSRFToken` header path.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.factories import PASSWORD

BROWSER_DIR = Path(__file__).resolve().parent
SCREENSHOTS = BROWSER_DIR.parent / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# No network beyond loopback: keep Chromium from phoning home (updates, sync, field trials, QUIC probes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
EXPECT_TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(config, items):
    """Mark browser tests, and run them on the PostgreSQL backend only to keep the suite fast; a test
    marked `postgres_only` (it tests something only PostgreSQL has) runs there only too."""
    deselected = []
    for item in items:
        if Path(str(item.path)).is_relative_to(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)
        # Browser tests elsewhere (a domain's own folder) carry the marker themselves.
        only_postgres = item.get_closest_marker("browser") is not None or item.get_closest_marker("postgres_only") is not None
        if only_postgres and "[sqlite" in item.nodeid:
            deselected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


class LiveServer:
    def __init__(self, app):
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __call__(self, path: str = "/") -> str:
        """The absolute URL of path on this server."""
        return self.url + path


@pytest.fixture
def live_server(app):
    """The test app on a real HTTP server (threaded, loopback, free port), CSRF on, emailed links pointing at it.

    Jobs on the PostgreSQL backend run in the RQ worker process, which builds its links from its own BASE_URL:
    tests turn an emailed link into a path (`mailbox.link_in`) and open it with `live_server(path)`.
    """
    saved = {key: app.config.get(key) for key in ("BASE_URL", "WTF_CSRF_ENABLED")}
    server = LiveServer(app)
    app.config["BASE_URL"] = server.url
    app.config["WTF_CSRF_ENABLED"] = True
    server.start()
    try:
        yield server
    finally:
        server.stop()
        app.config.update(saved)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing; install Debian's chromium package (never `playwright install`)."
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser):
    """A factory of fresh browser contexts (separate cookies: a second person), closed after the test."""
    contexts = []

    def make():
        context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context, live_server):
    """A page in a fresh context; console errors (a CSP violation, a JS exception) are collected on page.errors."""
    pg = new_context().new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.on("console", lambda msg: _console_error(pg, msg))
    return pg


def _console_error(pg, msg) -> None:
    # A 4xx answer is logged as "Failed to load resource"; the tests assert on statuses themselves.
    if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
        pg.errors.append(msg.text)


@pytest.fixture
def screenshot():
    """Save a full-page screenshot to tests/artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shoot(pg, name: str) -> Path:
        path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
        pg.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    return shoot


@pytest.fixture
def log_in(live_server):
    """Log a page in through the login form."""
    from playwright.sync_api import expect

    def do(pg, email: str, password: str = PASSWORD):
        pg.goto(live_server("/login"))
        pg.get_by_label("Email", exact=True).fill(email)
        pg.get_by_label("Password", exact=True).fill(password)
        pg.get_by_role("button", name="Log in").click()
        expect(pg).not_to_have_url(re.compile(r"/login"))

    return do
