"""keys: the create form's one-time token on the key it made, unique per org, so a double click makes one key

Until now the session remembered which key a form's token had made, which a second post in flight at the same time
could not see: both made a key. Existing keys have none (NULLs never collide).

Revision ID: d4e8a1f6b2c9
Revises: a9c4e7b1d3f8
Create Date: 2026-12-06 21:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd4e8a1f6b2c9'
down_revision = 'a9c4e7b1d3f8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form_token', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_api_key_org_form_token', ['org_id', 'form_token'])


def downgrade():
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_constraint('uq_api_key_org_form_token', type_='unique')
        batch_op.drop_column('form_token')
