"""What the unit of work adds to a page, in one process: the dashboard with the request's commit hook and without it.

Run by bench/run.py in a subprocess pointed at the bench database (after seeding); prints one JSON line. The same
test client, logged in as the seeded org_admin, GETs the dashboard in alternating batches: with the unit of work's
after-request hook (it commits a request that answered below 400) and with that hook swapped for a no-op (the
session is then only closed, as Flask-SQLAlchemy does at teardown: the pool rolls the transaction back). The
difference per request, median over the rounds, is what the unit of work costs a read-only page; the issue aims at
<= 0.2 ms.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seed import ADMIN_EMAIL, ADMIN_PASSWORD, ORG_SLUG  # noqa: E402 - after the path insert


def measure(rounds: int = 21, batch: int = 40) -> dict:
    """Per request: CPU and wall milliseconds with the unit of work's hook and without it, and the median difference."""
    from portal import create_app

    app = create_app()
    hooks = app.after_request_funcs[None]
    at = next(i for i, fn in enumerate(hooks) if getattr(fn, "__name__", "") == "commit_or_roll_back")
    variants = {"unit of work": hooks[at], "without": lambda response: response}
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token})
    if answer.status_code not in (302, 303):
        raise SystemExit(f"uow_cost: login answered {answer.status_code}")
    path = f"/o/{ORG_SLUG}/"

    def batch_ms(name: str) -> tuple[float, float]:
        hooks[at] = variants[name]  # same place in the chain: after-request hooks run in reverse order of registration
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(batch):
            if client.get(path).status_code != 200:
                raise SystemExit(f"uow_cost: {path} did not answer 200 ({name})")
        return (time.perf_counter() - wall) * 1000 / batch, (time.process_time() - cpu) * 1000 / batch

    for name in variants:
        batch_ms(name)  # warm: the pool, the compiled statements, the template cache
    cpu_diffs, wall_diffs, with_cpu, without_cpu = [], [], [], []
    for i in range(rounds):
        ms = {name: batch_ms(name) for name in (("unit of work", "without") if i % 2 == 0 else ("without", "unit of work"))}
        wall_diffs.append(ms["unit of work"][0] - ms["without"][0])
        cpu_diffs.append(ms["unit of work"][1] - ms["without"][1])
        with_cpu.append(ms["unit of work"][1])
        without_cpu.append(ms["without"][1])
    hooks[at] = variants["unit of work"]
    return {"added_cpu_ms": round(median(cpu_diffs), 3), "added_wall_ms": round(median(wall_diffs), 3),
            "with_cpu_ms": round(median(with_cpu), 3), "without_cpu_ms": round(median(without_cpu), 3),
            "rounds": rounds, "batch": batch, "path": path}


if __name__ == "__main__":
    print(json.dumps(measure()))
