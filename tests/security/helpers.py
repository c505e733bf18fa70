"""Small helpers the security tests share: reading pages the way a browser would."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from flask.testing import FlaskClient

from tests.factories import PASSWORD

BASE_URL = "http://localhost/login"  # where the test client's requests appear to come from
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def meta_csrf_token(html: str) -> str:
    """The CSRF token a page hands to HTMX in <meta name="csrf-token">."""
    found = META_CSRF.search(html)
    assert found, "the page has no <meta name=\"csrf-token\">"
    return found.group(1)


class _Tags(HTMLParser):
    def __init__(self, tag: str):
        super().__init__()
        self.tag = tag
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == self.tag:
            self.found.append(dict(attrs))


def tags(html: str, tag: str) -> list[dict[str, str | None]]:
    """The attributes of every <tag> in html."""
    parser = _Tags(tag)
    parser.feed(html)
    return parser.found


def browser_target(location: str, base: str = BASE_URL) -> str:
    """Where a browser goes for this Location: it drops tabs and newlines and reads "\\" as "/" (WHATWG URL)."""
    cleaned = re.sub(r"[\t\r\n]", "", location).lstrip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f ")
    cleaned = cleaned.replace("\\", "/")
    if cleaned.startswith("//"):  # any run of slashes before a host is one "//" for http(s)
        cleaned = "//" + cleaned.lstrip("/")
    return urljoin(base, cleaned)


def is_off_site(location: str, base: str = BASE_URL) -> bool:
    target = urlsplit(browser_target(location, base))
    return target.scheme not in ("http", "https") or target.netloc != urlsplit(base).netloc


def log_in(client: FlaskClient, email: str, password: str = PASSWORD, *, ip: str = "127.0.0.1", next_url: str | None = None):
    """A real login through the form (CSRF is off unless the test turns it on)."""
    query = {} if next_url is None else {"next": next_url}
    return client.post("/login", query_string=query, data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip})
