"""Outgoing SMS: Twilio (`TWILIO_*`) in production, the console in the embedded default."""

from __future__ import annotations

import logging
import re
from collections import deque

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

    def __init__(self, account_sid: str, auth_token: str, from_number: str, api_base: str | None = None):
        from twilio.rest import Client

        self.client = Client(account_sid, auth_token)
        if api_base:  # a Twilio-protocol endpoint: tests, or a self-hosted gateway
            self.client.api.base_url = api_base.rstrip("/")
        self.from_number = from_number

    def send(self, to: str, body: str) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        if not is_e164(to):
            raise SMSError(f"{to!r} is not an E.164 phone number", permanent=True)
        try:
            message = self.client.messages.create(to=to, from_=self.from_number, body=body)
        except TwilioRestException as exc:
            # 4xx from Twilio (bad number, unsubscribed) will fail the same way again; 429/5xx may not.
            permanent = 400 <= exc.status < 500 and exc.status != 429
            raise SMSError(f"Twilio {exc.status}: {exc.msg}", permanent=permanent) from exc
        except (TwilioException, OSError) as exc:
            raise SMSError(f"Twilio unreachable: {exc}") from exc
        return message.sid


class ConsoleSMS:
    """Prints each message to the log and keeps the last ones in memory: the embedded default."""

    name = "console"

    def __init__(self):
        self.outbox: deque[tuple[str, str]] = deque(maxlen=200)

    def send(self, to: str, body: str) -> str:
        if not is_e164(to):
            raise SMSError(f"{to!r} is not an E.164 phone number", permanent=True)
        self.outbox.append((to, body))
        log.warning("sms (console) to %s: %s", to, body)
        return f"console-{len(self.outbox)}"


def init_app(app: Flask) -> None:
    """Pick the SMS adapter from config."""
    c = app.config
    if c.get("TWILIO_ACCOUNT_SID"):
        adapter = TwilioSMS(c["TWILIO_ACCOUNT_SID"], c["TWILIO_AUTH_TOKEN"], c["TWILIO_FROM_NUMBER"], c.get("TWILIO_API_BASE"))
    else:
        adapter = ConsoleSMS()
    app.extensions["sms"] = adapter


def send_sms(to: str, body: str) -> str:
    """Send one SMS now; returns the provider's message id. Raises SMSError."""
    return current_app.extensions["sms"].send(to, body)
