"""notify(): one event fanned out to members by their preferences, over real SMTP (and the RQ worker on PostgreSQL)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import utcnow
from portal.notifications import service
from portal.notifications.models import Delivery, Notification, NotificationProfile
from portal.uow import unit_of_work
from tests.factories import OrgFactory, member

FAILED = {"workflow_name": "Leads", "run_id": "run_1", "error": "timeout"}


def _deliveries(note):
    db.session.expire_all()
    return {d.channel: d for d in db.session.scalars(select(Delivery).filter_by(notification_id=note.id))}


def test_event_reaches_inbox_and_email(app, mailbox, wait_for_jobs):
    org = OrgFactory(name="Fanout Org")
    alice, bob = member(org, email="alice@example.test"), member(org, email="bob@example.test")
    notes = service.notify(org, [alice, bob], "workflow.failed", FAILED)
    db.session.commit()  # the caller's unit of work: deliveries go out once it commits
    assert len(notes) == 2
    [mail] = mailbox.wait_for("alice@example.test")
    assert mail["Subject"] == "Leads failed"
    assert "The Leads run failed: timeout" in mailbox.text_of(mail)
    assert mail.get_body(preferencelist=("html",)) is not None
    wait_for_jobs()
    d = _deliveries(notes[0])
    assert d["in_app"].status == "delivered" and d["email"].status == "sent"
    assert d["email"].provider_message_id == mail["Message-ID"]
    assert service.unread_count(org, alice) == 1 and service.unread_count(org, bob) == 1


def test_muted_channel_is_skipped_and_recorded(app, mailbox, wait_for_jobs):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    service.save_preferences(org, alice, {"workflow.failed": {"email": False, "in_app": True}})
    [note] = service.notify(org, [alice], "workflow.failed", {"workflow_name": "W", "run_id": "r", "error": "e"})
    wait_for_jobs()
    d = _deliveries(note)
    assert d["email"].status == "skipped" and d["email"].last_error == "muted by preference"
    assert mailbox.to("alice@example.test") == []
    assert d["in_app"].status == "delivered"


def test_org_default_applies_until_the_member_chooses(app, mailbox, wait_for_jobs):
    org = OrgFactory()
    alice, bob = member(org, email="alice@example.test"), member(org, email="bob@example.test")
    service.save_preferences(org, None, {"workflow.failed": {"email": False}})
    service.save_preferences(org, bob, {"workflow.failed": {"email": True}})
    service.notify(org, [alice, bob], "workflow.failed", FAILED)
    db.session.commit()
    mailbox.wait_for("bob@example.test")
    wait_for_jobs()
    assert mailbox.to("alice@example.test") == []


def test_critical_events_cannot_be_muted(app, mailbox):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    service.save_preferences(org, alice, {"key.expiring": {"email": False}})
    assert service.preference_matrix(org, alice)[[r["event"] for r in service.preference_matrix(org, alice)].index("key.expiring")]["channels"]["email"]
    service.notify(org, [alice], "key.expiring", {"key_name": "deploy-key", "key_prefix": "vtr_ab", "expires_at": "tomorrow", "days_left": 1})
    db.session.commit()
    assert "deploy-key" in mailbox.wait_for("alice@example.test")[0]["Subject"]


def test_sms_is_skipped_without_a_verified_number(app, wait_for_jobs):
    org = OrgFactory()
    alice = member(org)
    [note] = service.notify(org, [alice], "message", {"title": "Hi", "body": "there"}, channels=["sms"])
    d = _deliveries(note)
    assert d["sms"].status == "skipped" and d["sms"].last_error == "no verified phone number"


def test_quiet_hours_hold_email_but_not_in_app(app, mailbox, wait_for_jobs):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    alice.timezone = "UTC"
    now = datetime.now(UTC)
    start = f"{(now.hour - 1) % 24:02d}:00"
    end = f"{(now.hour + 2) % 24:02d}:00"
    service.set_quiet_hours(alice, start, end)
    [note] = service.notify(org, [alice], "workflow.failed", {"workflow_name": "W", "run_id": "r", "error": "e"})
    d = _deliveries(note)
    assert d["in_app"].status == "delivered"
    assert d["email"].status == "queued" and d["email"].next_attempt_at > now
    assert service.unread_count(org, alice) == 1
    # Critical events ignore quiet hours.
    service.notify(org, [alice], "key.expiring", {"key_name": "ci", "key_prefix": "vtr_ab", "expires_at": "tomorrow", "days_left": 1})
    db.session.commit()
    assert mailbox.wait_for("alice@example.test")[0]["Subject"].startswith("API key ci expires")


def test_quiet_until_handles_windows_across_midnight():
    profile = NotificationProfile(quiet_start="22:00", quiet_end="07:00")
    late = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    early = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    noon = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert service.quiet_until(profile, "UTC", late) == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert service.quiet_until(profile, "UTC", early) == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert service.quiet_until(profile, "UTC", noon) is None
    # 23:30 UTC is 00:30 in Rome (winter): inside, ending at 07:00 Rome = 06:00 UTC.
    assert service.quiet_until(profile, "Europe/Rome", late) == datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def test_unknown_event_or_missing_data_is_a_programming_error(app):
    org = OrgFactory()
    alice = member(org)
    with pytest.raises(KeyError):
        service.notify(org, [alice], "no.such.event", {})
    with pytest.raises(ValueError, match="workflow_name"):
        service.notify(org, [alice], "workflow.failed", {"run_id": "r", "error": "e"})
    assert db.session.scalar(select(Notification)) is None


def test_invitation_email_goes_through_notifications(client, login_as, mailbox, wait_for_jobs):
    org = OrgFactory(name="Inviting Org")
    login_as(member(org, "org_admin", name="Dana"))
    client.post(f"/o/{org.slug}/invitations", data={"email": "guest@example.test", "role": "user"})
    [mail] = mailbox.wait_for("guest@example.test")
    assert "Dana invited you to join Inviting Org as User" in mailbox.text_of(mail)
    wait_for_jobs()
    delivery = db.session.scalar(select(Delivery).filter_by(channel="email"))
    assert delivery.status == "sent" and delivery.to_address == "guest@example.test"
    # An address without an account gets no List-Unsubscribe: there are no preferences to open.
    assert mail["List-Unsubscribe"] is None


def test_quiet_hours_hold_sms_too(app, twilio, wait_for_jobs):
    org = OrgFactory()
    alice = member(org)
    alice.timezone = "Asia/Tokyo"
    profile = service.profile_for(alice)
    profile.phone, profile.phone_verified_at = "+14155550123", utcnow()
    db.session.commit()
    now = datetime.now(UTC)
    local_hour = now.astimezone(ZoneInfo("Asia/Tokyo")).hour
    service.set_quiet_hours(alice, f"{(local_hour - 1) % 24:02d}:00", f"{(local_hour + 2) % 24:02d}:00")
    [note] = service.notify(org, [alice], "ticket.sla_breached", {"ticket_id": "tkt_1", "ticket_number": "#1", "subject": "S", "target": "reply"})
    wait_for_jobs()
    d = _deliveries(note)
    assert d["in_app"].status == "delivered"
    assert d["sms"].status == "queued" and d["sms"].next_attempt_at > now + timedelta(minutes=59)
    assert not any("tkt_1" in m["Body"] for m in twilio.messages)


def test_notify_inside_a_unit_that_rolls_back_leaves_no_row_and_sends_nothing(app, mailbox, wait_for_jobs):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    with pytest.raises(RuntimeError), unit_of_work():
        service.notify(org, [alice], "workflow.failed", FAILED)
        assert db.session.scalar(select(Notification)) is not None  # flushed with the caller's change...
        raise RuntimeError("the caller's change is refused after it notified")
    wait_for_jobs()
    # ...and rolled back with it: no inbox entry, no delivery, no job, no email.
    assert db.session.scalar(select(Notification)) is None
    assert db.session.scalar(select(Delivery)) is None
    assert mailbox.to("alice@example.test") == []


def test_notify_enqueues_its_deliveries_only_once_the_unit_commits(app, mailbox, monkeypatch, wait_for_jobs):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    runner = app.extensions["jobs"]
    enqueued = []
    original = runner.enqueue

    def recording(path, *args, **kwargs):
        enqueued.append(path)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(runner, "enqueue", recording)
    with unit_of_work():
        [note] = service.notify(org, [alice], "workflow.failed", FAILED)
        assert enqueued == []  # nothing is handed to a worker before the rows it reads are committed
    assert enqueued == ["portal.notifications.deliveries_job.deliver_batch"]
    [mail] = mailbox.wait_for("alice@example.test")
    assert mail["Subject"] == "Leads failed"
    wait_for_jobs()
    assert _deliveries(note)["email"].status == "sent"
