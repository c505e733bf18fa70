"""A small HTTP server that speaks Twilio's Messages API, for tests of the Twilio SMS adapter.

It answers what the real API answers for the one call the portal makes:

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json   (form-encoded To, From, Body; HTTP basic auth)

- 201 with a message resource like Twilio's (`"sid": "SM..."`, `"status": "queued"`);
- 400 with Twilio's error body (`code`, `message`, `more_info`, `status`) for a `To` it deems invalid:
  anything not in E.164 form, and Twilio's documented magic test numbers +15005550001 (21211, invalid)
  and +15005550009 (21614, not a mobile number);
- 401 (code 20003) for a wrong account sid or token;
- 404 (code 20404) for any other path;
- 503 (code 20503) while `unavailable` is set, before looking at the request;
- no answer at all while `stalled` is set (a hung connection), until `release()` or `stop()`.

Every request that reaches it is recorded in `requests`. Each message it accepted is in `messages`: a
dict with the form fields as sent (`To`, `From`, `Body`) and the resource as answered (`sid`, `status`,
`to`, `from`, `body`, ...).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

API_VERSION = "2010-04-01"
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAGIC_INVALID = {
    "+15005550001": (21211, "The 'To' number {to} is not a valid phone number."),
    "+15005550009": (21614, "'To' number {to} is not a mobile number"),
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    auth: tuple[str, str] | None
    form: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


def _error(code: int, message: str, status: int) -> dict:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


class TwilioServer:
    """Start with `start()` (or as a context manager); `base_url` is what TwilioSMS takes as api_base."""

    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.unavailable = False
        self.stalled = False
        self._released = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.messages: list[dict] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> TwilioServer:
        server = self

        class Handler(BaseHTTPRequestHandler):  # HTTP/1.0: one request per connection, nothing left open
            def do_POST(self):  # noqa: N802 - the name http.server dispatches to
                server._handle(self)

            def do_GET(self):  # noqa: N802
                server._handle(self)

            def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="twilio-server", daemon=True
        )
        self._thread.start()
        return self

    def release(self) -> None:
        """Stop stalling: requests held so far get no answer (their clients gave up), new ones do."""
        self.stalled = False
        self._released.set()

    def stop(self) -> None:
        self._released.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = None

    def __enter__(self) -> TwilioServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------ protocol

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length).decode() if length else ""
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        auth = _basic_auth(h.headers.get("Authorization"))
        with self._lock:
            self.requests.append(RecordedRequest(h.command, h.path, auth, form, dict(h.headers.items())))
        if self.stalled:
            self._released.wait(60)
            return  # close without a word
        status, body = self._answer(h.command, h.path, auth, form)
        payload = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(payload)))
        h.send_header("Twilio-Request-Id", "RQ" + secrets.token_hex(16))
        h.end_headers()
        h.wfile.write(payload)

    def _answer(self, method: str, path: str, auth, form: dict) -> tuple[int, dict]:
        if self.unavailable:
            return 503, _error(20503, "Service is unavailable. Please try again", 503)
        match = MESSAGES_PATH.match(path.split("?", 1)[0])
        if auth != (self.account_sid, self.auth_token) or (match and match["account"] != self.account_sid):
            return 401, _error(20003, "Authenticate", 401)
        if not match or method != "POST":
            return 404, _error(20404, f"The requested resource {path} was not found", 404)
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return 400, _error(21604, "A 'To' phone number is required.", 400)
        if not sender:
            return 400, _error(21603, "A 'From' phone number is required.", 400)
        if not body:
            return 400, _error(21602, "Message body is required.", 400)
        if to in MAGIC_INVALID or not E164.match(to):
            code, message = MAGIC_INVALID.get(to, (21211, "The 'To' number {to} is not a valid phone number."))
            return 400, _error(code, message.format(to=to), 400)
        return 201, self._accept(form, to, sender, body)

    def _accept(self, form: dict, to: str, sender: str, body: str) -> dict:
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        message = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(max(1, -(-len(body) // 160))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": to,
            "uri": uri,
        }
        with self._lock:
            self.messages.append({**form, **message})
        return message


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password
