"""server keys: the secret that signs list cursors, made here once and shared by every instance

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 12:40:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    keys = op.create_table(
        'server_keys',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('secret', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_server_keys')),
    )
    op.bulk_insert(keys, [{'name': 'cursors', 'secret': secrets.token_bytes(32)}])


def downgrade():
    op.drop_table('server_keys')
