"""support: full-text search indexes on tickets and comments (PostgreSQL only)

Revision ID: 3c1e0f7d9a42
Revises: 5a06502cbe48
Create Date: 2026-11-26 06:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c1e0f7d9a42'
down_revision = '5a06502cbe48'
branch_labels = None
depends_on = None

# The same expressions as portal.support.models.ticket_search_vector / comment_search_vector: the queue's search
# builds them again, and PostgreSQL uses an expression index only for an identical expression.
TICKET_VECTOR = "to_tsvector('english'::regconfig, (subject::text || ' '::text) || body)"
COMMENT_VECTOR = "to_tsvector('english'::regconfig, body)"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite searches with LIKE
    op.create_index('ix_ticket_search', 'ticket', [sa.text(TICKET_VECTOR)], unique=False, postgresql_using='gin')
    op.create_index('ix_ticket_comment_search', 'ticket_comment', [sa.text(COMMENT_VECTOR)], unique=False, postgresql_using='gin')


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index('ix_ticket_comment_search', table_name='ticket_comment', postgresql_using='gin')
    op.drop_index('ix_ticket_search', table_name='ticket', postgresql_using='gin')
