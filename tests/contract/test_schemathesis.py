"""Schemathesis against the live portal (gunicorn, PostgreSQL, Redis) with an admin key: every check,
every phase (examples, coverage, fuzzing, stateful), a fixed seed and a time budget. Any 5xx, any
response that does not match its schema, any status the document does not list fails the run."""

from __future__ import annotations

import os

import pytest

from tests.conftest import ARTIFACTS
from tests.contract.stack import live_portal, schemathesis

BUDGET = int(os.environ.get("SCHEMATHESIS_SECONDS", "170"))


@pytest.mark.timeout(BUDGET + 420)
def test_every_generated_request_gets_an_answer_the_openapi_document_allows(tmp_path):
    with live_portal(tmp=tmp_path) as (base, key):
        done = schemathesis(base, key, max_time=BUDGET, report_dir=ARTIFACTS / "schemathesis")
    summary = done.stdout[-6000:]
    assert done.returncode == 0, f"schemathesis found problems (full report in tests/artifacts/schemathesis):\n{summary}\n{done.stderr[-2000:]}"
