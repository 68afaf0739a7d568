"""the catalogue version follows every change to movies, actors and castings, made by the API or not

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 16:00:00

List ETags and the lists' remembered totals and anchors (casting/catalogue/listing.py) rest on catalogue_version changing
whenever a movie, an actor or a casting does. The API bumps it in each write; these triggers make every
other change (`flask seed`, a script, psql, a TRUNCATE) bump it too. They fire after the statement, so a
write takes the row's lock after the locks on its records, as the API's own bump does (no deadlock).
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

TABLES = ("movies", "actors", "movie_actors")

POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalogue_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END $$
"""


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(POSTGRESQL_FUNCTION)
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_catalogue_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_changed()")
            op.execute(f"CREATE TRIGGER {table}_catalogue_truncated AFTER TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_changed()")
    else:  # SQLite has row-level triggers only
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_catalogue_{event.lower()} AFTER {event} ON {table} BEGIN "
                           "UPDATE catalogue_version SET version = version + 1 WHERE id = 1; END")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_catalogue_changed ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_catalogue_truncated ON {table}")
        op.execute("DROP FUNCTION IF EXISTS catalogue_changed()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_catalogue_{event}")
