"""the history is found by request id: GET /history?request_id= lists one request's entries (an import's)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 15:00:00

An import writes an entry for each record it creates or changes, all with its request id: the index finds
them, newest first, without reading the whole history.
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('history', schema=None) as batch_op:
        batch_op.create_index('ix_history_request_id', ['request_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('history', schema=None) as batch_op:
        batch_op.drop_index('ix_history_request_id')
