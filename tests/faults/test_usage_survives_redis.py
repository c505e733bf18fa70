"""API key usage counts across a Redis FLUSHALL, a Redis crash and restart, and drains racing pushes: the
database ends up with everything counted before the last successful drain and nothing twice, and what a
Redis failure loses is at most what Redis held since that drain (one flush interval)."""

from __future__ import annotations

import threading

from portal.keys import tasks
from tests.faults.usage_fixtures import call, flush_until, held_by_redis, stored, wait_until


def test_a_flushall_between_flushes_loses_only_what_redis_held_since_the_last_drain(client, key_secret, spare_limiter, spare_redis):
    key, secret = key_secret
    call(client, secret, 5)
    assert flush_until(key, 5) == 5  # the last successful drain before the fault
    call(client, secret, 3)
    wait_until(lambda: held_by_redis(spare_redis) == 3, "the pusher did not move the 3 counts to Redis")
    spare_redis.flushall()  # an operator's FLUSHALL
    call(client, secret, 2)
    found = flush_until(key, 7)
    assert found == 7  # 5 drained before, 2 counted after; the 3 Redis held since the drain are the loss
    assert tasks.flush_usage() == 0 and stored(key) == 7  # nothing counted twice


def test_a_redis_crash_loses_at_most_what_it_held_and_counts_made_while_it_is_down_are_kept(client, key_secret, spare_limiter, spare_redis):
    key, secret = key_secret
    call(client, secret, 4)
    assert flush_until(key, 4) == 4
    call(client, secret, 3)
    wait_until(lambda: held_by_redis(spare_redis) == 3, "the pusher did not move the 3 counts to Redis")
    spare_redis.stop()  # SIGKILL, no persistence: what it held is gone
    call(client, secret, 2)  # the API keeps answering; these counts wait in the web process's memory
    spare_redis.start()
    found = flush_until(key, 6)
    assert found == 6  # 4 drained before the crash and the 2 made while Redis was down
    assert flush_until(key, 7, timeout=1.5) == 6  # nothing counted twice, and the 3 lost stay lost


def test_drains_racing_pushes_from_many_threads_store_every_count_exactly_once(app, key_secret, spare_limiter):
    key, _secret = key_secret
    key_id = key.public_id  # read here: the threads have no app context to load it in
    threads, per_thread = 8, 500
    go = threading.Event()

    def count() -> None:
        go.wait()
        for i in range(per_thread):
            spare_limiter.count(key_id, "2026-12-02", f"GET /e{i % 3}", "2xx")
            if i % 50 == 0:
                spare_limiter.push()  # as each gunicorn worker's pusher does, here as often as the drains run

    workers = [threading.Thread(target=count) for _ in range(threads)]
    for t in workers:
        t.start()
    go.set()
    while any(t.is_alive() for t in workers):
        tasks.flush_usage()  # drains interleave with the pushes
    for t in workers:
        t.join()
    assert flush_until(key, threads * per_thread) == threads * per_thread
    assert flush_until(key, threads * per_thread + 1, timeout=1.5) == threads * per_thread
