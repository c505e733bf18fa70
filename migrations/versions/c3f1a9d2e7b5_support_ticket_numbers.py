"""support: each ticket's short number within its organization ("#1042"), stored, with a per-org counter

Until now the number was counted on every page (tickets of the org up to this one); stored, it never shifts and
costs no query. Existing tickets keep the numbers people have seen: the same count, written once.

Revision ID: c3f1a9d2e7b5
Revises: b8f4e2a6c0d1
Create Date: 2026-12-03 12:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c3f1a9d2e7b5'
down_revision = 'b8f4e2a6c0d1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ticket_counter',
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('last_number', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('org_id'),
    )
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number', sa.Integer(), nullable=True))
    # UPDATE ... FROM and window functions: PostgreSQL, and SQLite since 3.33.
    op.execute("UPDATE ticket SET number = ranked.n FROM (SELECT id, row_number() OVER (PARTITION BY org_id ORDER BY id) AS n FROM ticket) AS ranked "
               "WHERE ticket.id = ranked.id")
    op.execute("INSERT INTO ticket_counter (org_id, last_number) SELECT org_id, max(number) FROM ticket GROUP BY org_id")
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.alter_column('number', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('uq_ticket_org_number', ['org_id', 'number'])


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_constraint('uq_ticket_org_number', type_='unique')
        batch_op.drop_column('number')
    op.drop_table('ticket_counter')
