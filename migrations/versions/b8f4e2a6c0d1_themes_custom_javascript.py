"""themes: custom JavaScript (off until a super admin allows it), in the draft and in each version

Revision ID: b8f4e2a6c0d1
Revises: a7d3e9c1b2f4
Create Date: 2026-12-02 16:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b8f4e2a6c0d1'
down_revision = 'a7d3e9c1b2f4'
branch_labels = None
depends_on = None


def upgrade():
    # Server defaults fill existing rows: every org starts with custom JavaScript off and none written.
    with op.batch_alter_table('theme', schema=None) as batch_op:
        batch_op.add_column(sa.Column('custom_js_allowed', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('draft_js', sa.Text(), server_default='', nullable=False))
    with op.batch_alter_table('theme_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('custom_js', sa.Text(), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('theme_version', schema=None) as batch_op:
        batch_op.drop_column('custom_js')
    with op.batch_alter_table('theme', schema=None) as batch_op:
        batch_op.drop_column('draft_js')
        batch_op.drop_column('custom_js_allowed')
