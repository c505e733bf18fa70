"""Themes benchmark: what a published theme adds to an org page, and how fast the theme stylesheet answers a 304.

The same dashboard, `GET /o/<slug>/`, for an org with a published theme (a preset, the Inter font, custom CSS)
and for an org with none, both seen by the same logged-in member, on the real stack: gunicorn (2 workers x 4
threads, as `bench/run.py`), a fresh PostgreSQL database and a flushed Redis database. The two orgs have the
same members and invitations, so the pages differ only by the theme: its lookup, the cached compiled theme, and
the <link> tags the layout writes. Measured in alternating rounds (themed, plain, plain, themed, ...), the figures
being medians of the per-round differences, so that a neighbour's load on a shared machine skews both sides alike:

* added cost per page, in one process: the themed page minus the plain one, alternating batches through the
  whole WSGI stack with PostgreSQL                                                     [aim <= 0.2 ms]
* added latency per page over HTTP: p50 with one connection, themed minus plain
* added CPU per page in the gunicorn workers, and the throughput ratio themed / plain at 8 connections
* the theme stylesheet answered from the browser's copy (`If-None-Match` -> 304), the public API URL and the
  org page's own (session) URL, against a bare Flask endpoint measured in the same run (`bench/bare_app.py`)

Run: `.venv/bin/python bench/themes_bench.py [--rounds 5] [--seconds 4]`. It writes bench/results/themes-<timestamp>.json.
All traffic stays on 127.0.0.1; every process and the database it made are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.keys_bench import REDIS_BASE, claim_redis_db  # noqa: E402
from bench.run import (  # noqa: E402 - after the path insert
    BIN,
    HOST,
    RESULTS,
    USER_AGENT,
    BenchError,
    Client,
    CpuMeter,
    Endpoint,
    Stack,
    _CsrfFinder,
    bare_drift,
    check_endpoint,
    check_postgres,
    create_database,
    ensure_wrk,
    flush_redis,
    get_once,
    local_only,
    login,
    measure,
    portal_env,
    print_table,
    run,
    start_gunicorn,
    tear_down,
    wrk,
)

EMAIL = "owner@themes-bench.test"
PASSWORD = "themes-bench-pass-2718"
THEMED, PLAIN = "themed-org", "plain-org"
MEMBERS = 8  # the free plan has 10 seats: the owner, 8 members and one invitation
AIM_ADDED_MS = 0.2
CUSTOM_CSS = ".page-head h1 { letter-spacing: .02em; }\narticle.stats-card { border-top: 3px solid var(--portal-accent); }\n"


def seed() -> dict:
    """Two orgs with the same members and invitations, one owner in both; the first publishes a theme."""
    from portal import create_app
    from portal.accounts.models import User
    from portal.accounts.passwords import hash_password
    from portal.extensions import db
    from portal.models import utcnow
    from portal.orgs.models import Membership, Organization
    from portal.orgs.service import invite
    from portal.themes import service as themes

    app = create_app()
    with app.app_context():
        owner = User(email=EMAIL, name="Bench Owner", password_hash=hash_password(PASSWORD), email_verified_at=utcnow())
        db.session.add(owner)
        shared = hash_password("not-used-" + PASSWORD)  # only the owner logs in
        people = [User(email=f"member{i}@themes-bench.test", name=f"Member {i:02d}", password_hash=shared, email_verified_at=utcnow())
                  for i in range(MEMBERS)]
        db.session.add_all(people)
        orgs = {slug: Organization(slug=slug, name=slug.replace("-", " ").title()) for slug in (THEMED, PLAIN)}
        db.session.add_all(orgs.values())
        db.session.flush()
        for org in orgs.values():
            db.session.add(Membership(org_id=org.id, user_id=owner.id, role="org_admin"))
            db.session.add_all(Membership(org_id=org.id, user_id=p.id, role="user") for p in people)
            invite(org, "newcomer@themes-bench.test", "user", by=owner)
        themed = orgs[THEMED]
        themes.apply_preset(themed, "forest", by=owner)
        themes.update_draft(themed, {"accent": "#9a3412"}, custom_css=CUSTOM_CSS, by=owner)
        version = themes.publish(themed, by=owner)
        db.session.commit()  # services flush; the caller's unit of work commits
        return {"email": EMAIL, "password": PASSWORD, "themed": THEMED, "plain": PLAIN, "org_id": themed.public_id,
                "version": version.public_id}


# ---------------------------------------------------------------- in one process


def in_process(rounds: int, batch: int) -> dict:
    """The added cost without HTTP: the themed dashboard minus the plain one, alternating batches of requests
    through the whole WSGI stack (PostgreSQL, Redis) in this one process; and one theme lookup on its own."""
    from portal import create_app
    from portal.orgs.service import org_by_slug
    from portal.themes import service as themes

    app = create_app()
    client = app.test_client()
    finder = _CsrfFinder()
    finder.feed(client.get("/login").text)
    answer = client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": finder.token})
    if answer.status_code not in (302, 303):
        raise BenchError(f"in-process login answered {answer.status_code}")
    pages = {"themed": f"/o/{THEMED}/", "plain": f"/o/{PLAIN}/"}

    def per_request_ms(name: str) -> tuple[float, float]:
        """(wall, this process's CPU) milliseconds per request over one batch."""
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(batch):
            response = client.get(pages[name], headers={"User-Agent": USER_AGENT})
            if response.status_code != 200:
                raise BenchError(f"in-process {name}: {pages[name]} answered {response.status_code}")
        return (time.perf_counter() - started) * 1000 / batch, (time.process_time() - cpu) * 1000 / batch

    for name in pages:
        per_request_ms(name)  # warm: templates, the compiled theme, the connection pool
    if "theme.css?v=" not in client.get(pages["themed"]).text or "theme.css" in client.get(pages["plain"]).text:
        raise BenchError("the themed page does not link its theme, or the plain page does")
    diffs, cpu_diffs, themed_ms, plain_ms = [], [], [], []
    for i in range(rounds):
        order = ("themed", "plain") if i % 2 == 0 else ("plain", "themed")
        times = {name: per_request_ms(name) for name in order}
        diffs.append(times["themed"][0] - times["plain"][0])
        cpu_diffs.append(times["themed"][1] - times["plain"][1])
        themed_ms.append(times["themed"][0])
        plain_ms.append(times["plain"][0])

    with app.test_request_context():
        org = org_by_slug(THEMED)

        def timed_us(fn, n: int = 3000) -> float:
            started = time.perf_counter()
            for _ in range(n):
                fn()
            return (time.perf_counter() - started) * 1e6 / n

        lookup_us = median(timed_us(lambda: themes.published_version(org)) for _ in range(5))
        cached_us = median(timed_us(lambda: themes.published(org)) for _ in range(5))
    return {
        "added_ms": round(median(diffs), 4), "added_cpu_ms": round(median(cpu_diffs), 4),
        "themed_ms": round(median(themed_ms), 4), "plain_ms": round(median(plain_ms), 4), "rounds": rounds, "batch": batch,
        "version_lookup_us": round(lookup_us, 1), "published_theme_us": round(cached_us, 1),
    }


# ---------------------------------------------------------------- over HTTP


def alternating(wrk_bin: str, pages: dict, connections: int, threads: int, seconds: float, rounds: int, meter: CpuMeter) -> dict:
    """`rounds` rounds of one wrk run per page, the order flipping each round; per-run figures by page."""
    runs: dict[str, list[dict]] = {name: [] for name in pages}
    for i in range(rounds):
        for name in (list(pages) if i % 2 == 0 else list(reversed(pages))):
            url, headers = pages[name]
            before = meter.snapshot()
            raw = wrk(wrk_bin, url, headers, connections, threads, seconds, report=True)
            cpu = CpuMeter.delta(before, meter.snapshot())
            errors = {k[len("errors_"):]: v for k, v in raw.items() if k.startswith("errors_") and v}
            if errors:
                raise BenchError(f"{name}: wrk saw errors {errors} at {connections} connections")
            requests = raw["requests"]
            runs[name].append({
                "rps": requests / (raw["duration_us"] / 1e6), "p50_ms": raw["latency_us"]["p50"] / 1000,
                "p95_ms": raw["latency_us"]["p95"] / 1000, "requests": requests,
                "app_cpu_ms": cpu["app"] * 1000 / requests if cpu and requests else None,
                "db_cpu_ms": cpu["db"] * 1000 / requests if cpu and requests else None,
                "other_cpu_share": cpu["other_share"] if cpu else None,
            })
        t, p = runs["themed"][-1], runs["plain"][-1]
        print(f"  round {i + 1}/{rounds}, {connections} connection(s): plain {p['rps']:7.1f} req/s p50 {p['p50_ms']:6.2f} ms | "
              f"themed {t['rps']:7.1f} req/s p50 {t['p50_ms']:6.2f} ms", flush=True)
    return runs


def _pairs(runs: dict, field: str, op) -> list[float]:
    return [op(t[field], p[field]) for t, p in zip(runs["themed"], runs["plain"], strict=True) if t[field] is not None and p[field] is not None]


def etag_of(port: int, path: str, headers: dict) -> str:
    """The stylesheet's ETag, after checking that it answers 200 as CSS and 304 when the browser holds it."""
    client = Client(port)
    try:
        status, got, body, _ = client.request("GET", path, headers=headers)
        etag = got.get("ETag")
        if status != 200 or "text/css" not in (got.get("Content-Type") or "") or not etag or "--portal-primary" not in body:
            raise BenchError(f"GET {path} answered {status} {got.get('Content-Type')} without the theme's CSS and an ETag")
        status, _, body, _ = client.request("GET", path, headers={**headers, "If-None-Match": etag})
        if status != 304 or body:
            raise BenchError(f"GET {path} with If-None-Match answered {status}, not an empty 304")
        return etag
    finally:
        client.close()


def linked_stylesheet(port: int, path: str, headers: dict) -> str:
    """The stylesheet URL the page at path links (?v= names its content)."""
    _, _, body, _ = get_once(port, path, headers)
    found = re.search(r'href="([^"]*theme\.css\?v=[^"]+)"', body)
    if found is None:
        raise BenchError(f"GET {path} links no theme stylesheet")
    return found.group(1)


def in_stack(env: dict, *args: str) -> dict:
    out = run([sys.executable, str(Path(__file__)), *args], env, args[0], timeout=1200)
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Themes benchmark: a themed org page vs a plain one, and the stylesheet's 304.")
    parser.add_argument("--seconds", type=float, default=4, help="seconds of each measured wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per concurrency")
    parser.add_argument("--duration", type=float, default=8, help="seconds of each stylesheet run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured load before each stylesheet run")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive clients")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server (no database)")
    parser.add_argument("--db-name", default="vetrai_themes_bench")
    parser.add_argument("--redis", default=None, help="Redis URL with a database number (it is flushed); "
                        "by default a free database of 127.0.0.1:6379 is claimed the way the test suite claims them")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the aim is missed")
    parser.add_argument("--rounds-in-process", type=int, default=41, help="alternating batches in one process")
    parser.add_argument("--batch", type=int, default=10, help="requests per batch in one process")
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seed:
        print(json.dumps(seed()))
        return 0
    if args.in_process:
        print(json.dumps(in_process(rounds=args.rounds_in_process, batch=args.batch)))
        return 0

    release = None
    if args.redis is None:
        args.redis, release = claim_redis_db(REDIS_BASE)
    local_only(args.pg, args.redis)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    admin_url = f"{args.pg.rstrip('/')}/postgres"
    db_url = f"{args.pg.rstrip('/')}/{args.db_name}"
    logdir = Path(tempfile.mkdtemp(prefix="vetrai-themes-bench-"))
    stack = Stack(logdir)
    db_created = False
    try:
        wrk_bin = ensure_wrk()
        check_postgres(admin_url)
        flush_redis(args.redis)
        env = portal_env(db_url, args.redis)
        print(f"Database {args.db_name}: create, migrate, seed two orgs (one with a published theme) ...", flush=True)
        create_database(admin_url, args.db_name)
        db_created = True
        run([str(BIN / "flask"), "db", "upgrade"], env, "flask db upgrade")
        seeded = in_stack(env, "--seed")

        print("In one process: alternating batches of the themed and the plain dashboard ...", flush=True)
        inproc = in_stack(env, "--in-process", "--rounds-in-process", str(args.rounds_in_process), "--batch", str(args.batch))

        portal_port, portal = start_gunicorn(stack, "portal", "wsgi:app", env)
        bare_port, bare = start_gunicorn(stack, "bare", "bench.bare_app:app", env, ready_path="/")
        cookie = login(portal_port, EMAIL, PASSWORD, PLAIN)
        ua = {"User-Agent": USER_AGENT}
        auth = {**ua, "Cookie": f"session={cookie}"}
        check_endpoint(portal_port, Endpoint("themed", "portal", f"/o/{THEMED}/", auth, expect=("<html", "theme.css?v=")))
        check_endpoint(portal_port, Endpoint("plain", "portal", f"/o/{PLAIN}/", auth, expect=("<html",), refuse=("theme.css",)))
        base = f"http://{HOST}:{portal_port}"
        pages = {"themed": (f"{base}/o/{THEMED}/", auth), "plain": (f"{base}/o/{PLAIN}/", auth)}
        meter = CpuMeter([portal.pid, bare.pid], admin_url, args.db_name)
        for url, headers in pages.values():  # warm both: imports, pools, the compiled theme in each worker
            wrk(wrk_bin, url, headers, args.connections, args.threads, 2, report=False)

        print(f"Over HTTP: {args.rounds} alternating rounds of {args.seconds:.0f} s, wrk with 1 and then {args.connections} connections",
              flush=True)
        single = alternating(wrk_bin, pages, 1, 1, args.seconds, args.rounds, meter)
        many = alternating(wrk_bin, pages, args.connections, args.threads, args.seconds, args.rounds, meter)
        added_http_ms = median(_pairs(single, "p50_ms", lambda t, p: t - p))
        ratio = median(_pairs(many, "rps", lambda t, p: t / p))
        cpu_pairs = _pairs(many, "app_cpu_ms", lambda t, p: t - p)
        added_cpu = median(cpu_pairs) if cpu_pairs else None
        db_pairs = _pairs(many, "db_cpu_ms", lambda t, p: t - p)
        added_db = median(db_pairs) if db_pairs else None

        page_css = linked_stylesheet(portal_port, f"/o/{THEMED}/", auth)
        api_css = f"/api/v1/themes/{seeded['org_id']}/css?v={page_css.rsplit('=', 1)[1]}"  # the same content, public
        api_etag, page_etag = etag_of(portal_port, api_css, ua), etag_of(portal_port, page_css, auth)
        print(f"Stylesheet answered 304 from the browser's copy: wrk, {args.connections} connections, warm-up {args.warmup:.0f} s, "
              f"run {args.duration:.0f} s", flush=True)
        bare_url = f"http://{HOST}:{bare_port}/"
        css_args = argparse.Namespace(**vars(args))
        results = [measure(wrk_bin, "bare Flask (baseline, first)", bare_url, ua, css_args, meter),
                   measure(wrk_bin, "GET /api/v1/themes/<org>/css 304", base + api_css, {**ua, "If-None-Match": api_etag},
                           css_args, meter),
                   measure(wrk_bin, "GET /o/<slug>/theme.css 304", base + page_css, {**auth, "If-None-Match": page_etag},
                           css_args, meter),
                   measure(wrk_bin, "bare Flask (baseline, last)", bare_url, ua, css_args, meter)]
        baseline = (results[0].rps + results[-1].rps) / 2
        drift = bare_drift(results[0].rps, results[-1].rps)
        for r in results if drift is None else ():
            r.ratio = round(r.rps / baseline, 4)
        print_table(results, None, float("inf"))
        if drift is not None:
            print(f"bench: {drift}: the stylesheet's ratios are not printed. Rerun on a quiet machine.", file=sys.stderr)

        added_ok = inproc["added_ms"] <= AIM_ADDED_MS
        print("Published theme on the dashboard (themed minus plain, medians of alternating rounds):")
        print(f"  added cost per page in one process: {inproc['added_ms']:+.3f} ms wall, {inproc['added_cpu_ms']:+.3f} ms CPU "
              f"({inproc['themed_ms']:.3f} ms themed, {inproc['plain_ms']:.3f} ms plain)  "
              f"[aim <= {AIM_ADDED_MS} ms: {'met' if added_ok else 'MISSED'}]")
        print(f"  what the layout asks of themes per page (the compiled theme, from the caches, no query): "
              f"{inproc['published_theme_us']:.0f} us; the one indexed read the version cache saves: {inproc['version_lookup_us']:.0f} us")
        print(f"  added latency over HTTP (median p50 difference, 1 connection): {added_http_ms:+.3f} ms")
        if added_cpu is not None:
            print(f"  added CPU per page at {args.connections} connections: {added_cpu:+.3f} ms in the gunicorn workers, "
                  f"{added_db:+.3f} ms in PostgreSQL")
        print(f"  throughput themed / plain at {args.connections} connections: {ratio:.3f}")

        RESULTS.mkdir(exist_ok=True)
        out_path = RESULTS / f"themes-{stamp}.json"
        out_path.write_text(json.dumps({
            "benchmark": "themes", "timestamp": stamp,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "loadavg_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None},
            "settings": {"rounds": args.rounds, "seconds": args.seconds, "duration_s": args.duration, "connections": args.connections,
                         "wrk_threads": args.threads, "members": MEMBERS},
            "aims": {"max_added_ms": AIM_ADDED_MS},
            "in_process": inproc, "added_http_p50_ms": round(added_http_ms, 4),
            "added_cpu_ms": round(added_cpu, 4) if added_cpu is not None else None,
            "added_db_cpu_ms": round(added_db, 4) if added_db is not None else None,
            "throughput_ratio": round(ratio, 4), "pages": {"single": single, "many": many},
            "stylesheet_304": {"baseline_rps": round(baseline, 1), "results": [vars(r) for r in results]},
            "aim_met": added_ok,
        }, indent=2) + "\n")
        print(f"Results: {out_path.relative_to(Path(__file__).resolve().parent.parent)}")
        return 0 if added_ok or not args.strict else 1
    except BenchError as exc:
        print(f"\nbench: {exc}", file=sys.stderr)
        return 2
    finally:
        tear_down(stack, admin_url, args.db_name if db_created else None, args.redis)
        shutil.rmtree(logdir, ignore_errors=True)
        if release is not None:
            release()


if __name__ == "__main__":
    sys.exit(main())
