"""workflows: a decided approval is one step; drop the second step resumed runs used to record for the node

Until now a run resumed past its approval wrote another step for the approval node ("succeeded"), next to the
step recorded at the pause and marked with the decision ("approved"). The run page hid it and the API listed it;
now neither records nor filters it, so the runs decided so far lose their duplicate. Data only.

Revision ID: a9c4e7b1d3f8
Revises: f2b6d8a4c9e1
Create Date: 2026-12-04 19:45:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a9c4e7b1d3f8'
down_revision = 'f2b6d8a4c9e1'
branch_labels = None
depends_on = None


def upgrade():
    # The duplicate: an approval node's "succeeded" step after the same run's "approved" step for that node.
    op.execute(
        "DELETE FROM workflow_step WHERE node_type = 'approval' AND status = 'succeeded' AND EXISTS ("
        "SELECT 1 FROM workflow_step decided WHERE decided.run_id = workflow_step.run_id "
        "AND decided.node_id = workflow_step.node_id AND decided.status = 'approved' AND decided.id < workflow_step.id)"
    )


def downgrade():
    pass  # the duplicates said nothing the decided step does not: nothing to restore
