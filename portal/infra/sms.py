"""Outgoing SMS: Twilio (`TWILIO_*`) in production, the console in the embedded default."""

from __future__ import annotations

import logging
import re
from collections import deque
from typing import Protocol

from flask import Flask, current_app

log = logging.getLogger(__name__)

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class SMSError(Exception):
    """A send that failed; `permanent` says whether retrying can help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def is_e164(number: str) -> bool:
    """True for a phone number in E.164 form, like +14155550123."""
    return bool(E164.match(number or ""))


class TwilioSMS:
    """Sends through Twilio's Messages API with the official SDK."""

    name = "twilio"

    def __init__(
        self, account_sid: str, auth_token: str, from_number: str, api_base: str | None = None, timeout: float = 15.0
    ):
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        # The SDK's default HTTP client has no timeout: a stalled connection would hang the job forever.
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        if api_base:  # a Twilio-protocol endpoint: tests, or a self-hosted gateway
            # Requests for messages go through the Api domain (client.api), whose base_url the SDK joins
            # with /2010-04-01/Accounts/...; TWILIO_REGION / TWILIO_EDGE would rewrite that host into
            # <product>.<edge>.<region>.twilio.com, so they do not apply to a custom base.
            self.client.api.base_url = api_base.rstrip("/")
            self.client.region = None
            self.client.edge = None
        self.from_number = from_number

    def send(self, to: str, body: str, status_callback: str | None = None) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

        if not is_e164(to):
            raise SMSError(f"{to!r} is not an E.164 phone number", permanent=True)
        extra = {"status_callback": status_callback} if status_callback else {}
        try:
            message = self.client.messages.create(to=to, from_=self.from_number, body=body, **extra)
        except (TwilioRestException, TwilioServiceException) as exc:  # legacy and RFC 9457 error bodies
            # 4xx from Twilio (bad number, unsubscribed, bad credentials) will fail the same way again;
            # 429 and 5xx may not.
            status = int(exc.status)
            permanent = 400 <= status < 500 and status != 429
            detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
            raise SMSError(f"Twilio {status} (code {exc.code}): {detail}", permanent=permanent) from exc
        except (TwilioException, OSError) as exc:
            raise SMSError(f"Twilio unreachable: {exc}") from exc
        return message.sid


class ConsoleSMS:
    """Prints each message to the log and keeps the last ones in memory: the embedded default."""

    name = "console"

    def __init__(self):
        self.outbox: deque[tuple[str, str]] = deque(maxlen=200)

    def send(self, to: str, body: str, status_callback: str | None = None) -> str:
        if not is_e164(to):
            raise SMSError(f"{to!r} is not an E.164 phone number", permanent=True)
        self.outbox.append((to, body))
        log.warning("sms (console) to %s: %s", to, body)
        return f"console-{len(self.outbox)}"


class SMSSender(Protocol):
    """What callers may ask of the SMS port, whichever adapter it is."""

    name: str

    def send(self, to: str, body: str, status_callback: str | None = None) -> str: ...


def init_app(app: Flask) -> None:
    """Pick the SMS adapter from config."""
    c = app.config
    if c.get("TWILIO_ACCOUNT_SID"):
        adapter = TwilioSMS(c["TWILIO_ACCOUNT_SID"], c["TWILIO_AUTH_TOKEN"], c["TWILIO_FROM_NUMBER"], c.get("TWILIO_API_BASE"))
    else:
        adapter = ConsoleSMS()
    app.extensions["sms"] = adapter


def send_sms(to: str, body: str, status_callback: str | None = None) -> str:
    """Send one SMS now; returns the provider's message id. Raises SMSError.

    `status_callback` is a URL the provider posts delivery reports to (Twilio's StatusCallback)."""
    sender: SMSSender = current_app.extensions["sms"]
    return sender.send(to, body, status_callback)


def verify_twilio_signature(url: str, params: dict, signature: str) -> bool:
    """True when a webhook request really comes from Twilio (X-Twilio-Signature over URL and form)."""
    from twilio.request_validator import RequestValidator

    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    return bool(token) and RequestValidator(token).validate(url, params, signature)
