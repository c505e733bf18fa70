"""The mail port against real SMTP servers (aiosmtpd) on loopback: plain, with AUTH, with STARTTLS and
implicit TLS (a self-signed certificate made here), and servers that refuse with 4xx and 5xx replies."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from contextlib import contextmanager
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from portal.infra.mail import ConsoleMailer, Email, MailError, SMTPMailer, send_mail
from tests.conftest import free_port

SENDER = "VetrAI Portal <no-reply@vetrai.test>"

# aiosmtpd warns when a test server takes AUTH without TLS; those tests do it on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Server:
    """Collects what an SMTP server was told; refuses recipients and data as told to."""

    def __init__(
        self,
        refuse_rcpt: dict[str, str] | None = None,
        refuse_data: str | None = None,
        refuse_subjects: dict[str, str] | None = None,
    ):
        self.refuse_rcpt = refuse_rcpt or {}
        self.refuse_data = refuse_data
        self.refuse_subjects = refuse_subjects or {}  # subject -> reply to its DATA
        self.messages = []
        self.logins: list[tuple[str, str]] = []
        self.tls_sessions = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        if self.refuse_data:
            return self.refuse_data
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        if msg["Subject"] in self.refuse_subjects:
            return self.refuse_subjects[msg["Subject"]]
        msg.session = id(session)
        msg.envelope_from = envelope.mail_from
        msg.envelope_rcpt = list(envelope.rcpt_tos)
        msg.over_tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        msg.login = session.login_data
        self.messages.append(msg)
        return "250 OK"

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        ok = (login, password) == ("portal", "s3cret pass")
        return AuthResult(success=ok, handled=False, auth_data=auth_data)  # handled=False: aiosmtpd replies 535


@contextmanager
def smtp(handler: Server, **kwargs):
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def url(controller, userinfo: str = "", query: str = "", scheme: str = "smtp") -> str:
    return f"{scheme}://{userinfo}{controller.hostname}:{controller.port}{query}"


def body_of(msg, subtype: str) -> str:
    return msg.get_body(preferencelist=(subtype,)).get_content()


# ---------------------------------------------------------------- delivery


def test_multipart_message_arrives_with_its_headers():
    box = Server()
    with smtp(box) as server:
        mailer = SMTPMailer(url(server), SENDER)
        message_id = mailer.send(
            Email(
                to=["ada@example.test"],
                subject="Your invoice is ready",
                text="Hello Ada, your invoice is attached.",
                html="<p>Hello <b>Ada</b>, your invoice is attached.</p>",
                headers={"List-Unsubscribe": "<https://portal.test/unsubscribe/abc>", "X-Org": "org_123"},
            )
        )
    [msg] = box.messages
    assert msg.envelope_rcpt == ["ada@example.test"]
    assert msg.envelope_from == "no-reply@vetrai.test"
    assert msg["From"] == SENDER
    assert msg["Subject"] == "Your invoice is ready"
    assert msg["Message-ID"] == message_id
    assert msg["List-Unsubscribe"] == "<https://portal.test/unsubscribe/abc>"
    assert msg["X-Org"] == "org_123"
    assert msg.get_content_type() == "multipart/alternative"
    assert body_of(msg, "plain").strip() == "Hello Ada, your invoice is attached."
    assert body_of(msg, "html").strip() == "<p>Hello <b>Ada</b>, your invoice is attached.</p>"
    assert message_id.endswith("@vetrai.test>")


def test_a_long_message_arrives_whole():
    # Over 1,000 bytes in all: SMTP servers refuse lines that long, so line ends on the wire must be CRLF.
    paragraph = "The nightly import failed at step 3 of 5. " * 60
    box = Server()
    with smtp(box) as server:
        SMTPMailer(url(server), SENDER).send(Email(["ada@example.test"], "Long", paragraph, f"<p>{paragraph}</p>"))
    [msg] = box.messages
    assert body_of(msg, "plain").strip() == paragraph.strip()
    assert body_of(msg, "html").strip() == f"<p>{paragraph}</p>"


def test_non_ascii_names_subjects_and_bodies_arrive_intact():
    box = Server()
    with smtp(box) as server:
        SMTPMailer(url(server), "Café Zürich <no-reply@vetrai.test>").send(
            Email(["zoe@example.test"], "Ticket «Ünïcode» answered — 5 €", "Grüße, Zoë: ✓ done", "<p>Grüße ✓</p>")
        )
    [msg] = box.messages
    assert msg.envelope_from == "no-reply@vetrai.test"
    assert msg["From"] == "Café Zürich <no-reply@vetrai.test>"
    assert msg["Subject"] == "Ticket «Ünïcode» answered — 5 €"
    assert body_of(msg, "plain").strip() == "Grüße, Zoë: ✓ done"
    assert body_of(msg, "html").strip() == "<p>Grüße ✓</p>"


def test_text_only_message_is_a_single_part():
    box = Server()
    with smtp(box) as server:
        SMTPMailer(url(server), SENDER).send(Email(["bo@example.test"], "Hi", "Just text, ünïcödé."))
    [msg] = box.messages
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().strip() == "Just text, ünïcödé."


def test_each_message_gets_its_own_message_id():
    box = Server()
    with smtp(box) as server:
        mailer = SMTPMailer(url(server), SENDER)
        ids = {mailer.send(Email(["a@example.test"], "n", "n")) for _ in range(3)}
    assert len(ids) == 3
    assert {m["Message-ID"] for m in box.messages} == ids


def test_send_mail_uses_the_apps_mailer(make_app):
    box = Server()
    with smtp(box) as server:
        app = make_app(SMTP_URL=url(server))
        with app.app_context():
            message_id = send_mail("cy@example.test", "Welcome", "Welcome aboard", headers={"X-Tag": "welcome"})
    [msg] = box.messages
    assert msg["Message-ID"] == message_id
    assert msg["From"] == "VetrAI Test <no-reply@vetrai.test>"
    assert msg["X-Tag"] == "welcome"


def test_header_injection_is_refused_and_nothing_is_sent():
    box = Server()
    with smtp(box) as server:
        mailer = SMTPMailer(url(server), SENDER)
        with pytest.raises(MailError) as refused:
            mailer.send(Email(["ada@example.test"], "Hi\r\nBcc: mallory@evil.test", "body"))
    assert refused.value.permanent is True
    assert box.messages == []


def test_one_refused_recipient_does_not_stop_the_others():
    box = Server(refuse_rcpt={"gone@example.test": "550 5.1.1 No such user"})
    with smtp(box) as server:
        message_id = SMTPMailer(url(server), SENDER).send(Email(["gone@example.test", "ok@example.test"], "Hi", "x"))
    [msg] = box.messages
    assert msg.envelope_rcpt == ["ok@example.test"]
    assert msg["Message-ID"] == message_id


def test_a_batch_shares_one_smtp_session():
    box = Server()
    with smtp(box) as server:
        with SMTPMailer(url(server), SENDER).connection() as send:
            ids = [send(Email([f"user{i}@example.test"], f"Digest {i}", "t")) for i in range(3)]
    assert [m["Message-ID"] for m in box.messages] == ids
    assert len({m.session for m in box.messages}) == 1


def test_a_batch_goes_on_after_a_message_is_deferred():
    box = Server(refuse_subjects={"Digest 1": "451 4.7.1 Greylisted, come back later"})
    with smtp(box) as server:
        with SMTPMailer(url(server), SENDER).connection() as send:
            send(Email(["a@example.test"], "Digest 0", "t"))
            with pytest.raises(MailError) as deferred:
                send(Email(["b@example.test"], "Digest 1", "t"))
            send(Email(["c@example.test"], "Digest 2", "t"))
    assert deferred.value.permanent is False
    assert [m["Subject"] for m in box.messages] == ["Digest 0", "Digest 2"]


def test_console_mailer_refuses_header_injection_like_smtp(make_app):
    app = make_app()
    with app.app_context(), pytest.raises(MailError) as refused:
        send_mail("a@example.test", "Hi\nBcc: mallory@evil.test", "body")
    assert refused.value.permanent is True
    assert list(app.extensions["mailer"].outbox) == []


# ---------------------------------------------------------------- failures: permanent or worth a retry


def test_server_down_is_a_temporary_failure():
    with pytest.raises(MailError) as failed:
        SMTPMailer(f"smtp://127.0.0.1:{free_port()}", SENDER).send(Email(["a@example.test"], "s", "t"))
    assert failed.value.permanent is False


def test_recipient_refused_with_550_is_permanent():
    box = Server(refuse_rcpt={"nobody@example.test": "550 5.1.1 No such user here"})
    with smtp(box) as server:
        with pytest.raises(MailError) as failed:
            SMTPMailer(url(server), SENDER).send(Email(["nobody@example.test"], "s", "t"))
    assert failed.value.permanent is True
    assert "nobody@example.test" in str(failed.value)
    assert box.messages == []


def test_recipient_refused_with_451_is_worth_a_retry():
    box = Server(refuse_rcpt={"busy@example.test": "451 4.3.0 Mailbox temporarily unavailable, try later"})
    with smtp(box) as server:
        with pytest.raises(MailError) as failed:
            SMTPMailer(url(server), SENDER).send(Email(["busy@example.test"], "s", "t"))
    assert failed.value.permanent is False
    assert box.messages == []


def test_data_refused_with_451_is_worth_a_retry():
    box = Server(refuse_data="451 4.7.1 Greylisted, come back later")
    with smtp(box) as server:
        with pytest.raises(MailError) as failed:
            SMTPMailer(url(server), SENDER).send(Email(["a@example.test"], "s", "t"))
    assert failed.value.permanent is False


def test_data_refused_with_554_is_permanent():
    box = Server(refuse_data="554 5.7.1 Message rejected as spam")
    with smtp(box) as server:
        with pytest.raises(MailError) as failed:
            SMTPMailer(url(server), SENDER).send(Email(["a@example.test"], "s", "t"))
    assert failed.value.permanent is True


# ---------------------------------------------------------------- AUTH


def test_login_with_the_urls_credentials():
    box = Server()
    with smtp(box, authenticator=box.authenticator, auth_required=True, auth_require_tls=False) as server:
        # The password has a space: URL-encoded in SMTP_URL, decoded before AUTH.
        mailer = SMTPMailer(url(server, "portal:s3cret%20pass@", "?starttls=no"), SENDER)
        mailer.send(Email(["a@example.test"], "Authenticated", "t"))
    assert box.logins == [("portal", "s3cret pass")]
    [msg] = box.messages
    assert msg["Subject"] == "Authenticated"


def test_wrong_password_is_permanent_and_nothing_is_sent():
    box = Server()
    with smtp(box, authenticator=box.authenticator, auth_required=True, auth_require_tls=False) as server:
        with pytest.raises(MailError) as failed:
            SMTPMailer(url(server, "portal:wrong@", "?starttls=no"), SENDER).send(Email(["a@example.test"], "s", "t"))
    assert failed.value.permanent is True
    assert box.messages == []


def test_server_requiring_auth_refuses_a_mailer_without_credentials():
    box = Server()
    with smtp(box, authenticator=box.authenticator, auth_required=True, auth_require_tls=False) as server:
        with pytest.raises(MailError) as failed:
            SMTPMailer(url(server), SENDER).send(Email(["a@example.test"], "s", "t"))
    assert failed.value.permanent is True
    assert box.messages == []


def test_password_is_not_sent_in_clear_to_a_server_without_starttls():
    """By default a mailer with credentials refuses a server that offers no STARTTLS, before AUTH."""
    box = Server()
    with smtp(box, authenticator=box.authenticator, auth_required=True, auth_require_tls=False) as server:
        with pytest.raises(MailError) as failed:
            SMTPMailer(url(server, "portal:s3cret%20pass@"), SENDER).send(Email(["a@example.test"], "s", "t"))
    assert failed.value.permanent is True
    assert "STARTTLS" in str(failed.value)
    assert box.logins == []
    assert box.messages == []


def test_bad_starttls_setting_is_refused_at_start_up():
    with pytest.raises(ValueError, match="starttls"):
        SMTPMailer("smtp://127.0.0.1:25?starttls=maybe", SENDER)


def test_wrong_scheme_is_refused_at_start_up():
    with pytest.raises(ValueError, match="smtp://"):
        SMTPMailer("http://127.0.0.1:25", SENDER)


# ---------------------------------------------------------------- TLS with a self-signed certificate


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, and the server's TLS context."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vetrai test smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return cert_file, context


@pytest.fixture
def trust(monkeypatch, certificate):
    """Make the test certificate the one CA this process trusts (as SSL_CERT_FILE does in production)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def starttls_server(box: Server, context: ssl.SSLContext):
    # The server refuses MAIL before STARTTLS and offers AUTH only over TLS: mail arriving proves both.
    return smtp(
        box,
        tls_context=context,
        require_starttls=True,
        authenticator=box.authenticator,
        auth_required=True,
        auth_require_tls=True,
    )


def test_starttls_upgrades_before_login(certificate, trust):
    box = Server()
    with starttls_server(box, certificate[1]) as server:
        SMTPMailer(url(server, "portal:s3cret%20pass@"), SENDER).send(Email(["a@example.test"], "Over TLS", "t"))
    [msg] = box.messages
    assert msg.over_tls is True
    assert box.logins == [("portal", "s3cret pass")]


def test_starttls_with_an_untrusted_certificate_fails_without_sending(certificate):
    """Without the test CA trusted, the certificate does not verify: nothing is sent, no password leaks."""
    box = Server()
    with starttls_server(box, certificate[1]) as server:
        with pytest.raises(MailError) as failed:
            SMTPMailer(url(server, "portal:s3cret%20pass@"), SENDER).send(Email(["a@example.test"], "s", "t"))
    assert failed.value.permanent is False
    assert box.logins == []
    assert box.messages == []


def test_starttls_yes_refuses_a_server_without_it():
    box = Server()
    with smtp(box) as server:
        with pytest.raises(MailError) as failed:
            SMTPMailer(url(server, query="?starttls=yes"), SENDER).send(Email(["a@example.test"], "s", "t"))
    assert failed.value.permanent is True
    assert box.messages == []


def test_smtps_sends_over_tls_from_the_first_byte(certificate, trust):
    box = Server()
    with smtp(box, ssl_context=certificate[1]) as server:
        SMTPMailer(url(server, scheme="smtps"), SENDER).send(Email(["a@example.test"], "Implicit TLS", "t"))
    [msg] = box.messages
    assert msg.over_tls is True
    assert msg["Subject"] == "Implicit TLS"


# ---------------------------------------------------------------- console


def test_console_mailer_keeps_messages_in_its_outbox(make_app):
    app = make_app()
    with app.app_context():
        assert isinstance(app.extensions["mailer"], ConsoleMailer)
        message_id = send_mail(["dee@example.test"], "Console", "text body", "<p>html</p>", {"X-Tag": "c"})
    [msg] = app.extensions["mailer"].outbox
    assert msg["Message-ID"] == message_id
    assert msg["To"] == "dee@example.test"
    assert msg["X-Tag"] == "c"
    assert body_of(msg, "plain").strip() == "text body"
    assert body_of(msg, "html").strip() == "<p>html</p>"
