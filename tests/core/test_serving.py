"""The portal is served by gunicorn with gunicorn.conf.py, in development as in production; production
refuses several web workers without Redis, saying why."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, free_port

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def _env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "SMTP_", "TWILIO_", "S3_", "STRIPE_", "DATABASE_"))}
    env.update(SECRET_KEY="serving-test", DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}", STORAGE_DIR=str(tmp_path / "files"),
               HOST="127.0.0.1", PORT=str(free_port()), **extra)
    return env


def test_production_refuses_several_web_workers_without_redis(tmp_path):
    env = _env(tmp_path, VETRAI_ENV="production", WEB_CONCURRENCY="2")
    done = subprocess.run([GUNICORN, "wsgi:app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "without REDIS_URL" in done.stderr + done.stdout
    assert "WEB_CONCURRENCY=1" in done.stderr + done.stdout


def test_one_gunicorn_worker_serves_the_portal_without_redis(tmp_path):
    env = _env(tmp_path, VETRAI_ENV="development", WEB_CONCURRENCY="1")
    proc = subprocess.Popen([GUNICORN, "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline, answer = time.monotonic() + 30, None
        while time.monotonic() < deadline and answer is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{env['PORT']}/health", timeout=2) as response:
                    answer = response.status
            except OSError:
                time.sleep(0.2)
        assert answer == 200
    finally:
        proc.terminate()
        proc.wait(15)
