"""Retries, permanent failures, never twice, and the reconciler; against the real SMTP server."""

import threading

from sqlalchemy import select

from portal.extensions import db
from portal.models import utcnow
from portal.notifications import deliveries_job, service
from portal.notifications.models import Delivery
from tests.factories import OrgFactory, member

DATA = {"workflow_name": "W", "run_id": "r", "error": "e"}


def _notify(org, people, event="workflow.failed", data=DATA, **kwargs):
    """notify() in a unit of work of its own, as a caller's committed change: its deliveries go out."""
    notes = service.notify(org, people, event, data, **kwargs)
    db.session.commit()
    return notes


def _email_delivery():
    db.session.expire_all()
    return db.session.scalar(select(Delivery).filter_by(channel="email"))


def _wait_status(status, timeout=30.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = _email_delivery()
        if d is not None and d.status == status:
            return d
        time.sleep(0.1)
    raise AssertionError(f"email delivery never reached {status}: {_email_delivery().status}, {_email_delivery().last_error}")


def test_smtp_down_then_back_is_retried_and_sent_once(app, smtp_server, mailbox, wait_for_jobs):
    controller, _ = smtp_server
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    controller.stop()
    try:
        _notify(org, [alice])
        import time

        deadline = time.monotonic() + 20
        while _email_delivery().attempts < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        failing = _email_delivery()
        assert failing.attempts >= 2 and failing.status in ("queued", "sending")
        assert "unreachable" in (failing.last_error or "")
    finally:
        controller.start()
    sent = _wait_status("sent")
    wait_for_jobs()
    assert len(mailbox.to("alice@example.test")) == 1
    # At least one attempt failed while the server was down; the one that got through cleared the error.
    assert sent.attempts >= 2 and sent.last_error is None


def test_temporary_refusals_are_retried(app, mailbox, wait_for_jobs):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    mailbox.defer_next(2)
    _notify(org, [alice])
    sent = _wait_status("sent")
    assert sent.attempts == 3
    wait_for_jobs()
    assert len(mailbox.to("alice@example.test")) == 1


def test_permanent_refusal_fails_at_once_and_can_be_resent(app, client, login_as, mailbox, wait_for_jobs):
    org = OrgFactory()
    bounce = member(org, email="reject-me@example.test")
    _notify(org, [bounce])
    failed = _wait_status("failed")
    assert failed.attempts == 1 and "550" in failed.last_error
    login_as(member(org, "org_admin"))
    page = client.get(f"/o/{org.slug}/notifications/deliveries?status=failed")
    assert failed.public_id in page.text and "Resend" in page.text
    # Resending a failed delivery queues a new attempt series (it fails again: the address is still refused).
    again = client.post(f"/o/{org.slug}/notifications/deliveries/{failed.public_id}/resend", headers={"HX-Request": "true"})
    assert again.status_code == 200
    wait_for_jobs()
    assert _wait_status("failed").attempts == 1
    assert client.post(f"/o/{org.slug}/notifications/deliveries/{failed.public_id}/resend").status_code in (303, 409)


def test_a_delivery_is_never_sent_twice_even_when_two_jobs_race(app, mailbox, wait_for_jobs):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    mailbox.defer_next(1)  # the first attempt fails, so the delivery waits queued for its retry
    _notify(org, [alice])
    d = None
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        d = _email_delivery()
        if d.attempts == 1 and d.status == "queued":
            break
        time.sleep(0.05)
    # Make it due now and run the job from two threads at once, besides the scheduled retry.
    d.next_attempt_at = utcnow()
    db.session.commit()
    delivery_id = d.id  # read here: the test's session must not be used from the threads
    results = []

    def run():
        with app.app_context():
            results.append(deliveries_job.deliver_batch([delivery_id]))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _wait_status("sent")
    wait_for_jobs()
    time.sleep(0.5)
    assert len(mailbox.to("alice@example.test")) == 1
    assert sum(r["sent"] for r in results) <= 1


def test_reconciler_sends_deliveries_left_queued(app, mailbox, wait_for_jobs):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    runner = app.extensions["jobs"]
    original = runner.enqueue

    def redis_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    runner.enqueue = redis_down
    try:
        [note] = _notify(org, [alice])  # committed, but never enqueued
    finally:
        runner.enqueue = original
    assert _email_delivery().status == "queued"
    assert service.reconcile(overdue_seconds=0)["requeued"] == 1
    db.session.commit()  # the reconciler's unit of work: it re-enqueues once that commits
    _wait_status("sent")
    assert len(mailbox.wait_for("alice@example.test")) == 1
    assert note.id


def test_reconciler_fails_deliveries_stuck_in_sending(app):
    org = OrgFactory()
    alice = member(org)
    runner = app.extensions["jobs"]
    original = runner.enqueue
    runner.enqueue = lambda *a, **k: "not-enqueued"
    try:
        _notify(org, [alice])
    finally:
        runner.enqueue = original
    d = _email_delivery()
    d.status = "sending"
    db.session.commit()
    db.session.execute(Delivery.__table__.update().values(updated_at=utcnow().replace(year=2000)))
    db.session.commit()
    assert service.reconcile()["failed_stuck"] == 1
    stuck = _email_delivery()
    assert stuck.status == "failed" and "avoid a duplicate" in stuck.last_error


def test_transient_failures_are_retried_five_times_then_fail(app, mailbox, wait_for_jobs):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    mailbox.defer_next(100)  # the server keeps answering "try again later"
    _notify(org, [alice])
    failed = _wait_status("failed", timeout=40.0)
    # The first try and at least five retries, before giving up.
    assert failed.attempts == deliveries_job.MAX_ATTEMPTS and failed.attempts >= 6
    assert "451" in failed.last_error
    wait_for_jobs()
    assert mailbox.to("alice@example.test") == []


def test_the_default_retry_schedule_spans_minutes(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_RETRY_BASE_SECONDS", 30.0)  # the production default
    delays = [deliveries_job.backoff(attempt) for attempt in range(1, deliveries_job.MAX_ATTEMPTS)]
    assert len(delays) >= 5
    assert all(later > earlier for earlier, later in zip(delays, delays[1:], strict=False))  # exponential
    assert 5 * 60 <= sum(delays) <= 30 * 60


def test_delivery_log_filters_by_channel_and_event(app, client, login_as, wait_for_jobs):
    org = OrgFactory()
    alice = member(org, email="alice@example.test")
    [failed_note] = service.notify(org, [alice], "workflow.failed", DATA)
    [message_note] = service.notify(org, [alice], "message", {"title": "Hi", "body": "b"}, channels=["in_app"])
    wait_for_jobs()
    db.session.expire_all()
    wf_email, wf_in_app = (db.session.scalar(select(Delivery).filter_by(notification_id=failed_note.id, channel=c)) for c in ("email", "in_app"))
    msg_in_app = db.session.scalar(select(Delivery).filter_by(notification_id=message_note.id))
    login_as(member(org, "org_admin"))
    url = f"/o/{org.slug}/notifications/deliveries"

    def shown(query):
        text = client.get(f"{url}?{query}", headers={"HX-Request": "true"}).text
        return {d.public_id for d in (wf_email, wf_in_app, msg_in_app) if f"d-{d.public_id}" in text}

    assert shown("") == {wf_email.public_id, wf_in_app.public_id, msg_in_app.public_id}
    assert shown("channel=email") == {wf_email.public_id}
    assert shown("channel=in_app") == {wf_in_app.public_id, msg_in_app.public_id}
    assert shown("event=message") == {msg_in_app.public_id}
    assert shown("event=workflow.failed&channel=in_app") == {wf_in_app.public_id}
    assert shown("status=delivered&event=workflow.failed") == {wf_in_app.public_id}
    login_as(alice)
    assert client.get(url).status_code == 403  # plain members don't see the log
