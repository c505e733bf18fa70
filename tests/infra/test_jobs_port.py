"""The jobs port: the in-process runner (threads of this process), and RQ on a real Redis with real
workers (`run_worker` in this process, and `flask worker` as a separate process, with its scheduler)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
import redis as redis_lib

from portal.infra import jobs
from tests.conftest import ROOT, claimed_redis_db
from tests.infra import jobs_fixtures
from tests.infra.jobs_fixtures import read_records

# ---------------------------------------------------------------- in-process runner


@pytest.fixture
def inproc(make_app, tmp_path):
    app = make_app(BASE_URL="http://inproc.test", INPROCESS_JOB_WORKERS=2)
    jobs_fixtures.register_all(app)
    with app.app_context():
        yield app, tmp_path / "ran.jsonl"


def test_inprocess_job_runs_in_the_background_inside_an_app_context(inproc):
    app, out = inproc
    assert jobs.runner().name == "in-process"
    jobs.enqueue(jobs_fixtures.record, str(out), "hello")
    assert jobs.runner().wait(15)
    [ran] = read_records(out)
    assert ran["label"] == "hello"
    assert ran["app"] == "http://inproc.test"
    assert ran["pid"] == os.getpid()
    assert ran["thread"].startswith("job")  # a pool thread, not the caller's
    assert ran["db"] == 1  # with a working database session of its own


def test_inprocess_delayed_job_runs_after_its_delay_and_wait_covers_it(inproc):
    _app, out = inproc
    enqueued_at = time.time()
    jobs.enqueue(jobs_fixtures.record, str(out), "later", delay=0.3)
    assert jobs.runner().wait(15)  # returns only once the delayed job has run
    [ran] = read_records(out)
    assert ran["label"] == "later"
    assert ran["ran_at"] - enqueued_at >= 0.3


def test_inprocess_failing_job_does_not_stop_the_jobs_after_it(make_app, tmp_path, caplog):
    app = jobs_fixtures.register_all(make_app(INPROCESS_JOB_WORKERS=1))  # one thread: the one that ran the failures runs the next job
    out = tmp_path / "ran.jsonl"
    with app.app_context():
        jobs.enqueue(jobs_fixtures.fail, "boom one")
        jobs.enqueue(jobs_fixtures.fail, "boom two")
        jobs.enqueue(jobs_fixtures.record, str(out), "still running")
        assert jobs.runner().wait(15)
    assert [r["label"] for r in read_records(out)] == ["still running"]
    failures = [r for r in caplog.records if r.name == "portal.infra.jobs" and "failed" in r.getMessage()]
    assert len(failures) == 2
    assert "boom one" in failures[0].exc_text or "boom one" in str(failures[0].exc_info[1])


def test_inprocess_wait_reports_a_job_still_running(inproc):
    _app, out = inproc
    jobs_fixtures.GATE.clear()
    try:
        jobs.enqueue(jobs_fixtures.wait_for_gate, str(out), "gated")
        assert jobs.runner().wait(0.2) is False
        assert read_records(out) == []
    finally:
        jobs_fixtures.GATE.set()
    assert jobs.runner().wait(15) is True
    assert [r["label"] for r in read_records(out)] == ["gated"]


def test_inprocess_job_can_enqueue_another(inproc):
    _app, out = inproc
    jobs.enqueue(jobs_fixtures.record_then_enqueue, str(out), "first", "second")
    assert jobs.runner().wait(15)
    assert sorted(r["label"] for r in read_records(out)) == ["first", "second"]


# ---------------------------------------------------------------- RQ on Redis


@pytest.fixture(scope="module")
def redis_url():
    with claimed_redis_db() as url:
        yield url


@pytest.fixture
def rq_app(make_app, redis_url, tmp_path):
    redis_lib.Redis.from_url(redis_url).flushdb()
    app = make_app(REDIS_URL=redis_url, BASE_URL="http://web.test")
    jobs_fixtures.register_all(app)
    with app.app_context():
        yield app, tmp_path / "ran.jsonl"
    redis_lib.Redis.from_url(redis_url).flushdb()


def worker_env(app, tmp_path, base_url: str) -> dict:
    """The environment a `flask worker` process reads its config from: this app's Redis, its own app."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "SMTP_", "TWILIO_", "STRIPE_"))}
    env.update(
        VETRAI_ENV="test",
        SECRET_KEY="worker-test-secret",
        REDIS_URL=app.config["REDIS_URL"],
        DATABASE_URL=f"sqlite:///{tmp_path / 'worker.db'}",
        STORAGE_DIR=str(tmp_path / "worker-storage"),
        BASE_URL=base_url,
        PYTHONPATH=str(ROOT),
    )
    return env


def flask_worker(env: dict, *args: str) -> subprocess.Popen:
    """`flask worker` in a process group of its own (it forks its scheduler), output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "tests.infra.jobs_fixtures:worker_app()", "worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def finish(worker: subprocess.Popen, stop: bool) -> bytes:
    """Wait for the worker to exit (after a warm shutdown when `stop`); its output. If it hangs, its
    whole process group (the worker and its scheduler) is killed so that nothing is left running."""
    if stop:
        worker.terminate()  # SIGTERM: a warm shutdown, which stops the scheduler process too
    try:
        output, _ = worker.communicate(timeout=60 if not stop else 20)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        output, _ = worker.communicate()
    return output


@contextmanager
def signals_restored():
    """An RQ worker run in this process installs its own SIGINT/SIGTERM handlers; put pytest's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def run_burst_worker(app, monkeypatch) -> None:
    """`run_worker` in this process until the queues are empty (SimpleWorker, scheduler included)."""
    monkeypatch.setattr(jobs, "_worker_app", None)  # run_worker sets it; leave no app behind
    with signals_restored():
        jobs.run_worker(app, list(app.config["RQ_QUEUES"]), burst=True)


def test_rq_job_waits_in_redis_until_a_worker_runs_it(rq_app, monkeypatch):
    app, out = rq_app
    assert jobs.runner().name == "rq"
    job_id = jobs.enqueue(jobs_fixtures.record, str(out), "queued", queue="high")
    assert jobs.runner().queues["high"].job_ids == [job_id]
    assert read_records(out) == []  # nothing runs without a worker
    assert jobs.runner().wait(0.2) is False
    run_burst_worker(app, monkeypatch)
    [ran] = read_records(out)
    assert ran["label"] == "queued"
    assert jobs.runner().wait(5) is True


def test_rq_flask_worker_process_runs_the_job_in_its_own_app(rq_app, tmp_path):
    app, out = rq_app
    jobs.enqueue(jobs_fixtures.record, str(out), "cross-process")
    jobs.enqueue(jobs_fixtures.record_then_enqueue, str(out), "parent", "child")
    worker = flask_worker(worker_env(app, tmp_path, "http://worker.test"), "--burst")
    output = finish(worker, stop=False)  # --burst: it exits once the queues are empty
    assert worker.returncode == 0, output.decode()[-2000:]
    ran = read_records(out)
    assert sorted(r["label"] for r in ran) == ["child", "cross-process", "parent"]
    assert {r["app"] for r in ran} == {"http://worker.test"}  # the worker's app, built from its environment
    assert all(r["pid"] == worker.pid for r in ran)
    assert all(r["db"] == 1 for r in ran)
    assert jobs.runner().wait(5) is True


def test_rq_failing_job_is_recorded_failed_and_the_worker_goes_on(rq_app, monkeypatch):
    app, out = rq_app
    failing = jobs.enqueue(jobs_fixtures.fail, "kaboom")
    jobs.enqueue(jobs_fixtures.record, str(out), "after the failure")
    run_burst_worker(app, monkeypatch)
    assert [r["label"] for r in read_records(out)] == ["after the failure"]
    queue = jobs.runner().queues["default"]
    assert queue.failed_job_registry.get_job_ids() == [failing]
    assert "kaboom" in queue.fetch_job(failing).latest_result().exc_string
    assert jobs.runner().wait(5) is True  # a failed job is a finished one


def test_rq_delayed_job_is_not_run_before_its_time(rq_app, monkeypatch):
    app, out = rq_app
    job_id = jobs.enqueue(jobs_fixtures.record, str(out), "next hour", delay=3600)
    queue = jobs.runner().queues["default"]
    assert queue.scheduled_job_registry.get_job_ids() == [job_id]
    run_burst_worker(app, monkeypatch)  # its scheduler moves due jobs only
    assert read_records(out) == []
    assert queue.scheduled_job_registry.get_job_ids() == [job_id]
    # wait() waits for what is due within its timeout, not for a job an hour away.
    assert jobs.runner().wait(0.2) is True


def test_rq_delayed_job_runs_after_its_delay_in_a_worker_with_scheduler(rq_app, tmp_path):
    app, out = rq_app
    enqueued_at = time.time()
    jobs.enqueue(jobs_fixtures.record, str(out), "one second later", delay=1)
    worker = flask_worker(worker_env(app, tmp_path, "http://worker.test"))
    try:
        done = jobs.runner().wait(30)
    finally:
        output = finish(worker, stop=True)
    assert done, "the delayed job never ran; worker said:\n" + output.decode()[-2000:]
    [ran] = read_records(out)
    assert ran["label"] == "one second later"
    assert ran["ran_at"] - enqueued_at >= 1.0
    assert ran["pid"] == worker.pid
    assert b"Traceback" not in output, output.decode()[-2000:]


def test_rq_runner_pings_redis(rq_app):
    assert jobs.runner().ping() is True


def test_worker_without_redis_says_why(make_app):
    """`flask worker` on an install without REDIS_URL stops with a sentence instead of a traceback."""
    app = make_app()
    with pytest.raises(SystemExit, match="REDIS_URL is not set"):
        jobs.run_worker(app, ["default"], burst=True)
