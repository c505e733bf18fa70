"""support: tickets resolved or closed before any agent replied are SLA "unanswered", not "met"

Their page said "Closed without a reply" but the stored state was "met", so the queue's "SLA met" filter and the SLA
report counted a first response nobody ever gave as kept. The state is now computed as "unanswered" (no breach
recorded, no first response); this writes it for the tickets finished so far. Data only: the schema is unchanged.

Revision ID: f2b6d8a4c9e1
Revises: 4e7b2d9c1a85
Create Date: 2026-12-04 19:30:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f2b6d8a4c9e1'
down_revision = '4e7b2d9c1a85'
branch_labels = None
depends_on = None


def upgrade():
    # What _overall_state now says of a finished ticket: breached if a target was breached, else unanswered without a
    # first response, else met. Only the rows that read "met" without a first response change.
    op.execute("UPDATE ticket SET sla_state = 'unanswered' "
               "WHERE status IN ('resolved', 'closed') AND first_response_at IS NULL AND sla_breached = '' AND sla_state = 'met'")


def downgrade():
    op.execute("UPDATE ticket SET sla_state = 'met' WHERE sla_state = 'unanswered'")
