"""A live portal for contract testing: a fresh PostgreSQL database, a claimed Redis database, the demo
data, an admin-scoped API key, and gunicorn serving it on a loopback port.

`python -m tests.contract.stack` runs schemathesis against it once, by hand, with the same settings as
the CI test (tests/contract/test_schemathesis.py); `--max-time` and `--source DIR` (another checkout,
e.g. to measure an older commit) change the run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT, claimed_redis_db, free_port, fresh_postgres_db

BIN = Path(sys.executable).parent
SEED = 20261202
CONFIG = Path(__file__).with_name("schemathesis.toml")


@contextmanager
def live_portal(source: Path = ROOT, tmp: Path | None = None):
    """Yield (base_url, admin_key) for a portal on PostgreSQL + Redis served by gunicorn from `source`."""
    tmp = tmp or Path(os.environ.get("TMPDIR", "/tmp"))
    with fresh_postgres_db() as db_url, claimed_redis_db() as redis_url:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "TWILIO_", "S3_", "STRIPE_"))}
        env.update(DATABASE_URL=db_url, REDIS_URL=redis_url, SECRET_KEY="contract-" + str(port), VETRAI_ENV="development",
                   FLASK_APP="wsgi", STORAGE_DIR=str(tmp / f"contract-files-{port}"), HOST="127.0.0.1", PORT=str(port),
                   WEB_CONCURRENCY="2", GUNICORN_ACCESS_LOG="", PYTHONPATH=str(source))
        flask = [str(BIN / "flask")]
        subprocess.run([*flask, "db", "upgrade"], cwd=source, env=env, check=True, capture_output=True)
        subprocess.run([*flask, "seed-demo"], cwd=source, env=env, check=True, capture_output=True)
        # Enterprise: a key rate limit high enough (60,000/min) that the fuzzer's pace is not throttled
        subprocess.run([*flask, "billing", "assign-plan", "--org", "demo", "--plan", "enterprise", "--by", "root@vetrai.test"],
                       cwd=source, env=env, check=True, capture_output=True)
        created = subprocess.run([*flask, "keys", "create", "--org", "demo", "--email", "admin@demo.test", "--scopes",
                                  "read,write,admin", "--name", "contract tests", "--rate-limit", "60000"],
                                 cwd=source, env=env, check=True, capture_output=True, text=True)
        key = created.stdout.strip().splitlines()[-1]
        log = open(tmp / f"contract-gunicorn-{port}.log", "wb")  # noqa: SIM115 - as long as the server
        server = subprocess.Popen([str(BIN / "gunicorn"), "wsgi:app"], cwd=source, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base + "/health")
            yield base, key
        finally:
            server.terminate()
            server.wait(20)
            log.close()


def _wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the portal did not come up at {url}")


def schemathesis(base: str, key: str, *, max_time: int, report_dir: Path) -> subprocess.CompletedProcess:
    """One schemathesis run: every check, every phase, a fixed seed, a time budget."""
    report_dir.mkdir(parents=True, exist_ok=True)
    command = [
        str(BIN / "st"), "--config-file", str(CONFIG), "run", f"{base}/api/v1/openapi.json", "--url", base,
        "--phases", "examples,coverage,fuzzing,stateful",  # every check: the default (the config turns a few off per operation)
        # One worker: with two threads hypothesis parses lambdas' source with ast at once, and CPython 3.11.7 then
        # raises "AST constructor recursion depth mismatch" (gh-106905) inside schemathesis, failing the run.
        "--seed", str(SEED), "--max-time", str(max_time), "--workers", "1",
        "--request-timeout", "10", "--suppress-health-check", "all",
        "--report", "junit,json", "--report-dir", str(report_dir),
        "--no-color",
    ]
    env = {**os.environ, "VETRAI_CONTRACT_KEY": key}
    return subprocess.run(command, capture_output=True, text=True, timeout=max_time + 300, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-time", type=int, default=170)
    parser.add_argument("--source", type=Path, default=ROOT)
    args = parser.parse_args()
    with live_portal(args.source) as (base, key):
        done = schemathesis(base, key, max_time=args.max_time, report_dir=ROOT / "tests" / "artifacts" / "schemathesis")
    print(done.stdout[-20000:])
    print(done.stderr[-3000:], file=sys.stderr)
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
