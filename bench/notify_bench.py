"""Notifications benchmark: one event to 10,000 members, with 1 and then 2 RQ workers.

It starts the real stack on this machine and removes it at the end:
a fresh PostgreSQL database, a flushed Redis database, an SMTP server (aiosmtpd) in this process that
counts accepted messages, and `flask worker` processes. For each worker count it

1. calls notify() for one event to every member (timed: until every in-app row and delivery row is
   committed, which is when notify() returns),
2. starts the workers and times until the SMTP server has accepted every email,

and, as the baseline in the same run, sends the same number of messages with plain smtplib over one
connection per sender to the same server. It prints emails per second per worker and the ratio to
plain smtplib (the issue aims for >= 0.5). Run: `.venv/bin/python bench/notify_bench.py [--members N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/13"
sys.path.insert(0, str(ROOT))


class Counter:
    """An SMTP handler that only counts what it accepts."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += len(envelope.rcpt_tos)
        return "250 OK"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str) -> float:
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.perf_counter() - start


def smtplib_baseline(port: int, count: int, senders: int, counter: Counter) -> float:
    """Messages per second that plain smtplib gets through to the same server (one connection per sender)."""
    body = "Run run_x of Leads failed: timeout\n" * 3
    before = counter.count

    def send(n: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(n):
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = "bench@vetrai.test", f"m{i}@example.test", "Leads failed"
                msg.set_content(body)
                msg.add_alternative(f"<p>{body}</p>", subtype="html")
                smtp.send_message(msg)

    start = time.perf_counter()
    threads = [threading.Thread(target=send, args=(count // senders,)) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert counter.count - before == (count // senders) * senders
    return (count // senders) * senders / elapsed


def seed(members: int):
    """One org with `members` members, inserted in bulk (the password hash is shared: nobody logs in)."""
    from portal.accounts.models import User
    from portal.extensions import db
    from portal.models import new_public_id, utcnow
    from portal.orgs.models import Membership, Organization

    org = Organization(slug="bench", name="Bench Org")
    db.session.add(org)
    db.session.flush()
    now = utcnow()
    db.session.execute(
        User.__table__.insert(),
        [
            {"public_id": new_public_id("usr"), "email": f"member{i}@example.test", "name": f"Member {i}", "password_hash": "x",
             "timezone": "UTC", "is_suspended": False, "session_token": secrets.token_hex(8), "created_at": now, "updated_at": now,
             "email_verified_at": now}
            for i in range(members)
        ],
    )
    ids = [row[0] for row in db.session.execute(text("SELECT id FROM \"user\" ORDER BY id"))]
    db.session.execute(
        Membership.__table__.insert(),
        [{"public_id": new_public_id("mem"), "org_id": org.id, "user_id": uid, "role": "user", "created_at": now, "updated_at": now} for uid in ids],
    )
    db.session.commit()
    return org


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    args = parser.parse_args()

    counter = Counter()
    smtp_port = free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    db_name = f"vetrai_notify_bench_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{db_name}",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": secrets.token_hex(16),
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "MAIL_FROM": "VetrAI Bench <bench@vetrai.test>",
        "BASE_URL": "http://bench.test",
        "VETRAI_ENV": "development",
    }
    os.environ.update(env)
    workers: list[subprocess.Popen] = []
    results: dict = {"members": args.members, "runs": []}
    try:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        from portal import create_app
        from portal.extensions import db
        from portal.notifications import service
        from portal.uow import unit_of_work

        app = create_app()
        import logging

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
        with app.app_context():
            org = seed(args.members)
            from portal.accounts.models import User

            for n_workers in (1, 2):
                # Loaded again each time: the previous unit's commit expired these objects.
                people = list(db.session.scalars(db.select(User).order_by(User.id)))
                counter.count = 0
                t0 = time.perf_counter()
                with unit_of_work():  # notify() flushes; the caller's unit commits and then enqueues
                    service.notify(org, people, "workflow.failed", {"workflow_name": "Leads", "run_id": f"run_{n_workers}", "error": "timeout"})
                fanout = time.perf_counter() - t0
                rows = db.session.execute(text("SELECT count(*) FROM notification")).scalar()
                start = time.perf_counter()
                logs = [tempfile.TemporaryFile() for _ in range(n_workers)]
                workers = [
                    subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"], cwd=ROOT, env=env,
                                     stdout=log, stderr=subprocess.STDOUT)
                    for log in logs
                ]

                def all_accepted(workers=workers, logs=logs) -> bool:
                    if all(w.poll() is not None for w in workers) and counter.count < args.members:
                        logs[0].seek(0)
                        tail = logs[0].read().decode(errors="replace")[-3000:]
                        raise SystemExit(f"the workers stopped after {counter.count} emails; the first one said:\n{tail}")
                    return counter.count >= args.members

                wait_until(all_accepted, 1800, "every email to be accepted")
                sending = time.perf_counter() - start
                for w in workers:
                    w.wait(60)
                workers = []
                per_worker = args.members / sending / n_workers
                results["runs"].append({"workers": n_workers, "fanout_s": round(fanout, 2), "notification_rows": rows,
                                        "all_emails_s": round(sending, 2), "emails_per_s": round(args.members / sending, 1),
                                        "emails_per_s_per_worker": round(per_worker, 1)})
        baseline_count = min(args.members, 5000)
        results["smtplib_1_conn_per_s"] = round(smtplib_baseline(smtp_port, baseline_count, 1, counter), 1)
        results["smtplib_2_conn_per_s"] = round(smtplib_baseline(smtp_port, baseline_count, 2, counter), 1)
    finally:
        for w in workers:
            w.kill()
        controller.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()

    base = results["smtplib_1_conn_per_s"]
    print(f"\nOne event to {args.members:,} members (PostgreSQL, Redis, RQ workers, SMTP on loopback)\n")
    # Each worker holds one SMTP connection, so n workers compare with n smtplib connections to the same
    # server: when the server itself is the bottleneck, two connections get little more than one.
    print(f"{'workers':>7} {'fan-out s':>10} {'all emails s':>13} {'emails/s':>9} {'per worker':>11} {'vs 1 conn':>10} {'vs n conns':>11}")
    for r in results["runs"]:
        per_conn = results[f"smtplib_{r['workers']}_conn_per_s"] / r["workers"]
        print(f"{r['workers']:>7} {r['fanout_s']:>10} {r['all_emails_s']:>13} {r['emails_per_s']:>9} {r['emails_per_s_per_worker']:>11} "
              f"{r['emails_per_s_per_worker'] / base:>9.2f}x {r['emails_per_s_per_worker'] / per_conn:>10.2f}x")
    print(f"\nbaseline: plain smtplib, one connection: {base}/s; two connections: {results['smtplib_2_conn_per_s']}/s in all")
    print("target: per-worker email throughput >= 0.5x plain smtplib ('vs n conns': per smtplib connection, as many as workers)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"notify-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
