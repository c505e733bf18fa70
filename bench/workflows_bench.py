"""Workflows benchmark: 1,000 runs of a 3-node workflow (no LLM) on 2 RQ workers, next to no-op RQ jobs on
the same workers in the same run.

It starts the real stack on this machine and removes it at the end: a fresh PostgreSQL database, a flushed
Redis database and two `flask worker` processes. Then, for no-op jobs and for workflow runs alike:

1. saturated: hold the workers (a gate job each), enqueue N, release them, time until all are done → per
   second on the workers; enqueue-to-start latency p50/p95 (this includes the time spent waiting behind the
   rest of the batch, and the enqueueing). Also printed: the time to enqueue the batch, and the end-to-end
   rate (N / from the first enqueue to the last completion), which is bounded by this one enqueueing process;
2. paced: enqueue one every --interval seconds (below capacity) → enqueue-to-start latency p50/p95, the
   dispatch latency a single caller sees.

3. plain LangGraph: the same 3-node graph (each node one state update, in Python) compiled with its own
   PostgresSaver and durability "sync", in as many processes as there are workers, on the same database
   (bench/langgraph_baseline.py): what the engine itself needs for the same work. The issue aims for the
   portal's runs at >= 0.7x of its rate.

The runs are spread over Enterprise orgs, as many as the batch needs for the plan's runs at once (a saturated
batch is all queued together). A workflow run is committed, then enqueued; its latency is started_at - enqueued_at from its row. A no-op
job records (start - enqueue) in Redis. The issue aims for >= 0.5x the no-op rate and p50 <= 50 ms.
Run: `.venv/bin/python bench/workflows_bench.py [--runs 1000] [--paced 200]`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
GATE_KEY = "vetrai:bench:gate"
sys.path.insert(0, str(ROOT))

from bench import bench_jobs  # noqa: E402  (sys.path set above)
from bench.bench_jobs import LATENCY_KEY, hold, noop  # noqa: E402

DEFINITION = {
    "name": "Bench three steps",
    "nodes": [
        {"id": "a", "type": "transform", "config": {"set": {"a": "{{ input.n }}"}}},
        {"id": "b", "type": "transform", "config": {"set": {"b": "{{ state.a }}-b"}}},
        {"id": "c", "type": "transform", "config": {"set": {"c": "{{ state.b | upper }}"}}},
    ],
    "edges": [{"from": "START", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "END"}],
}




def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)



class Gate:
    """Holds every worker while a saturated batch is enqueued, then releases them all at once.

    Without it the batch is timed at the pace of this single enqueueing process: a workflow run's enqueue
    commits its row first (a synchronous commit, and the bench process shares the CPUs with the workers),
    so the figure measured this one client, not the workers. The end-to-end figure is printed as well.
    """

    def __init__(self, redis, workers: int):
        from portal.infra.jobs import enqueue
        from portal.infra.jobs import runner as jobs_runner

        self.redis, self.workers = redis, workers
        redis.delete(GATE_KEY)
        for _ in range(workers):
            enqueue(hold, GATE_KEY)
        queue = jobs_runner().queues["default"]
        wait_until(lambda: len(queue) == 0, 60, "the workers to take the gate jobs")
        time.sleep(0.2)  # the gate jobs are taken off the queue a moment before they start

    def release(self) -> float:
        self.redis.rpush(GATE_KEY, *["go"] * self.workers)
        return time.perf_counter()


class CpuMeter:
    """CPU seconds used by the worker processes and by this database's PostgreSQL backends: a cost per job
    that other load on the machine does not skew, unlike a rate."""

    def __init__(self, worker_pids: list[int], db_name: str):
        self.worker_pids, self.db_name = worker_pids, db_name

    @staticmethod
    def _cpu(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone (a backend that disconnected)
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def snapshot(self) -> dict[int, float]:
        from portal.extensions import db

        pids = list(self.worker_pids)
        pids += db.session.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": self.db_name}).all()
        db.session.rollback()
        return {pid: self._cpu(pid) for pid in pids}

    def per_job_ms(self, before: dict[int, float], count: int) -> dict:
        after = self.snapshot()
        workers = sum(after.get(p, 0) - before.get(p, 0) for p in self.worker_pids)
        postgres = sum(v - before.get(p, 0) for p, v in after.items() if p not in self.worker_pids)
        return {"worker_cpu_ms": round(workers / count * 1000, 2), "postgres_cpu_ms": round(postgres / count * 1000, 2)}


def noop_phase(redis, count: int, interval: float, workers: int = 0, meter: CpuMeter | None = None) -> dict:
    from portal.infra.jobs import enqueue

    redis.delete(LATENCY_KEY)
    gate = Gate(redis, workers) if workers else None
    start = time.perf_counter()
    for _ in range(count):
        enqueue(noop, time.time())
        if interval:
            time.sleep(interval)
    enqueued = time.perf_counter() - start
    cpu = meter.snapshot() if meter else None
    released = gate.release() if gate else start
    wait_until(lambda: redis.llen(LATENCY_KEY) >= count, 600, "the no-op jobs")
    end = time.perf_counter()
    lat = [float(x) * 1000 for x in redis.lrange(LATENCY_KEY, 0, -1)]
    return {**(meter.per_job_ms(cpu, count) if meter else {}), "count": count, "seconds": round(end - released, 2), "enqueue_s": round(enqueued, 2), "per_s": round(count / (end - released), 1),
            "end_to_end_per_s": round(count / (end - start), 1), "p50_ms": round(pct(lat, 0.5), 1), "p95_ms": round(pct(lat, 0.95), 1)}


def workflow_phase(tenants: list[tuple], count: int, interval: float, redis=None, workers: int = 0, meter: CpuMeter | None = None) -> dict:
    from portal.extensions import db
    from portal.uow import unit_of_work
    from portal.workflows import service
    from portal.workflows.models import WorkflowRun

    first = db.session.scalar(text("SELECT coalesce(max(id), 0) FROM workflow_run"))
    gate = Gate(redis, workers) if workers else None
    start = time.perf_counter()
    for i in range(count):
        org, user, wf_id = tenants[i % len(tenants)]  # (org, user, workflow id): round robin over the orgs
        with unit_of_work():  # one run per unit, as one API request each: enqueued once it commits
            service.start_run(org, wf_id, {"n": i}, "default", user)
        if interval:
            time.sleep(interval)
    enqueued = time.perf_counter() - start
    cpu = meter.snapshot() if meter else None
    released = gate.release() if gate else start

    def done() -> int:
        db.session.rollback()
        return db.session.scalar(text("SELECT count(*) FROM workflow_run WHERE id > :f AND status IN ('succeeded', 'failed')"), {"f": first})

    wait_until(lambda: done() >= count, 1200, "the workflow runs")
    end = time.perf_counter()
    rows = db.session.execute(db.select(WorkflowRun.status, WorkflowRun.enqueued_at, WorkflowRun.started_at).where(WorkflowRun.id > first)).all()
    failed = sum(1 for r in rows if r.status != "succeeded")
    lat = [(r.started_at - r.enqueued_at).total_seconds() * 1000 for r in rows]
    return {**(meter.per_job_ms(cpu, count) if meter else {}), "count": count, "failed": failed, "seconds": round(end - released, 2), "enqueue_s": round(enqueued, 2), "per_s": round(count / (end - released), 1),
            "end_to_end_per_s": round(count / (end - start), 1), "p50_ms": round(pct(lat, 0.5), 1), "p95_ms": round(pct(lat, 0.95), 1),
            "mean_ms": round(statistics.fmean(lat), 1)}


def langgraph_phase(db_url: str, count: int, processes: int, meter_db: str) -> dict:
    """The same graph in plain LangGraph with its own PostgresSaver, in as many processes as the portal has workers."""
    subprocess.run([sys.executable, str(ROOT / "bench" / "langgraph_baseline.py"), db_url, "0"], cwd=ROOT, check=True)
    share = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    procs = [subprocess.Popen([sys.executable, str(ROOT / "bench" / "langgraph_baseline.py"), db_url, str(n)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for n in share]
    try:
        for proc in procs:
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit("a LangGraph baseline process did not start")
        meter = CpuMeter([p.pid for p in procs], meter_db)
        cpu = meter.snapshot()
        start = time.perf_counter()
        for proc in procs:  # all at once: the processes compete for the CPUs as the portal's workers do
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outs = [json.loads(proc.stdout.readline()) for proc in procs]
        end = time.perf_counter()
        costs = meter.per_job_ms(cpu, count)  # read before the processes exit: their CPU counters go with them
    finally:
        for proc in procs:
            proc.stdin.close()
            proc.wait(30)
    return {**costs, "count": count, "processes": processes, "seconds": round(end - start, 2), "per_s": round(count / (end - start), 1),
            "slowest_process_s": round(max(o["seconds"] for o in outs), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--paced", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between paced enqueues")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    db_name = f"vetrai_wf_bench_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{db_name}",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": secrets.token_hex(16),
        "BASE_URL": "http://bench.test",
        "VETRAI_ENV": "development",
        "WORKFLOW_MAX_CONCURRENT_RUNS": "1000",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    workers: list[subprocess.Popen] = []
    results: dict = {"runs": args.runs, "paced": args.paced, "interval_s": args.interval, "workers": args.workers}
    try:
        import redis as redis_lib

        redis = redis_lib.Redis.from_url(REDIS_URL)
        redis.flushdb()
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        from portal.billing import service as billing
        from portal.billing.plans import PLANS
        from portal.extensions import db
        from portal.workflows import service
        from tests.factories import OrgFactory, member

        app = bench_jobs.bench_app()
        with app.app_context():
            tenants = []
            per_org = PLANS["enterprise"].limit("concurrent_runs")  # a batch queued at once needs this many orgs
            for i in range(-(-max(args.runs, args.paced, 20) // per_org)):
                org = OrgFactory(slug=f"bench-{i}", name=f"Bench Org {i}")
                user = member(org, "org_admin")
                wf = service.create_workflow(org, DEFINITION, user)
                billing.assign_plan(org, "enterprise", by=user)  # the free plan's 100 runs a month would stop the batch
                tenants.append((org, user, wf.public_id))
            db.session.commit()
            results["orgs"] = len(tenants)
            workers = [
                subprocess.Popen([sys.executable, "-m", "flask", "--app", "bench.bench_jobs:bench_app()", "worker"], cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(args.workers)
            ]
            from rq import Worker

            wait_until(lambda: Worker.count(connection=redis) >= args.workers, 60, "the workers to start")
            workflow_phase(tenants, 20, 0)  # warm-up: imports, compiled graph, checkpointer tables
            noop_phase(redis, 50, 0)
            meter = CpuMeter([w.pid for w in workers], db_name)
            results["noop_saturated"] = noop_phase(redis, args.runs, 0, args.workers, meter)
            results["workflow_saturated"] = workflow_phase(tenants, args.runs, 0, redis, args.workers, meter)
            results["langgraph_saturated"] = langgraph_phase(env["DATABASE_URL"], args.runs, args.workers, db_name)
            results["noop_paced"] = noop_phase(redis, args.paced, args.interval)
            results["workflow_paced"] = workflow_phase(tenants, args.paced, args.interval)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                w.kill()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()

    ns, ws = results["noop_saturated"], results["workflow_saturated"]
    npc, wpc = results["noop_paced"], results["workflow_paced"]
    lg = results["langgraph_saturated"]
    results["ratio_runs_per_s"] = round(ws["per_s"] / ns["per_s"], 3)
    results["ratio_vs_langgraph"] = round(ws["per_s"] / lg["per_s"], 3)
    results["ratio_cpu_vs_langgraph"] = round((lg["worker_cpu_ms"] + lg["postgres_cpu_ms"]) / (ws["worker_cpu_ms"] + ws["postgres_cpu_ms"]), 3)
    results["ratio_end_to_end"] = round(ws["end_to_end_per_s"] / ns["end_to_end_per_s"], 3)
    # The rate the same CPUs would give workflow runs vs no-op jobs if nothing else ran on the machine.
    results["ratio_cpu"] = round((ns["worker_cpu_ms"] + ns["postgres_cpu_ms"]) / (ws["worker_cpu_ms"] + ws["postgres_cpu_ms"]), 3)
    print(f"\n{args.runs:,} runs of a 3-node workflow vs no-op RQ jobs, {args.workers} workers (PostgreSQL, Redis)\n")
    print(f"{'':24} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8} {'enqueue s':>10} {'end-to-end per s':>17}")
    print(f"{'no-op jobs, saturated':24} {ns['per_s']:>8} {ns['p50_ms']:>8} {ns['p95_ms']:>8} {ns['enqueue_s']:>10} {ns['end_to_end_per_s']:>17}")
    print(f"{'workflow runs, saturated':24} {ws['per_s']:>8} {ws['p50_ms']:>8} {ws['p95_ms']:>8} {ws['enqueue_s']:>10} {ws['end_to_end_per_s']:>17}"
          f"   ({ws['failed']} failed)")
    print(f"{'plain LangGraph':24} {lg['per_s']:>8} {'':>8} {'':>8} {'':>10} {'':>17}   ({lg['processes']} processes, PostgresSaver, sync)")
    print(f"{'no-op jobs, paced':24} {npc['per_s']:>8} {npc['p50_ms']:>8} {npc['p95_ms']:>8}")
    print(f"{'workflow runs, paced':24} {wpc['per_s']:>8} {wpc['p50_ms']:>8} {wpc['p95_ms']:>8}   ({wpc['failed']} failed)")
    print(f"\nCPU per job in the saturated batches (ms, workers + PostgreSQL): no-op {ns['worker_cpu_ms']} + {ns['postgres_cpu_ms']}, "
          f"workflow run {ws['worker_cpu_ms']} + {ws['postgres_cpu_ms']} → CPU-bound rate ratio {results['ratio_cpu']}x; "
          f"plain LangGraph {lg['worker_cpu_ms']} + {lg['postgres_cpu_ms']} → {results['ratio_cpu_vs_langgraph']}x of it")
    print(f"\nruns per second vs plain LangGraph + PostgresSaver, same processes, graph and database: {results['ratio_vs_langgraph']}x (target >= 0.7)")
    print(f"\nruns per second vs no-op, on the workers (batch enqueued while they were held): {results['ratio_runs_per_s']}x (target >= 0.5)")
    print(f"end to end (one process enqueueing while the workers run): {results['ratio_end_to_end']}x; paced enqueue-to-start p50 {wpc['p50_ms']} ms (target <= 50)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"workflows-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
