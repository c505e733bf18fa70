"""accounts: each member's colour scheme (system, light or dark)

Revision ID: a7d3e9c1b2f4
Revises: cffaafe5e3cc
Create Date: 2026-12-02 15:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7d3e9c1b2f4'
down_revision = 'cffaafe5e3cc'
branch_labels = None
depends_on = None


def upgrade():
    # The server default fills the column for existing members: they keep following their device.
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('color_scheme', sa.String(length=10), server_default='system', nullable=False))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('color_scheme')
