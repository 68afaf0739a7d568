"""safe writes: the catalogue version behind list ETags, and the kept outcomes of Idempotency-Keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 14:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'catalogue_version',
        sa.Column('id', sa.SmallInteger(), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_catalogue_version_single_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_version')),
    )
    op.execute("INSERT INTO catalogue_version (id, version) VALUES (1, 1)")
    op.create_table(
        'idempotency_keys',
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('request_fingerprint', sa.String(length=64), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('headers', sa.Text(), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('subject', 'key', name=op.f('pk_idempotency_keys')),
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_keys_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_created_at'))
    op.drop_table('idempotency_keys')
    op.drop_table('catalogue_version')
