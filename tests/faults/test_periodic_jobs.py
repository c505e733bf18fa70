"""Periodic jobs under faults: a reconciler still running (the worker busy, the database slow) is not started
again, so no copies pile up; when the process that runs a job dies, another scheduler takes the job over
within two intervals; and the reconcilers and the usage flush run on the scheduler's own threads, so
nothing waiting in the queues can hold them up. Scheduler time is given to tick(), so nothing here waits
for the clock."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import pytest

from portal.extensions import db
from portal.infra import jobs
from portal.infra.periodic import PENDING_SLOTS, Scheduler, run_queued, schedule
from portal.keys import tasks as key_tasks
from portal.workflows import tasks as workflow_tasks
from tests.faults.usage_fixtures import call, stored

RUNS: list[str] = []
GATE = threading.Event()


def slow_reconciler() -> None:
    """A reconciler that takes as long as the test says (until GATE is set)."""
    RUNS.append("slow")
    assert GATE.wait(30)


def quick_reconciler() -> None:
    RUNS.append("quick")


def no_queue(fn, **_kwargs) -> str:
    raise AssertionError(f"{fn.__qualname__} was put on a queue; reconcilers run on the scheduler's thread")


@pytest.fixture
def test_jobs(app) -> Iterator[None]:
    """The two reconcilers above, runnable in this app for the test."""
    RUNS.clear()
    GATE.clear()
    jobs.register(app, slow_reconciler, quick_reconciler)
    yield
    GATE.set()
    registry = app.extensions["job_registry"]
    for fn in (slow_reconciler, quick_reconciler):
        registry.pop(jobs.job_path(fn), None)


def fresh_time(seconds: int = 5) -> float:
    """A moment at the start of a slot no scheduler has used (claims are per slot, shared through Redis)."""
    return float((2_000_000_000 + secrets.randbelow(10**9)) // seconds * seconds)


def test_a_reconciler_still_running_is_not_started_again_so_no_copies_pile_up(app, test_jobs):
    scheduler = Scheduler(app, no_queue, jobs={slow_reconciler: 5})
    base = fresh_time()
    for t in range(61):  # a minute in which the run does not finish: 12 slots of a 5-second job
        scheduler.tick(now=base + t)
    assert RUNS == ["slow"]
    GATE.set()
    assert scheduler.wait(10)
    assert scheduler.tick(now=base + 65) == [slow_reconciler]  # once it is done, the next slot runs it again
    assert scheduler.wait(10) and RUNS == ["slow", "slow"]


@pytest.mark.postgres_only  # the in-process runner is one process: there is no other scheduler to take over
def test_when_the_scheduling_process_dies_another_takes_over_within_two_intervals(app, test_jobs):
    first, second = (Scheduler(app, no_queue, jobs={quick_reconciler: 5}) for _ in range(2))
    base = fresh_time()
    ran_by: dict[int, list[str]] = {}
    for t in range(30):  # both alive: each slot runs once, always on the same scheduler
        for name, scheduler, offset in (("first", first, 0.0), ("second", second, 0.5)):
            if scheduler.tick(now=base + t + offset):
                ran_by.setdefault(t // 5, []).append(name)
        first.wait(5)
        second.wait(5)
    assert ran_by == {slot: ["first"] for slot in range(6)}
    for t in range(30, 60):  # the first scheduler's process is gone
        if second.tick(now=base + t + 0.5):
            ran_by.setdefault(t // 5, []).append("second")
        second.wait(5)
    taken_over = min(slot for slot, names in ran_by.items() if names == ["second"])
    assert taken_over - 5 <= 2  # the last slot the first ran was 5: the second runs the job two intervals later at most
    assert all(names == ["second"] for slot, names in ran_by.items() if slot >= taken_over)
    assert len(RUNS) == sum(len(names) for names in ran_by.values())  # no slot ran twice


def test_reconcilers_and_the_usage_flush_run_on_the_schedulers_thread_not_behind_the_queues(app, client, key_secret, spare_limiter):
    key, secret = key_secret
    call(client, secret, 3)
    spare_limiter.push()
    db.session.commit()
    queued = []
    scheduler = Scheduler(app, lambda fn, *args, **kw: queued.append(args[0]) or "queued")
    started = scheduler.tick(now=fresh_time(3600))  # the start of an hour: every job is due
    assert scheduler.wait(30)
    for fn in (workflow_tasks.dispatch, workflow_tasks.reap, key_tasks.flush_usage):
        assert fn in started and jobs.job_path(fn) not in queued
    hourly = {fn for fn, seconds in schedule(app).items() if seconds > 60}
    assert set(queued) == {jobs.job_path(fn) for fn in hourly} and hourly <= set(started)  # hourly jobs still go on a queue
    assert stored(key) == 3  # flushed without any worker taking anything off a queue


@pytest.mark.postgres_only  # claims are shared through Redis; the in-process runner has no queue to wait in
def test_an_hourly_job_stuck_behind_a_backlog_waits_as_one_copy_and_runs_once(app, test_jobs):
    queued: list[tuple] = []
    scheduler = Scheduler(app, lambda fn, *args, **kw: queued.append((fn, args, kw["queue"])) or "queued", jobs={quick_reconciler: 3600})
    base = fresh_time(3600)
    for hour in range(PENDING_SLOTS - 1):  # five hours in which no worker takes anything off the low queue
        scheduler.tick(now=base + hour * 3600)
    assert queued == [(run_queued, (jobs.job_path(quick_reconciler),), "low")]
    fn, args, _queue = queued[0]
    jobs.execute(jobs.job_path(fn), args)  # a worker is back: the one copy runs
    assert RUNS == ["quick"]
    scheduler.tick(now=base + (PENDING_SLOTS - 1) * 3600)
    assert len(queued) == 2  # started, so the next hour queues the job again
