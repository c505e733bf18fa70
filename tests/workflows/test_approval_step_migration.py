"""The data migration that leaves a decided approval one step: runs resumed before the fix had recorded a second,
"succeeded" step for the approval node; the migration drops it and keeps every other step."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from portal.extensions import db
from portal.orgs.models import Organization
from portal.workflows.models import Workflow, WorkflowRun, WorkflowVersion
from tests.conftest import ROOT, scratch_app

BEFORE = "f2b6d8a4c9e1"  # the revision before the data migration


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_the_migration_drops_the_second_step_of_a_decided_approval_only(tmp_path, backend_name):
    with scratch_app(tmp_path, backend_name) as app:
        _migrate_and_check(app)


def _migrate_and_check(app) -> None:
    directory = str(ROOT / "migrations")
    with app.app_context():
        upgrade(directory=directory, revision=BEFORE)
        org = Organization(name="Acme", slug="acme")
        db.session.add(org)
        db.session.flush()
        wf = Workflow(org_id=org.id, name="Expense approval")
        db.session.add(wf)
        db.session.flush()
        version = WorkflowVersion(workflow_id=wf.id, number=1, definition={})
        db.session.add(version)
        db.session.flush()
        runs = [WorkflowRun(org_id=org.id, workflow_id=wf.id, version_id=version.id, status=s) for s in ("succeeded", "rejected", "waiting_for_approval")]
        db.session.add_all(runs)
        db.session.commit()
        approved, rejected, waiting = (r.id for r in runs)
        steps = [  # (run, node, type, status): the old duplicate is the approved run's second "approve" step
            (approved, "draft", "transform", "succeeded"), (approved, "approve", "approval", "approved"),
            (approved, "approve", "approval", "succeeded"), (approved, "record", "transform", "succeeded"),
            (rejected, "draft", "transform", "succeeded"), (rejected, "approve", "approval", "rejected"),
            (waiting, "approve", "approval", "waiting"), (waiting, "note", "approval", "succeeded"),
        ]
        with db.engine.begin() as conn:
            for run_id, node, node_type, status in steps:
                conn.execute(text("INSERT INTO workflow_step (run_id, node_id, node_type, status, attempt, started_at) "
                                  "VALUES (:r, :n, :t, :s, 1, CURRENT_TIMESTAMP)"), {"r": run_id, "n": node, "t": node_type, "s": status})
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            left = conn.execute(text("SELECT run_id, node_id, node_type, status FROM workflow_step ORDER BY id")).all()
        assert [tuple(row) for row in left] == [s for s in steps if s != (approved, "approve", "approval", "succeeded")]
        db.session.remove()
        db.engine.dispose()
