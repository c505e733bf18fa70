"""The SMS port: TwilioSMS through the real `twilio` SDK, against a server that speaks Twilio's Messages
API on loopback (tests/infra/twilio_server.py)."""

from __future__ import annotations

import pytest

from portal.infra.sms import ConsoleSMS, SMSError, TwilioSMS, is_e164, send_sms
from tests.conftest import free_port
from tests.infra.twilio_server import TwilioServer

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789"
FROM = "+15005550006"


@pytest.fixture
def twilio():
    with TwilioServer(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def sms(twilio) -> TwilioSMS:
    return TwilioSMS(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base=twilio.base_url)


def test_message_reaches_the_twilio_endpoint_with_from_to_body_and_auth(twilio, sms):
    sid = sms.send("+14155550123", "Your code is 482913")
    [request] = twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.form == {"To": "+14155550123", "From": FROM, "Body": "Your code is 482913"}
    [message] = twilio.messages
    assert sid == message["sid"]
    assert sid.startswith("SM") and len(sid) == 34
    assert message["status"] == "queued"
    assert (message["To"], message["From"], message["Body"]) == ("+14155550123", FROM, "Your code is 482913")


def test_unicode_body_arrives_intact(twilio, sms):
    sms.send("+447700900123", "Rendez-vous à 14h ✅ — merci")
    assert twilio.messages[0]["body"] == "Rendez-vous à 14h ✅ — merci"


@pytest.mark.parametrize("number", ["4155550123", "+0123456789", "+1 415 555 0123", "", "+1415555012345678", "tel:+14155550123"])
def test_non_e164_number_is_refused_before_any_request(twilio, sms, number):
    with pytest.raises(SMSError) as refused:
        sms.send(number, "hello")
    assert refused.value.permanent is True
    assert twilio.requests == []


def test_number_twilio_calls_invalid_is_a_permanent_failure(twilio, sms):
    with pytest.raises(SMSError) as failed:
        sms.send("+15005550001", "hello")  # Twilio's magic "invalid number"
    assert failed.value.permanent is True
    assert "21211" in str(failed.value)
    assert "is not a valid phone number" in str(failed.value)
    assert twilio.messages == []


def test_number_that_cannot_take_sms_is_a_permanent_failure(twilio, sms):
    with pytest.raises(SMSError) as failed:
        sms.send("+15005550009", "hello")  # Twilio's magic "not a mobile number"
    assert failed.value.permanent is True
    assert "21614" in str(failed.value)


def test_twilio_unavailable_is_worth_a_retry(twilio, sms):
    twilio.unavailable = True
    with pytest.raises(SMSError) as failed:
        sms.send("+14155550123", "hello")
    assert failed.value.permanent is False
    assert len(twilio.requests) == 1  # it was asked, and said 503
    twilio.unavailable = False
    assert sms.send("+14155550123", "hello").startswith("SM")  # the retry goes through


def test_wrong_auth_token_is_a_permanent_failure(twilio):
    sms = TwilioSMS(ACCOUNT_SID, "not-the-token", FROM, api_base=twilio.base_url)
    with pytest.raises(SMSError) as failed:
        sms.send("+14155550123", "hello")
    assert failed.value.permanent is True
    assert "401" in str(failed.value)
    assert twilio.messages == []


def test_endpoint_down_is_worth_a_retry():
    sms = TwilioSMS(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(SMSError) as failed:
        sms.send("+14155550123", "hello")
    assert failed.value.permanent is False


def test_hung_endpoint_times_out_and_is_worth_a_retry(twilio):
    sms = TwilioSMS(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base=twilio.base_url, timeout=0.5)
    twilio.stalled = True
    try:
        with pytest.raises(SMSError) as failed:
            sms.send("+14155550123", "hello")
    finally:
        twilio.release()
    assert failed.value.permanent is False
    assert len(twilio.requests) == 1 and twilio.messages == []


def test_twilio_region_settings_do_not_redirect_a_custom_endpoint(twilio, monkeypatch):
    """TWILIO_REGION / TWILIO_EDGE rewrite api.twilio.com into a regional host; a custom base must stay put."""
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    sms = TwilioSMS(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base=twilio.base_url)
    assert sms.send("+14155550123", "hello").startswith("SM")
    assert len(twilio.messages) == 1


def test_app_sends_through_twilio_when_configured(twilio, make_app):
    app = make_app(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM_NUMBER=FROM,
        TWILIO_API_BASE=twilio.base_url + "/",
    )
    with app.app_context():
        sid = send_sms("+14155550123", "From the app")
    [message] = twilio.messages
    assert message["sid"] == sid
    assert message["from"] == FROM
    assert message["body"] == "From the app"


def test_console_sms_keeps_messages_and_refuses_bad_numbers(make_app):
    app = make_app()
    with app.app_context():
        assert isinstance(app.extensions["sms"], ConsoleSMS)
        send_sms("+14155550123", "first")
        send_sms("+447700900123", "second")
        with pytest.raises(SMSError) as refused:
            send_sms("0123", "bad")
    assert refused.value.permanent is True
    assert list(app.extensions["sms"].outbox) == [("+14155550123", "first"), ("+447700900123", "second")]


def test_e164_rule():
    assert is_e164("+14155550123")
    assert is_e164("+447700900123")
    assert not is_e164("14155550123")
    assert not is_e164("+123456")  # shorter than any country's numbers
    assert not is_e164(None)
