"""API keys benchmark: what key authentication adds to a request, and how fast the rate limiter decides.

`GET /api/v1/me` with an API key against the same endpoint with authentication bypassed (the same user
made current without any check), in one run on the real stack: gunicorn (2 workers x 4 threads), a
fresh PostgreSQL database and a flushed Redis database. The key path does everything a customer's call
does: format and checksum, SHA-256, the bounded cache, the rate-limit script on Redis (which also
carries the revocation epoch), usage counting, RateLimit-* headers.

Both variants run on the same gunicorn server (a request without a key runs as the bench user, see
bypass_app) and are measured in alternating short rounds (bypass, key, key, bypass, ...); the figures
are medians of the per-round differences and ratios, so that a neighbour's load on a shared machine
skews both sides alike. Figures (the issue's aims in brackets):

* added cost per request, in one process: the same app with a key vs bypassed, alternating batches
  through the WSGI stack with PostgreSQL and Redis                                   [<= 0.3 ms]
* added latency per request over HTTP: p50 with one connection, key minus bypass     [<= 0.3 ms]
* throughput ratio key / bypass over HTTP with 8 connections                         [>= 0.8]
* added CPU per request in the gunicorn workers
* rate limiter decisions per second: the Redis script from one client, from 8 threads, and the
  in-memory limiter of the embedded default
* usage: the requests the workers counted, flushed to the database at the end

Run: `.venv/bin/python bench/keys_bench.py` (the Makefile's `bench-keys` target). It writes
bench/results/keys-<timestamp>.json. Every process and the database it made are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    BIN,
    HOST,
    USER_AGENT,
    BenchError,
    CpuMeter,
    Endpoint,
    Stack,
    check_endpoint,
    check_postgres,
    create_database,
    ensure_wrk,
    flush_redis,
    local_only,
    portal_env,
    run,
    start_gunicorn,
    tear_down,
    wrk,
)

RESULTS = ROOT / "bench" / "results"
AIM_ADDED_MS = 0.3
AIM_RATIO = 0.8
ORG_SLUG = "keys-bench"
EMAIL = "owner@keys-bench.test"


# ---------------------------------------------------------------- run inside the stack's environment


def seed() -> dict:
    """The org, its owner and one read key with a limit far above the load (the limiter still decides each call)."""
    from portal import create_app
    from portal.accounts.models import User
    from portal.accounts.passwords import hash_password
    from portal.billing import service as billing
    from portal.billing.plans import PLANS
    from portal.extensions import db
    from portal.keys import service
    from portal.models import utcnow
    from portal.orgs.models import Membership, Organization

    app = create_app()
    with app.app_context():
        org = Organization(slug=ORG_SLUG, name="Keys Bench")
        user = User(email=EMAIL, name="Bench Owner", password_hash=hash_password(secrets.token_urlsafe(16)), email_verified_at=utcnow())
        db.session.add_all([org, user])
        db.session.flush()
        membership = Membership(org_id=org.id, user_id=user.id, role="org_admin")
        db.session.add(membership)
        db.session.commit()
        # Enterprise: the free plan's 600 requests a minute (a key's ceiling) and 10,000 calls a month would refuse the load.
        billing.assign_plan(org, "enterprise", by=user)
        ceiling = PLANS["enterprise"].limit("api_rate_limit")
        key, secret = service.create_key(org, membership, name="bench", scopes=["read"], rate_limit=ceiling)
        db.session.commit()  # services flush; the caller's unit of work commits
        return {"slug": ORG_SLUG, "email": EMAIL, "key": secret, "key_id": key.public_id}


def bypass_app():
    """The portal, where a request without credentials runs as the bench user (authentication bypassed:
    the user is made current the way key authentication does it, portal.keys.auth.attach_user, with no
    check at all), while a request with a key goes through key authentication as usual. Both variants
    are measured on the same server processes. Served as `bench.keys_bench:bypass_app()`; never part
    of the portal itself."""
    from flask import g
    from sqlalchemy import inspect, select

    from portal import create_app
    from portal.accounts.models import User
    from portal.extensions import db
    from portal.keys.auth import attach_user

    app = create_app()
    columns: dict = {}

    @app.before_request
    def run_as_the_bench_user():
        if g.get("api_key") is not None:  # authenticated with a key by the portal's own hook
            return
        if not columns:
            user = db.session.scalar(select(User).filter_by(email=os.environ.get("KEYS_BENCH_EMAIL", EMAIL)))
            columns.update({a.key: getattr(user, a.key) for a in inspect(User).column_attrs})
            db.session.expunge(user)
        attach_user(dict(columns))

    return app


def flush_usage() -> dict:
    """Move the workers' usage counts into the database and read the total back."""
    from sqlalchemy import func, select

    from portal import create_app
    from portal.extensions import db
    from portal.keys import tasks
    from portal.keys.models import ApiKeyUsage

    app = create_app()
    with app.app_context():
        tasks.flush_usage()
        total = db.session.scalar(select(func.coalesce(func.sum(ApiKeyUsage.count), 0)))
        by_outcome = dict(db.session.execute(select(ApiKeyUsage.outcome, func.sum(ApiKeyUsage.count)).group_by(ApiKeyUsage.outcome)).all())
    return {"counted": int(total), "by_outcome": {k: int(v) for k, v in by_outcome.items()}}


# ---------------------------------------------------------------- in one process


def in_process(rounds: int, batch: int) -> dict:
    """The added cost without HTTP: the portal with a key vs the bypass app, alternating batches of
    requests through the whole WSGI stack (PostgreSQL, Redis) in this one process."""
    from portal.keys import tokens
    from portal.keys.auth import runtime

    key = os.environ["KEYS_BENCH_KEY"]
    app = bypass_app()
    clients = {"key": (app.test_client(), {"Authorization": f"Bearer {key}"}), "bypass": (app.test_client(), {})}

    def per_request_ms(name: str) -> tuple[float, float]:
        """(wall, this process's CPU) milliseconds per request over one batch."""
        client, headers = clients[name]
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(batch):
            response = client.get("/api/v1/me", headers=headers)
            if response.status_code != 200:
                raise BenchError(f"in-process {name}: /api/v1/me answered {response.status_code}")
        return (time.perf_counter() - started) * 1000 / batch, (time.process_time() - cpu) * 1000 / batch

    for name in clients:
        per_request_ms(name)  # warm: caches, connections, the script on Redis
    diffs, cpu_diffs, key_ms, bypass_ms = [], [], [], []
    for i in range(rounds):
        order = ("key", "bypass") if i % 2 == 0 else ("bypass", "key")
        times = {name: per_request_ms(name) for name in order}
        diffs.append(times["key"][0] - times["bypass"][0])
        cpu_diffs.append(times["key"][1] - times["bypass"][1])
        key_ms.append(times["key"][0])
        bypass_ms.append(times["bypass"][0])

    with app.app_context():
        auth = runtime()
        secret_hash = tokens.digest(key)

        def timed(fn, n: int = 20_000) -> float:
            started = time.perf_counter()
            for _ in range(n):
                fn()
            return (time.perf_counter() - started) * 1e6 / n

        verify_us = timed(lambda: (tokens.well_formed(key), tokens.digest(key), auth.cache.get(secret_hash)))
        leased_us = median(timed(lambda: auth.limiter.hit("key_bench_busy", 1_000_000), 2_000) for _ in range(3))
        trip_us = median(timed(lambda: auth.limiter.hit("key_bench_quiet", 100), 500) for _ in range(3))
    return {
        "added_ms": round(median(diffs), 4), "added_cpu_ms": round(median(cpu_diffs), 4),
        "key_ms": round(median(key_ms), 4), "bypass_ms": round(median(bypass_ms), 4),
        "rounds": rounds, "batch": batch, "verify_us": round(verify_us, 2),
        "decision_busy_key_us": round(leased_us, 1), "decision_round_trip_us": round(trip_us, 1),
    }


# ---------------------------------------------------------------- the rate limiter alone


def limiter_decisions(redis_url: str, seconds: float) -> dict:
    """Decisions per second of the GCRA limiter: a quiet key (under 120 a minute: every decision is a
    Redis round trip) from 1 client and 8 threads, a busy key (leased tokens), and the memory limiter."""
    from portal.infra.ratelimit import MemoryLimiter, RedisLimiter
    from portal.keys.auth import NAMESPACE

    def rate(hit, threads: int, limit: int) -> float:
        stop = time.perf_counter() + seconds
        counts = [0] * threads

        def loop(i: int) -> None:
            key = f"key_bench{limit}_{i:02d}"
            n = 0
            while time.perf_counter() < stop:
                for _ in range(50):
                    hit(key, limit)
                n += 50
            counts[i] = n

        started = time.perf_counter()
        workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return sum(counts) / (time.perf_counter() - started)

    redis_backend = RedisLimiter(redis_url, NAMESPACE)
    # Decisions are real: with a small limit the script answers "no" as fast as "yes".
    redis_backend.hit("key_bench_small", 1)
    if redis_backend.hit("key_bench_small", 1).allowed:
        raise BenchError("the Redis limiter let a second request through a limit of one a minute")
    return {
        "redis_round_trip_1_client_per_s": round(rate(redis_backend.hit, 1, 100)),
        "redis_round_trip_8_threads_per_s": round(rate(redis_backend.hit, 8, 100)),
        "redis_busy_key_leased_1_thread_per_s": round(rate(redis_backend.hit, 1, 1_000_000)),
        "memory_1_thread_per_s": round(rate(MemoryLimiter().hit, 1, 1_000_000)),
    }


# ---------------------------------------------------------------- a Redis database of its own

REDIS_BASE = "redis://127.0.0.1:6379"


def claim_redis_db(base: str):
    """A Redis database no test run or other benchmark on this machine is using, claimed with the test
    suite's claim keys (tests/conftest.py): a test run's RQ worker would otherwise drain this run's usage
    counts, and this run's flush would wipe its queues. Returns the URL and a function that releases it."""
    from redis import Redis

    admin = Redis.from_url(base + "/0", socket_connect_timeout=3)
    token = secrets.token_hex(8)
    for number in range(1, 16):
        claim = f"vetrai:test-db-claim:{number}"
        if admin.set(claim, token, nx=True, ex=3600):
            def release(claim=claim) -> None:
                if admin.get(claim) == token.encode():
                    admin.delete(claim)

            return f"{base}/{number}", release
    raise BenchError("every Redis database 1-15 is claimed by a test run or another benchmark")


# ---------------------------------------------------------------- over HTTP, alternating rounds


def alternating(wrk_bin: str, servers: dict, connections: int, threads: int, seconds: float, rounds: int, meter: CpuMeter) -> dict:
    """`rounds` rounds of one wrk run per server, the order flipping each round; per-run figures by server."""
    runs: dict[str, list[dict]] = {name: [] for name in servers}
    for i in range(rounds):
        order = list(servers) if i % 2 == 0 else list(reversed(servers))
        for name in order:
            url, headers = servers[name]
            before = meter.snapshot()
            raw = wrk(wrk_bin, url, headers, connections, threads, seconds, report=True)
            cpu = CpuMeter.delta(before, meter.snapshot())
            requests = raw["requests"]
            errors = {k[len("errors_"):]: v for k, v in raw.items() if k.startswith("errors_") and v}
            if errors:
                raise BenchError(f"{name}: wrk saw errors {errors} at {connections} connections")
            runs[name].append({
                "rps": requests / (raw["duration_us"] / 1e6), "p50_ms": raw["latency_us"]["p50"] / 1000,
                "p95_ms": raw["latency_us"]["p95"] / 1000, "requests": requests,
                "app_cpu_ms": cpu["app"] * 1000 / requests if cpu and requests else None,
                "other_cpu_share": cpu["other_share"] if cpu else None,
            })
        k, b = runs["key"][-1], runs["bypass"][-1]
        print(f"  round {i + 1}/{rounds}, {connections} connection(s): bypass {b['rps']:7.1f} req/s p50 {b['p50_ms']:6.2f} ms | "
              f"key {k['rps']:7.1f} req/s p50 {k['p50_ms']:6.2f} ms", flush=True)
    return runs


def _pairs(runs: dict, field: str, op) -> list[float]:
    return [op(k[field], b[field]) for k, b in zip(runs["key"], runs["bypass"], strict=True) if k[field] is not None and b[field] is not None]


# ---------------------------------------------------------------- orchestration


def in_stack(env: dict, *args: str) -> dict:
    out = run([sys.executable, str(Path(__file__)), *args], env, args[0])
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="API keys benchmark: key auth vs bypassed auth on GET /api/v1/me.")
    parser.add_argument("--seconds", type=float, default=4, help="seconds of each measured wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per concurrency")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive clients of the throughput rounds")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--limiter-seconds", type=float, default=3)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server (no database)")
    parser.add_argument("--db-name", default="vetrai_keys_bench")
    parser.add_argument("--redis", default=None, help="Redis URL with a database number (it is flushed); "
                        "by default a free database of 127.0.0.1:6379 is claimed the way the test suite claims them")
    parser.add_argument("--strict", action="store_true", help="exit 1 when an aim is missed")
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flush", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seed:
        print(json.dumps(seed()))
        return 0
    if args.flush:
        print(json.dumps(flush_usage()))
        return 0
    if args.in_process:
        print(json.dumps({"in_process": in_process(rounds=31, batch=150), "limiter": limiter_decisions(os.environ["REDIS_URL"], args.limiter_seconds)}))
        return 0

    release = None
    if args.redis is None:
        args.redis, release = claim_redis_db(REDIS_BASE)
    local_only(args.pg, args.redis)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    admin_url = f"{args.pg.rstrip('/')}/postgres"
    db_url = f"{args.pg.rstrip('/')}/{args.db_name}"
    logdir = Path(tempfile.mkdtemp(prefix="vetrai-keys-bench-"))
    stack = Stack(logdir)
    db_created = False
    try:
        wrk_bin = ensure_wrk()
        check_postgres(admin_url)
        flush_redis(args.redis)
        env = portal_env(db_url, args.redis, KEYS_BENCH_EMAIL=EMAIL)
        print(f"Database {args.db_name}: create, migrate, seed one org, its owner and a key ...", flush=True)
        create_database(admin_url, args.db_name)
        db_created = True
        run([str(BIN / "flask"), "db", "upgrade"], env, "flask db upgrade")
        seeded = in_stack(env, "--seed")
        env["KEYS_BENCH_KEY"] = seeded["key"]

        print("In one process: alternating batches, and the rate limiter alone ...", flush=True)
        local = in_stack(env, "--in-process", "--limiter-seconds", str(args.limiter_seconds))
        inproc, limiter = local["in_process"], local["limiter"]

        port, server = start_gunicorn(stack, "portal", "bench.keys_bench:bypass_app()", env)
        ua = {"User-Agent": USER_AGENT}
        key_headers = {**ua, "Authorization": f"Bearer {seeded['key']}"}
        url = f"http://{HOST}:{port}/api/v1/me"
        check_endpoint(port, Endpoint("key", "portal", "/api/v1/me", key_headers, expect=(seeded["email"],)))
        check_endpoint(port, Endpoint("bypass", "portal", "/api/v1/me", ua, expect=(seeded["email"],)))
        servers = {"bypass": (url, ua), "key": (url, key_headers)}
        meter = CpuMeter([server.pid], admin_url, args.db_name)
        for url, headers in servers.values():  # warm both: imports, pools, caches
            wrk(wrk_bin, url, headers, args.connections, args.threads, 2, report=False)

        print(f"Over HTTP: {args.rounds} alternating rounds of {args.seconds:.0f} s, wrk with 1 and then {args.connections} connections", flush=True)
        single = alternating(wrk_bin, servers, 1, 1, args.seconds, args.rounds, meter)
        many = alternating(wrk_bin, servers, args.connections, args.threads, args.seconds, args.rounds, meter)
        added_http_ms = median(_pairs(single, "p50_ms", lambda k, b: k - b))
        ratio = median(_pairs(many, "rps", lambda k, b: k / b))
        cpu_pairs = _pairs(many, "app_cpu_ms", lambda k, b: k - b)
        added_cpu = median(cpu_pairs) if cpu_pairs else None
        other = max((r["other_cpu_share"] or 0) for runs in (single, many) for side in runs.values() for r in side)

        time.sleep(2.5)  # the workers push their usage counts to Redis every second
        usage = in_stack(env, "--flush")
        key_requests = sum(r["requests"] for r in single["key"] + many["key"])

        added_ok = inproc["added_ms"] <= AIM_ADDED_MS
        ratio_ok = ratio >= AIM_RATIO
        print()
        print(f"Added cost per request, in one process (median of {inproc['rounds']} alternating batches of {inproc['batch']}): "
              f"{inproc['added_ms']:+.3f} ms wall, {inproc['added_cpu_ms']:+.3f} ms CPU  "
              f"({inproc['key_ms']:.3f} ms with a key, {inproc['bypass_ms']:.3f} ms bypassed)  [aim <= {AIM_ADDED_MS} ms: {'met' if added_ok else 'MISSED'}]")
        print(f"  parts: format, checksum, SHA-256 and cache lookup {inproc['verify_us']:.1f} us; a rate-limit decision "
              f"{inproc['decision_busy_key_us']:.1f} us for a busy key (leased tokens), {inproc['decision_round_trip_us']:.1f} us "
              "with a Redis round trip (keys under 120 a minute, and every lease)")
        print(f"Added latency per request over HTTP (median p50 difference, 1 connection): {added_http_ms:+.3f} ms")
        if added_cpu is not None:
            print(f"Added CPU per request in the gunicorn workers ({args.connections} connections): {added_cpu:+.3f} ms")
        print(f"Throughput ratio key / bypass (median of {args.rounds} rounds, {args.connections} connections): {ratio:.3f}  "
              f"[aim >= {AIM_RATIO}: {'met' if ratio_ok else 'MISSED'}]")
        print(f"Rate limiter decisions/s: with a Redis round trip each {limiter['redis_round_trip_1_client_per_s']:,} (1 client), "
              f"{limiter['redis_round_trip_8_threads_per_s']:,} (8 threads); busy key on leased tokens "
              f"{limiter['redis_busy_key_leased_1_thread_per_s']:,} (1 thread); in memory {limiter['memory_1_thread_per_s']:,}")
        print(f"Usage counted for the key: {usage['counted']:,} requests {usage['by_outcome']} "
              f"(measured HTTP runs: {key_requests:,}; warm-ups, checks and the in-process batches come on top)")
        print(f"Other processes used up to {other:.0%} of this machine's {os.cpu_count()} CPUs during a run"
              + (": the absolute figures are skewed; the alternating medians much less." if other > 0.10 else "."))

        RESULTS.mkdir(exist_ok=True)
        out_path = RESULTS / f"keys-{stamp}.json"
        out_path.write_text(json.dumps({
            "benchmark": "keys", "timestamp": stamp,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
            "settings": {"gunicorn": "2 workers x 4 threads", "connections": args.connections, "wrk_threads": args.threads,
                         "seconds_per_run": args.seconds, "rounds": args.rounds, "database": "postgresql", "redis": args.redis},
            "aims": {"max_added_ms": AIM_ADDED_MS, "min_ratio": AIM_RATIO},
            "in_process": inproc, "added_http_p50_ms": round(added_http_ms, 4),
            "added_cpu_ms": round(added_cpu, 4) if added_cpu is not None else None, "throughput_ratio": round(ratio, 4),
            "limiter": limiter, "usage": {**usage, "measured_key_requests": key_requests},
            "runs": {"c1": single, f"c{args.connections}": many}, "other_cpu_share_max": round(other, 3),
            "aims_met": added_ok and ratio_ok,
        }, indent=2) + "\n")
        print(f"Results: {out_path.relative_to(ROOT)}")
        return 0 if (added_ok and ratio_ok) or not args.strict else 1
    except BenchError as exc:
        print(f"\nbench: {exc}", file=sys.stderr)
        return 2
    finally:
        tear_down(stack, admin_url, args.db_name if db_created else None, args.redis)
        if release is not None:
            release()
        shutil.rmtree(logdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
