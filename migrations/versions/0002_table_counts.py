"""table_counts: exact row counts of movies and actors, kept by triggers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

COUNTED = ("movies", "actors")

POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION table_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE table_counts SET row_count = row_count + (SELECT count(*) FROM new_rows)
        WHERE table_name = TG_TABLE_NAME;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE table_counts SET row_count = row_count - (SELECT count(*) FROM old_rows)
        WHERE table_name = TG_TABLE_NAME;
    ELSE
        UPDATE table_counts SET row_count = 0 WHERE table_name = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END $$
"""


def upgrade():
    op.create_table(
        'table_counts',
        sa.Column('table_name', sa.String(length=50), nullable=False),
        sa.Column('row_count', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('table_name', name=op.f('pk_table_counts')),
    )
    for table in COUNTED:
        op.execute(f"INSERT INTO table_counts (table_name, row_count) SELECT '{table}', count(*) FROM {table}")
    if op.get_bind().dialect.name == 'postgresql':
        # Statement-level triggers: one counter update per statement, however many rows it touched.
        op.execute(POSTGRESQL_FUNCTION)
        for table in COUNTED:
            op.execute(f"CREATE TRIGGER {table}_count_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
                       "FOR EACH STATEMENT EXECUTE FUNCTION table_counts_track()")
            op.execute(f"CREATE TRIGGER {table}_count_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
                       "FOR EACH STATEMENT EXECUTE FUNCTION table_counts_track()")
            op.execute(f"CREATE TRIGGER {table}_count_truncate AFTER TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION table_counts_track()")
    else:
        for table in COUNTED:
            op.execute(f"CREATE TRIGGER {table}_count_insert AFTER INSERT ON {table} BEGIN "
                       f"UPDATE table_counts SET row_count = row_count + 1 WHERE table_name = '{table}'; END")
            op.execute(f"CREATE TRIGGER {table}_count_delete AFTER DELETE ON {table} BEGIN "
                       f"UPDATE table_counts SET row_count = row_count - 1 WHERE table_name = '{table}'; END")


def downgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for table in COUNTED:
        for event in ("insert", "delete") + (("truncate",) if postgresql else ()):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_count_{event}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS table_counts_track()")
    op.drop_table('table_counts')
