"""Usage is counted without a database write per request and flushed by a periodic job; key.expiring
goes out 7 days and 1 day before a key expires, once per threshold, through the notifications service."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from portal.extensions import db
from portal.infra.jobs import enqueue, execute, job_path
from portal.infra.periodic import schedule
from portal.infra.ratelimit import MemoryLimiter
from portal.keys import service, tasks
from portal.keys.models import ApiKey, ApiKeyUsage
from portal.models import utcnow
from portal.notifications.models import Notification

from .helpers import bearer, counted_queries, membership


def test_requests_write_nothing_to_the_database_until_the_flush(client, org, admin, make_key):
    key, secret = make_key(org, admin)
    with counted_queries() as statements:
        for _ in range(5):
            assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
        assert client.get("/api/v1/orgs/nope/members", headers=bearer(secret)).status_code == 404
    writes = [s for s in statements if s.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
    assert statements and writes == []
    tasks.flush_usage()  # (on the PostgreSQL backend the worker's periodic flush may have moved some already)
    db.session.expire_all()
    rows = {(r.endpoint, r.outcome): r.count for r in db.session.scalars(select(ApiKeyUsage).filter_by(key_id=key.id))}
    assert rows == {("GET /api/v1/me", "2xx"): 5, ("GET /api/v1/orgs/<org_slug>/members", "4xx"): 1}
    assert all(r.org_id == org.id for r in db.session.scalars(select(ApiKeyUsage)))


def test_flushes_add_up_into_the_same_daily_buckets(client, org, admin, make_key):
    key, secret = make_key(org, admin)
    for rounds in (3, 4):
        for _ in range(rounds):
            client.get("/api/v1/me", headers=bearer(secret))
        tasks.flush_usage()
    assert tasks.flush_usage() == 0  # nothing left
    [row] = db.session.scalars(select(ApiKeyUsage).filter_by(key_id=key.id)).all()
    assert (row.count, row.day) == (7, utcnow().date())


def test_last_use_is_shown_before_the_flush_and_stored_by_it(client, org, admin, make_key):
    key, secret = make_key(org, admin)
    client.get("/api/v1/me", headers=bearer(secret), environ_base={"REMOTE_ADDR": "203.0.113.9"})
    when, ip = service.last_used([key])[key.id]
    assert when is not None and ip == "203.0.113.9"
    assert key.last_used_at is None
    tasks.flush_usage()
    db.session.refresh(key)
    assert key.last_used_ip == "203.0.113.9" and abs(key.last_used_at - utcnow()) < timedelta(minutes=1)


def test_the_flush_and_the_reminders_are_periodic_jobs_that_run_on_the_job_runner(app, client, org, admin, make_key, wait_for_jobs):
    assert schedule(app)[tasks.flush_usage] <= 60
    assert schedule(app)[tasks.notify_expiring] <= 3600
    key, secret = make_key(org, admin)
    for _ in range(3):
        client.get("/api/v1/me", headers=bearer(secret))
    # with Redis the job runs in the RQ worker process: this process's counts reach Redis first
    client.application.extensions["keys"].limiter.push()
    enqueue(tasks.flush_usage, queue="low")
    wait_for_jobs()
    db.session.expire_all()
    assert sum(r.count for r in db.session.scalars(select(ApiKeyUsage).filter_by(key_id=key.id))) == 3


def expiring_notices(user) -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(select(Notification).filter_by(user_id=user.id, event="key.expiring").order_by(Notification.id)))


def test_key_expiring_goes_out_7_days_and_1_day_before_once_each(app, org, admin, make_key, mailbox):
    key, _ = make_key(org, admin, name="deploy bot", expires_at=utcnow() + timedelta(days=6, hours=12))
    make_key(org, admin, name="no expiry")
    far, _ = make_key(org, admin, name="far", expires_at=utcnow() + timedelta(days=40))
    revoked, _ = make_key(org, admin, name="revoked", expires_at=utcnow() + timedelta(days=3))
    service.revoke_key(org, membership(org, admin), revoked.public_id)

    assert service.notify_expiring() == 1
    [first] = expiring_notices(admin)
    assert first.data["key_name"] == "deploy bot" and first.data["key_prefix"] == key.prefix and first.data["days_left"] == 7
    assert first.data["expires_at"] == key.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    assert "deploy bot" in first.title
    assert service.notify_expiring() == 0  # once per threshold
    assert service.notify_expiring(now=utcnow() + timedelta(days=3)) == 0
    assert service.notify_expiring(now=utcnow() + timedelta(days=5, hours=13)) == 1  # now within a day
    assert [n.data["days_left"] for n in expiring_notices(admin)] == [7, 1]
    assert service.notify_expiring(now=utcnow() + timedelta(days=6)) == 0
    db.session.commit()  # as the job's unit of work would: the emails go out after the commit
    mails = mailbox.wait_for("admin@keys.test", count=2)
    assert all("deploy bot" in m["Subject"] for m in mails)
    db.session.refresh(far)
    assert far.expiry_notice_days is None


def test_a_key_found_inside_a_day_gets_only_the_1_day_notice_and_a_new_expiry_resets_them(app, org, admin, make_key):
    key, _ = make_key(org, admin, name="short", expires_at=utcnow() + timedelta(hours=10))
    assert service.notify_expiring() == 1
    assert [n.data["days_left"] for n in expiring_notices(admin)] == [1]
    service.update_key(org, membership(org, admin), key.public_id, {"expires_at": utcnow() + timedelta(days=5)})
    assert service.notify_expiring() == 1
    assert [n.data["days_left"] for n in expiring_notices(admin)] == [1, 5]


def test_the_reminder_job_runs_on_the_job_runner(app, org, admin, make_key, wait_for_jobs):
    make_key(org, admin, name="soon", expires_at=utcnow() + timedelta(days=2))
    enqueue(tasks.notify_expiring, queue="low")
    wait_for_jobs()
    assert [n.data["key_name"] for n in expiring_notices(admin)] == ["soon"]


def run_schedulers_at_once(app, count: int) -> list[int]:
    """Run the reminder job `count` times at the same moment, as that many schedulers would: each on its
    own thread with its own app context (its own session and connection). Returns what each sent."""
    start, sent, errors = threading.Barrier(count), [], []

    def scheduler():
        with app.app_context():
            start.wait()
            try:
                sent.append(execute(job_path(tasks.notify_expiring)))
            except Exception as exc:  # noqa: BLE001 - reported below, on the test's thread
                errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(sent) == count, errors
    return sent


def test_two_schedulers_running_the_reminder_job_at_once_send_each_notice_once(app, org, admin, make_key):
    weeks = [make_key(org, admin, name=f"week {i}", expires_at=utcnow() + timedelta(days=3))[0].name for i in range(4)]
    days = [make_key(org, admin, name=f"day {i}", expires_at=utcnow() + timedelta(hours=10))[0].name for i in range(4)]

    # Between them they send at most the 8 notices: on the PostgreSQL backend the RQ worker's own scheduler
    # is a third one and may send some meanwhile. What must hold however many run: each notice once.
    assert sum(run_schedulers_at_once(app, 2)) <= 8
    notices = expiring_notices(admin)
    assert sorted(n.data["key_name"] for n in notices) == sorted(weeks + days)  # one each, not one per scheduler
    assert {n.data["key_name"]: n.data["days_left"] for n in notices} == {**dict.fromkeys(weeks, 3), **dict.fromkeys(days, 1)}

    # time passes (the keys' expiry comes closer, their notices stay sent): the week keys are inside a day
    # now, and each gets its 1-day notice, once again
    db.session.execute(update(ApiKey).where(ApiKey.name.in_(weeks)).values(expires_at=utcnow() + timedelta(hours=12)))
    db.session.commit()
    assert sum(run_schedulers_at_once(app, 2)) <= 4
    later = expiring_notices(admin)[len(notices):]
    assert sorted(n.data["key_name"] for n in later) == sorted(weeks) and {n.data["days_left"] for n in later} == {1}


def test_a_flush_that_cannot_commit_gives_the_counts_back_for_the_next_one(app, client, org, admin, make_key, clean_key_runtime, monkeypatch):
    # This process's own memory limiter, so that no other process's flush (the RQ worker's) takes the counts meanwhile.
    monkeypatch.setattr(clean_key_runtime, "limiter", MemoryLimiter())
    key, secret = make_key(org, admin)
    for _ in range(3):
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200

    def database_gone():
        raise OperationalError("COMMIT", {}, Exception("the database went away"))

    with monkeypatch.context() as patch:
        patch.setattr(db.session, "commit", database_gone)
        with pytest.raises(OperationalError):
            tasks.flush_usage()
    assert db.session.scalars(select(ApiKeyUsage).filter_by(key_id=key.id)).all() == []  # rolled back ...
    assert tasks.flush_usage() == 1  # ... and the counts were not lost with it
    db.session.expire_all()
    assert [r.count for r in db.session.scalars(select(ApiKeyUsage).filter_by(key_id=key.id))] == [3]


def test_the_cli_flushes_usage_on_demand(app, client, org, admin, make_key):
    key, secret = make_key(org, admin)
    for _ in range(2):
        client.get("/api/v1/me", headers=bearer(secret))
    client.application.extensions["keys"].limiter.push()
    result = app.test_cli_runner().invoke(args=["keys", "flush-usage"])
    assert result.exit_code == 0 and "usage buckets" in result.output, result.output
    db.session.expire_all()
    assert sum(r.count for r in db.session.scalars(select(ApiKeyUsage).filter_by(key_id=key.id))) == 2
