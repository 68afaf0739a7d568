"""history of every change made through the API; ids never reused on SQLite (AUTOINCREMENT)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 15:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

ACTIONS = "action IN ('created', 'updated', 'deleted', 'cast', 'uncast', 'restored')"
RECORD_TYPES = "record_type IN ('movie', 'actor')"
COUNTED = ("movies", "actors")


def _sqlite_count_triggers(table):
    # Migration 0002's triggers: recreating the table drops them with it.
    op.execute(f"CREATE TRIGGER {table}_count_insert AFTER INSERT ON {table} BEGIN "
               f"UPDATE table_counts SET row_count = row_count + 1 WHERE table_name = '{table}'; END")
    op.execute(f"CREATE TRIGGER {table}_count_delete AFTER DELETE ON {table} BEGIN "
               f"UPDATE table_counts SET row_count = row_count - 1 WHERE table_name = '{table}'; END")


def _sqlite_autoincrement(on):
    """Rebuild movies and actors with (or without) AUTOINCREMENT: SQLite then never hands the id of a
    deleted record to a new one. env.py turns foreign keys off for SQLite migrations, so dropping the old
    tables does not cascade to the castings."""
    for table in COUNTED:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": on}):
            pass
        _sqlite_count_triggers(table)


def upgrade():
    op.create_table(
        'history',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('record_type', sa.String(length=8), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('before', sa.JSON(), nullable=True),
        sa.Column('after', sa.JSON(), nullable=True),
        sa.Column('request_id', sa.String(length=128), nullable=False),
        sa.CheckConstraint(ACTIONS, name=op.f('ck_history_action')),
        sa.CheckConstraint(RECORD_TYPES, name=op.f('ck_history_record_type')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_history')),
    )
    with op.batch_alter_table('history', schema=None) as batch_op:
        batch_op.create_index('ix_history_at', ['at'], unique=False)
        batch_op.create_index('ix_history_record', ['record_type', 'record_id', 'id'], unique=False)
        batch_op.create_index('ix_history_subject', ['subject', 'id'], unique=False)
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_autoincrement(True)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_autoincrement(False)
    with op.batch_alter_table('history', schema=None) as batch_op:
        batch_op.drop_index('ix_history_subject')
        batch_op.drop_index('ix_history_record')
        batch_op.drop_index('ix_history_at')
    op.drop_table('history')
