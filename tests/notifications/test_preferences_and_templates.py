from sqlalchemy import select

from portal.extensions import db
from portal.models import utcnow
from portal.notifications import service
from portal.notifications.models import NotificationProfile, NotificationSetting, NotificationTemplate
from tests.factories import OrgFactory, member


def _notify(org, people, event, data, **kwargs):
    """notify() as a caller's committed change: its deliveries go out once the unit of work commits."""
    notes = service.notify(org, people, event, data, **kwargs)
    db.session.commit()
    return notes


def test_member_saves_the_matrix_and_critical_events_stay_on(client, login_as):
    org = OrgFactory()
    alice = member(org)
    login_as(alice)
    page = client.get(f"/o/{org.slug}/notifications/preferences")
    assert "workflow.failed" in page.text and "always on" in page.text
    # Untick everything: submit no checkbox at all.
    assert client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "matrix"}).status_code == 303
    rows = {r["event"]: r["channels"] for r in service.preference_matrix(org, alice)}
    assert rows["workflow.failed"] == {"in_app": False, "email": False, "sms": False}
    assert rows["member.invited"]["email"] is True and rows["key.expiring"]["in_app"] is True


def test_quiet_hours_are_validated(client, login_as):
    org = OrgFactory()
    login_as(member(org))
    half = client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "matrix", "quiet_start": "22:00", "quiet_end": ""})
    assert half.status_code == 422 and "Set both ends of the quiet hours" in half.text
    junk = client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "matrix", "quiet_start": "25:99", "quiet_end": "07:00"})
    assert junk.status_code == 422 and "Use HH:MM" in junk.text
    ok = client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "matrix", "quiet_start": "22:00", "quiet_end": "07:00"})
    assert ok.status_code == 303


def test_org_admin_sets_org_defaults_but_a_plain_user_cannot(client, login_as):
    org = OrgFactory()
    login_as(member(org, "user"))
    assert client.get(f"/o/{org.slug}/notifications/settings").status_code == 403
    login_as(member(org, "org_admin"))
    client.post(f"/o/{org.slug}/notifications/settings", data={"workflow.failed|in_app": "on"})
    row = db.session.scalar(select(NotificationSetting).filter_by(org_id=org.id, user_id=None, event="workflow.failed", channel="email"))
    assert row is not None and row.enabled is False


def test_template_override_with_live_preview_and_reset(client, login_as, mailbox):
    org = OrgFactory(name="Brandy")
    alice = member(org, email="alice@example.test")
    login_as(member(org, "org_admin"))
    url = f"/o/{org.slug}/notifications/templates/workflow.failed/email"
    preview = client.post(url + "/preview", data={"subject": "Oops: {{ workflow_name }}", "body": "Hi {{ recipient_name }}, {{ error }}"})
    assert "Oops: Summarize leads" in preview.text and "Hi Sam Sample, LLM endpoint timed out" in preview.text
    saved = client.post(url, data={"subject": "Oops: {{ workflow_name }}", "body": "Hi {{ recipient_name }}, {{ error }}"})
    assert saved.status_code == 303
    _notify(org, [alice], "workflow.failed", {"workflow_name": "Leads", "run_id": "r", "error": "boom"})
    mail = mailbox.wait_for("alice@example.test")[0]
    assert mail["Subject"] == "Oops: Leads" and f"Hi {alice.name}, boom" in mailbox.text_of(mail)
    client.post(url + "/reset")
    assert db.session.scalar(select(NotificationTemplate)) is None
    # Back to the built-in template: the editor shows it and the next email uses it.
    assert "customized" not in client.get(url).text.split("</h1>")[0]
    mailbox.clear()
    _notify(org, [alice], "workflow.failed", {"workflow_name": "Leads", "run_id": "r2", "error": "boom"})
    again = mailbox.wait_for("alice@example.test")[0]
    assert again["Subject"] == "Leads failed" and "The Leads run failed: boom" in mailbox.text_of(again)


def test_template_with_unknown_variable_or_syntax_error_is_refused(client, login_as):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    url = f"/o/{org.slug}/notifications/templates/workflow.failed/email"
    unknown = client.post(url, data={"subject": "x", "body": "{{ password }}"})
    assert unknown.status_code == 422 and "Unknown variable(s): password" in unknown.text
    syntax = client.post(url, data={"subject": "{% if %}", "body": "ok"})
    assert syntax.status_code == 422 and "Syntax error on line 1" in syntax.text
    assert db.session.scalar(select(NotificationTemplate)) is None


def test_template_cannot_reach_python_internals(client, login_as):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    url = f"/o/{org.slug}/notifications/templates/message/email"
    for attack in [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ title.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ]:
        response = client.post(url, data={"subject": "s", "body": attack})
        assert response.status_code == 422, attack
        assert "<class" not in response.text and "subclasses" not in response.text.split("textarea")[-1]
    assert db.session.scalar(select(NotificationTemplate)) is None
    preview = client.post(url + "/preview", data={"subject": "s", "body": "{{ ''.__class__ }}"})
    assert "sandbox refused it" in preview.text and "&lt;class" not in preview.text


def test_unsubscribe_link_opens_preferences_without_login_and_one_click_mutes(app, mailbox):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    _notify(org, [alice], "workflow.failed", {"workflow_name": "W", "run_id": "r", "error": "e"})
    mail = mailbox.wait_for("alice@example.test")[0]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail["List-Unsubscribe"].strip("<>")
    path = "/" + link.split("/", 3)[3]
    anonymous = app.test_client()
    page = anonymous.get(path)
    assert page.status_code == 200 and "alice@example.test" in page.text and "workflow.failed" in page.text
    assert path in mailbox.text_of(mail).replace("http://portal.test", "")  # the footer carries it too
    assert f'href="{link.strip().strip("<>")}"' in mail.get_body(preferencelist=("html",)).get_content()  # in both parts
    one_click = anonymous.post(path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    rows = {r["event"]: r["channels"] for r in service.preference_matrix(org, alice)}
    assert rows["workflow.failed"]["email"] is False and rows["workflow.failed"]["in_app"] is True
    assert anonymous.get(path[:-4] + "abcd").status_code == 400


def test_phone_verification_enables_sms(client, login_as, app, twilio):
    org = OrgFactory()
    alice = member(org)
    login_as(alice)
    bad = client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "phone", "phone": "0123 456"})
    assert bad.status_code == 422 and "international format" in bad.text
    client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "phone", "phone": "+14155550123"})
    sms = twilio.messages[-1]
    assert sms["To"] == "+14155550123"
    code = sms["Body"].split("code is ")[1][:6]
    wrong = client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "confirm", "code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 422 and "That code is not right." in wrong.text
    ok = client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "confirm", "code": code})
    assert ok.status_code == 303
    _notify(org, [alice], "message", {"title": "Ping", "body": "over SMS"}, channels=["sms"])
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(m["Body"] == "Ping: over SMS" for m in twilio.messages):
        time.sleep(0.05)
    assert any(m["Body"] == "Ping: over SMS" and m["To"] == "+14155550123" for m in twilio.messages)


def test_twilio_delivery_reports_mark_sms_delivered_when_signed(client, login_as, app, twilio, wait_for_jobs):
    import time

    from twilio.request_validator import RequestValidator

    from portal.notifications.models import Delivery

    org = OrgFactory()
    alice = member(org)
    profile = service.profile_for(alice)
    profile.phone, profile.phone_verified_at = "+14155550123", utcnow()
    db.session.commit()
    _notify(org, [alice], "message", {"title": "Ping", "body": "pong"}, channels=["sms"])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not twilio.messages:
        time.sleep(0.05)
    sent = twilio.messages[-1]
    assert sent["StatusCallback"] == "http://portal.test/webhooks/twilio/status"
    wait_for_jobs()
    report = {"MessageSid": sent["sid"], "MessageStatus": "delivered", "AccountSid": twilio.account_sid}
    forged = client.post("/webhooks/twilio/status", data=report, headers={"X-Twilio-Signature": "bm90LXNpZ25lZA=="})
    assert forged.status_code == 403
    db.session.expire_all()
    assert db.session.scalar(select(Delivery).filter_by(channel="sms")).status == "sent"
    signature = RequestValidator(twilio.auth_token).compute_signature(sent["StatusCallback"], report)
    ok = client.post("/webhooks/twilio/status", data=report, headers={"X-Twilio-Signature": signature})
    assert ok.status_code == 204
    db.session.expire_all()
    delivered = db.session.scalar(select(Delivery).filter_by(channel="sms"))
    assert delivered.status == "delivered" and delivered.delivered_at is not None


def test_org_defaults_cannot_mute_critical_events_for_members(client, login_as):
    org = OrgFactory()
    alice = member(org)
    login_as(member(org, "org_admin"))
    assert client.post(f"/o/{org.slug}/notifications/settings", data={}).status_code == 303  # every box unticked
    rows = {r["event"]: r["channels"] for r in service.preference_matrix(org, alice)}
    assert rows["workflow.failed"]["email"] is False
    assert rows["member.invited"]["email"] is True and rows["key.expiring"]["email"] is True


def test_unsubscribe_page_saves_that_users_matrix_without_login(app):
    org = OrgFactory()
    alice, bob = member(org, email="alice@example.test"), member(org, email="bob@example.test")
    path = f"/notifications/unsubscribe/{service.unsubscribe_token(org, alice, 'workflow.failed')}"
    anonymous = app.test_client()
    page = anonymous.get(path)
    assert 'name="workflow.failed|email"' in page.text
    saved = anonymous.post(path, data={"workflow.failed|in_app": "on", "ticket.replied|email": "on"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith(path)
    rows = {r["event"]: r["channels"] for r in service.preference_matrix(org, alice)}
    assert rows["workflow.failed"] == {"in_app": True, "email": False, "sms": False}
    assert rows["ticket.replied"]["email"] is True and rows["ticket.created"]["email"] is False
    # Only the link's owner changed; a forged token changes nothing.
    assert {r["event"]: r["channels"] for r in service.preference_matrix(org, bob)}["workflow.failed"]["email"] is True
    assert anonymous.post(path[:-4] + "abcd", data={}).status_code == 400


def test_templates_that_would_exhaust_memory_or_cpu_are_refused(client, login_as):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    url = f"/o/{org.slug}/notifications/templates/message/email"
    # Each of these passed the sandbox and either built a value of 100 MB or more on every render (and on
    # every keystroke of the live preview) or kept a web worker busy for hours.
    for attack in [
        "{{ 'x' * 10 ** 8 }}",
        "{{ title|center(100000000) }}",
        "{{ '%100000000s' % title }}",
        "{{ title.center(100000000) }}",
        "{{ 9 ** (9 ** 9) }}",
        "{% for a in range(100000) %}{% for b in range(100000) %}{{ a }}{% endfor %}{% endfor %}",
        "{% for a in body %}{% for b in body %}{% for c in body %}{% for d in body %}{{ a }}{% endfor %}{% endfor %}{% endfor %}{% endfor %}",
    ]:
        response = client.post(url, data={"subject": "s", "body": attack})
        assert response.status_code == 422, attack
        assert "notification templates" in response.text or "too large" in response.text, attack
        preview = client.post(url + "/preview", data={"subject": "s", "body": attack})
        assert 'role="alert"' in preview.text, attack
    assert db.session.scalar(select(NotificationTemplate)) is None
    # What templates are for still works: variables, conditions and filters.
    ok = client.post(url, data={"subject": "{{ title|upper|truncate(40) }}", "body": "{% if body %}{{ body|trim }}{% else %}-{% endif %} {{ org_name ~ '!' }}"})
    assert ok.status_code == 303
    assert "<code>|truncate</code>" in client.get(url).text  # the editor says what is available


def test_an_override_saved_before_the_rules_falls_back_to_the_default(app, mailbox):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    # Written straight to the table, as an override saved before loops were refused would be.
    db.session.add(NotificationTemplate(org_id=org.id, event="workflow.failed", channel="email", subject="Loop",
                                        body="{% for c in error %}[{{ c }}]{% endfor %}"))
    db.session.commit()
    _notify(org, [alice], "workflow.failed", {"workflow_name": "Leads", "run_id": "r", "error": "boom"})
    mail = mailbox.wait_for("alice@example.test")[0]
    assert mail["Subject"] == "Leads failed" and "[b]" not in mailbox.text_of(mail)


def _code_sent(client, org, twilio) -> tuple[str, str]:
    """Ask for a code to +14155550123: (the code texted, a wrong one)."""
    client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "phone", "phone": "+14155550123"})
    code = twilio.messages[-1]["Body"].split("code is ")[1][:6]
    return code, "000000" if code != "000000" else "111111"


def test_five_wrong_codes_end_the_phone_verification(client, login_as, twilio):
    org = OrgFactory()
    alice = member(org)
    login_as(alice)
    code, wrong = _code_sent(client, org, twilio)
    for _ in range(5):
        assert client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "confirm", "code": wrong}).status_code == 422
    # Guessing is over: even the right code is refused now, and SMS stays off.
    late = client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "confirm", "code": code})
    assert late.status_code == 422 and "expired" in late.text
    assert service.profile_for(alice).phone_verified_at is None


def test_a_refused_preferences_page_changes_nothing(client, login_as, row_counts):
    org = OrgFactory()
    alice = member(org)
    login_as(alice)
    client.get(f"/o/{org.slug}/notifications/preferences")  # the page makes the profile on first view
    before = row_counts()
    # A valid change (workflow.failed by email unticked; every other box as shown) with half a pair of quiet hours.
    shown = {f"{r['event']}|{c}": "on" for r in service.preference_matrix(org, alice) for c, on in r["channels"].items() if on}
    del shown["workflow.failed|email"]
    refused = client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "matrix", **shown, "quiet_start": "22:00", "quiet_end": ""})
    assert refused.status_code == 422 and "Set both ends of the quiet hours" in refused.text
    assert 'name="workflow.failed|email"' in refused.text and 'value="22:00"' in refused.text  # the person's input is shown again
    # Neither half was saved.
    assert row_counts() == before
    assert {r["event"]: r["channels"] for r in service.preference_matrix(org, alice)}["workflow.failed"]["email"] is True
    db.session.expire_all()
    profile = db.session.scalar(select(NotificationProfile).filter_by(user_id=alice.id))
    assert profile.quiet_start is None and profile.quiet_end is None
    assert db.session.scalar(select(NotificationSetting)) is None


def test_a_wrong_code_counts_as_an_attempt_although_it_is_refused(client, login_as, twilio):
    org = OrgFactory()
    alice = member(org)
    login_as(alice)
    _, wrong = _code_sent(client, org, twilio)
    assert client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "confirm", "code": wrong}).status_code == 422
    db.session.expire_all()
    profile = service.profile_for(alice)
    assert profile.code_attempts == 1 and profile.phone_verified_at is None and profile.pending_phone == "+14155550123"


def test_a_number_the_sms_provider_refuses_keeps_nothing(client, login_as, twilio, row_counts):
    org = OrgFactory()
    alice = member(org)
    login_as(alice)
    before = row_counts()
    # +15005550001 is Twilio's "invalid number" test number: well formed, refused by the provider.
    refused = client.post(f"/o/{org.slug}/notifications/preferences", data={"action": "phone", "phone": "+15005550001"})
    assert refused.status_code == 422 and "send a code to this number" in refused.text
    assert twilio.messages == []
    assert row_counts() == before  # not even the profile the request made before it tried
