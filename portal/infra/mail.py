"""Outgoing email: SMTP (`SMTP_URL`) in production, the console in the embedded default."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections import deque
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlparse

from flask import Flask, current_app

log = logging.getLogger(__name__)


class MailError(Exception):
    """A send that failed; `permanent` says whether retrying can help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass
class Email:
    to: list[str]
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def build_message(email: Email, sender: str) -> EmailMessage:
    """A multipart text + HTML message with a fresh Message-ID."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(email.to)
    msg["Subject"] = email.subject
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip(">") or "vetrai.local")
    for name, value in email.headers.items():
        msg[name] = value
    msg.set_content(email.text)
    if email.html:
        msg.add_alternative(email.html, subtype="html")
    return msg


class SMTPMailer:
    """Sends over SMTP: smtp://user:pass@host:port (STARTTLS when offered, ?starttls=no to skip), smtps:// for TLS."""

    name = "smtp"

    def __init__(self, url: str, sender: str, timeout: float = 10.0):
        parts = urlparse(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = parse_qs(parts.query).get("starttls", ["auto"])[0]
        self.sender = sender
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        if self.tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        smtp.ehlo()
        if self.starttls != "no" and smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        return smtp

    def send(self, email: Email) -> str:
        msg = build_message(email, self.sender)
        try:
            with self._connect() as smtp:
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailError(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx replies are final (bad address, policy); 4xx are worth a retry.
            raise MailError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"SMTP server unreachable: {exc}") from exc
        return msg["Message-ID"]

    def ping(self) -> bool:
        with self._connect() as smtp:
            return smtp.noop()[0] == 250


class ConsoleMailer:
    """Prints each message to the log and keeps the last ones in memory: the embedded default."""

    name = "console"

    def __init__(self, sender: str):
        self.sender = sender
        self.outbox: deque[EmailMessage] = deque(maxlen=200)

    def send(self, email: Email) -> str:
        msg = build_message(email, self.sender)
        self.outbox.append(msg)
        log.warning("email (console) to %s: %s\n%s", msg["To"], msg["Subject"], email.text)
        return msg["Message-ID"]

    def ping(self) -> bool:
        return True


def init_app(app: Flask) -> None:
    """Pick the mail adapter from config."""
    sender = app.config["MAIL_FROM"]
    url = app.config.get("SMTP_URL")
    app.extensions["mailer"] = SMTPMailer(url, sender) if url else ConsoleMailer(sender)


def mailer() -> SMTPMailer | ConsoleMailer:
    """The current app's mail adapter."""
    return current_app.extensions["mailer"]


def send_mail(to: list[str] | str, subject: str, text: str, html: str | None = None, headers: dict | None = None) -> str:
    """Send one message now; returns its Message-ID. Raises MailError."""
    recipients = [to] if isinstance(to, str) else list(to)
    return mailer().send(Email(recipients, subject, text, html, headers or {}))
