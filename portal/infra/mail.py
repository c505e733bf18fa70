"""Outgoing email: SMTP (`SMTP_URL`) in production, the console in the embedded default."""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, getaddresses, make_msgid, parseaddr
from typing import Protocol
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


# Messages are built with the compat32 MIME classes rather than EmailMessage: its header registry parses
# and re-folds every header, which made building a message 4-5x slower (bench/notify_bench.py).
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in the raw message, and what spam filters expect of text
_WIRE = policy.compat32.clone(linesep="\r\n")  # sendmail() sends bytes as they are: SMTP wants CRLF


def _safe(value: str) -> str:
    """A header value as given; a CR or LF would start a new header, so it is refused."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"CR or LF in header value {value[:60]!r}")
    return value


def _header(value: str) -> str | Header:
    value = _safe(value)
    return value if value.isascii() else Header(value, "utf-8")


def _address(value: str) -> str:
    """An address header with a non-ASCII display name encoded, the address itself left as it is."""
    value = _safe(value)
    if value.isascii():
        return value
    return ", ".join(formataddr(pair, charset="utf-8") for pair in getaddresses([value]))


def build_message(email: Email, sender: str) -> Message:
    """A multipart text + HTML message with a fresh Message-ID; ValueError for a CR or LF in a header."""
    text = MIMEText(email.text, "plain", _UTF8_QP)
    if email.html:
        # A random boundary: the generator would otherwise scan both bodies for a collision-free one.
        msg = MIMEMultipart("alternative", boundary=f"=_{secrets.token_hex(16)}")
        msg.attach(text)
        msg.attach(MIMEText(email.html, "html", _UTF8_QP))
    else:
        msg = text
    msg["From"] = _address(sender)
    msg["To"] = _address(", ".join(email.to))
    msg["Subject"] = _header(email.subject)
    msg["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "vetrai.local")
    for name, value in email.headers.items():
        msg[_safe(name)] = _header(value)
    return msg


class SMTPMailer:
    """Sends over SMTP: smtp://user:pass@host:port, or smtps:// for TLS from the first byte.

    On smtp://, `?starttls=` chooses: `auto` (the default) upgrades when the server offers STARTTLS and
    refuses to send a password in clear when it does not; `yes` requires STARTTLS; `no` never uses it
    (a relay on a private network). Certificates are verified against the system's CA store
    (SSL_CERT_FILE / SSL_CERT_DIR point it elsewhere).
    """

    name = "smtp"
    STARTTLS_MODES = ("auto", "yes", "no")

    def __init__(self, url: str, sender: str, timeout: float = 10.0):
        parts = urlparse(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = parse_qs(parts.query).get("starttls", ["auto"])[0].lower()
        if self.starttls not in self.STARTTLS_MODES:
            raise ValueError(f"SMTP_URL ?starttls= must be one of {', '.join(self.STARTTLS_MODES)}, not {self.starttls!r}")
        self.sender = sender
        self.envelope_from = parseaddr(sender)[1]
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        if self.tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            offered = smtp.has_extn("starttls")
            if self.starttls == "yes" and not offered:
                raise MailError(f"{self.host}:{self.port} does not offer STARTTLS (SMTP_URL has ?starttls=yes)", permanent=True)
            if self.starttls == "auto" and self.username and not offered:
                raise MailError(
                    f"{self.host}:{self.port} does not offer STARTTLS: refusing to send the SMTP password in clear "
                    "(use smtps://, or add ?starttls=no for a trusted network)",
                    permanent=True,
                )
            if self.starttls != "no" and offered:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, email: Email) -> str:
        """Send one message on its own connection; returns its Message-ID. Raises MailError."""
        with self.connection() as send:
            return send(email)

    @contextmanager
    def connection(self) -> Iterator[Callable[[Email], str]]:
        """Yield a send(email) function that reuses one SMTP session for many messages (batches),
        reconnecting after a connection-level failure."""
        session = _SMTPSession(self)
        try:
            yield session.send
        finally:
            session.close()

    def ping(self) -> bool:
        with self._connect() as smtp:
            return smtp.noop()[0] == 250


class _SMTPSession:
    """One SMTP connection, opened on the first message and shared by the next ones."""

    def __init__(self, mailer: SMTPMailer):
        self.mailer = mailer
        self.smtp: smtplib.SMTP | None = None

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
            self.smtp = None

    def send(self, email: Email) -> str:
        m = self.mailer
        try:
            msg = build_message(email, m.sender)
        except ValueError as exc:  # a CR or LF in a header: refuse rather than let it add headers
            raise MailError(f"bad message header: {exc}", permanent=True) from exc
        try:
            if self.smtp is None:
                self.smtp = m._connect()
                if m.username:
                    self.smtp.login(m.username, m.password or "")
            refused = self.smtp.sendmail(m.envelope_from, email.to, msg.as_bytes(policy=_WIRE))
        except smtplib.SMTPRecipientsRefused as exc:
            # Every recipient refused: final only if every refusal is a 5xx (a 4xx is "try later").
            codes = [code for code, _ in exc.recipients.values()]
            raise MailError(f"recipient refused: {exc.recipients}", permanent=all(c >= 500 for c in codes)) from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code in (421, 451) or not isinstance(exc, smtplib.SMTPDataError):
                self.close()  # the server may have dropped us; the next message reconnects
            # 5xx replies are final (bad address, policy, credentials); 4xx are worth a retry.
            raise MailError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from exc
        except smtplib.SMTPNotSupportedError as exc:  # e.g. SMTP_URL has a password, the server has no AUTH
            self.close()
            raise MailError(f"{m.host}:{m.port}: {exc}", permanent=True) from exc
        except ssl.SSLError as exc:
            self.close()
            raise MailError(f"TLS with {m.host}:{m.port} failed: {exc}") from exc
        except MailError:
            self.close()
            raise
        except (OSError, smtplib.SMTPException) as exc:
            self.smtp = None
            raise MailError(f"SMTP server {m.host}:{m.port} unreachable: {exc}") from exc
        if refused:  # some recipients accepted it: not an error to retry (that would send it twice)
            log.warning("email %s refused for %s", msg["Message-ID"], refused)
        return msg["Message-ID"]


class ConsoleMailer:
    """Prints each message to the log and keeps the last ones in memory: the embedded default."""

    name = "console"

    def __init__(self, sender: str):
        self.sender = sender
        self.outbox: deque[EmailMessage] = deque(maxlen=200)  # parsed back, as a receiver sees them

    def send(self, email: Email) -> str:
        try:
            msg = build_message(email, self.sender)
        except ValueError as exc:  # the same refusal as SMTP, so development shows what production does
            raise MailError(f"bad message header: {exc}", permanent=True) from exc
        self.outbox.append(message_from_bytes(msg.as_bytes(), policy=policy.default))
        log.warning("email (console) to %s: %s\n%s", msg["To"], msg["Subject"], email.text)
        return msg["Message-ID"]

    @contextmanager
    def connection(self) -> Iterator[Callable[[Email], str]]:
        yield self.send

    def ping(self) -> bool:
        return True


def init_app(app: Flask) -> None:
    """Pick the mail adapter from config."""
    sender = app.config["MAIL_FROM"]
    url = app.config.get("SMTP_URL")
    app.extensions["mailer"] = SMTPMailer(url, sender) if url else ConsoleMailer(sender)


class Mailer(Protocol):
    """What callers may ask of the mail port, whichever adapter it is."""

    name: str

    def send(self, email: Email) -> str: ...
    def connection(self) -> AbstractContextManager[Callable[[Email], str]]: ...
    def ping(self) -> bool: ...


def mailer() -> Mailer:
    """The current app's mail adapter."""
    return current_app.extensions["mailer"]


def send_mail(to: list[str] | str, subject: str, text: str, html: str | None = None, headers: dict | None = None) -> str:
    """Send one message now; returns its Message-ID. Raises MailError."""
    recipients = [to] if isinstance(to, str) else list(to)
    return mailer().send(Email(recipients, subject, text, html, headers or {}))
