"""every movie and actor has a version that changes with its representation: a record's 304 reads one row

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 17:00:00

A record's ETag was a digest of its whole representation, so revalidating one read the whole record (its row,
its castings, the other side's names). Now each movie and actor carries two numbers, kept by triggers for every
change however it is made (the API, an import, `flask seed`, psql), and its ETag is made from them
(casting/web/conditional.py), so a 304 reads one row by primary key:

- `version` changes whenever anything its JSON shows changes: its own fields, its castings (who, as whom, at
  which billing) and the embedded names (a movie's actors' names, an actor's movies' titles);
- `cast_version` whenever its castings change (a casting PUT or DELETE compares If-Match with its part alone).

Both come from one source that never gives a number twice (PostgreSQL: the sequence `record_versions`; SQLite:
the one-row table `record_version_clock`), so a record deleted and restored, or emptied and made again with the
same id, never shows an ETag it had before. A change that leaves every column as it was keeps the version.

PostgreSQL: a row's own change gets a new version in a BEFORE UPDATE trigger (when the statement did not set one
itself); castings bump both sides in statement triggers over their transition tables (a load of millions of
castings is one UPDATE per side, not one per row); a retitle or a rename bumps the other side's records it is
cast with, row by row, only when the title or the name changed. SQLite (row triggers only) does the same row by
row. A migration that adds a column to movies or actors has nothing to change here on PostgreSQL (the BEFORE
trigger compares whole rows); on SQLite it adds the column to the WHEN clause of `{table}_version_update`.
"""
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# table, the column the other side's records embed, the other table, the castings' columns of this side and the other
SIDES = (("movies", "title", "actors", "movie_id", "actor_id"),
         ("actors", "name", "movies", "actor_id", "movie_id"))
OWN_COLUMNS = {"movies": ("title", "release_date"), "actors": ("name", "age", "gender")}

POSTGRESQL_OWN_CHANGE = """
CREATE OR REPLACE FUNCTION record_version_own_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unchanged record;
BEGIN
    -- The statement set no version of its own: any other column it changed is a new representation.
    unchanged := NEW;
    unchanged.cast_version := OLD.cast_version;
    IF unchanged IS DISTINCT FROM OLD THEN
        NEW.version := nextval('record_versions');
    END IF;
    IF NEW.cast_version IS DISTINCT FROM OLD.cast_version THEN
        NEW.cast_version := nextval('record_versions');
    END IF;
    RETURN NEW;
END $$
"""

# One number per statement and side: each record it touches gets a number it never had (a sequence's numbers are
# never given twice), which is all an ETag needs; one nextval per row cost a load of a million movies seconds.
POSTGRESQL_CASTINGS_CHANGED = """
CREATE OR REPLACE FUNCTION record_version_castings_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    fresh bigint := nextval('record_versions');
BEGIN
    -- Who is cast in what, as whom, at which billing: both sides' representations and casts changed.
    IF TG_OP = 'INSERT' THEN
        UPDATE movies SET version = fresh, cast_version = fresh WHERE id IN (SELECT movie_id FROM new_rows);
        UPDATE actors SET version = fresh, cast_version = fresh WHERE id IN (SELECT actor_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE movies SET version = fresh, cast_version = fresh WHERE id IN (SELECT movie_id FROM old_rows);
        UPDATE actors SET version = fresh, cast_version = fresh WHERE id IN (SELECT actor_id FROM old_rows);
    ELSE
        UPDATE movies SET version = fresh, cast_version = fresh
            WHERE id IN (SELECT movie_id FROM new_rows UNION SELECT movie_id FROM old_rows);
        UPDATE actors SET version = fresh, cast_version = fresh
            WHERE id IN (SELECT actor_id FROM new_rows UNION SELECT actor_id FROM old_rows);
    END IF;
    RETURN NULL;
END $$
"""

POSTGRESQL_CASTINGS_TRUNCATED = """
CREATE OR REPLACE FUNCTION record_version_castings_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    fresh bigint := nextval('record_versions');
BEGIN
    UPDATE movies SET version = fresh, cast_version = fresh;
    UPDATE actors SET version = fresh, cast_version = fresh;
    RETURN NULL;
END $$
"""

# A movie's title is in its actors' records, an actor's name in its movies'.
POSTGRESQL_LABEL_CHANGED = """
CREATE OR REPLACE FUNCTION record_version_{table}_label_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {other} SET version = (SELECT nextval('record_versions'))
        WHERE id IN (SELECT {other_fk} FROM movie_actors WHERE {own_fk} = NEW.id);
    RETURN NULL;
END $$
"""


def _sqlite_bump(table: str, where: str, cast: bool) -> str:
    fresh = "(SELECT value FROM record_version_clock WHERE id = 1)"
    columns = f"version = {fresh}" + (f", cast_version = {fresh}" if cast else "")
    return (f"UPDATE record_version_clock SET value = value + 1 WHERE id = 1; "
            f"UPDATE {table} SET {columns} WHERE {where};")


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        # Cached per session: numbers unique but not in order across sessions, which an ETag does not need.
        op.execute("CREATE SEQUENCE IF NOT EXISTS record_versions CACHE 1000")
        for table, *_ in SIDES:
            # Existing rows get numbers of their own (a volatile default fills each row).
            for column in ("version", "cast_version"):
                op.execute(f"ALTER TABLE {table} ADD COLUMN {column} bigint NOT NULL "
                           "DEFAULT nextval('record_versions')")
        op.execute(POSTGRESQL_OWN_CHANGE)
        op.execute(POSTGRESQL_CASTINGS_CHANGED)
        op.execute(POSTGRESQL_CASTINGS_TRUNCATED)
        for table, label, other, own_fk, other_fk in SIDES:
            op.execute(f"CREATE TRIGGER {table}_version_update BEFORE UPDATE ON {table} FOR EACH ROW "
                       "WHEN (OLD.version IS NOT DISTINCT FROM NEW.version) "
                       "EXECUTE FUNCTION record_version_own_change()")
            op.execute(POSTGRESQL_LABEL_CHANGED.format(table=table, other=other, own_fk=own_fk, other_fk=other_fk))
            op.execute(f"CREATE TRIGGER {table}_version_label AFTER UPDATE OF {label} ON {table} FOR EACH ROW "
                       f"WHEN (OLD.{label} IS DISTINCT FROM NEW.{label}) "
                       f"EXECUTE FUNCTION record_version_{table}_label_changed()")
        for event, rows in (("INSERT", "NEW TABLE AS new_rows"), ("DELETE", "OLD TABLE AS old_rows"),
                            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows")):
            op.execute(f"CREATE TRIGGER movie_actors_version_{event.lower()} AFTER {event} ON movie_actors "
                       f"REFERENCING {rows} FOR EACH STATEMENT EXECUTE FUNCTION record_version_castings_changed()")
        op.execute("CREATE TRIGGER movie_actors_version_truncate AFTER TRUNCATE ON movie_actors "
                   "FOR EACH STATEMENT EXECUTE FUNCTION record_version_castings_truncated()")
        return
    # SQLite: row triggers; a counter in a table of one row (one writer at a time: no contention).
    op.execute("CREATE TABLE IF NOT EXISTS record_version_clock "
               "(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)")
    op.execute("INSERT OR IGNORE INTO record_version_clock (id, value) VALUES (1, 0)")
    for table, *_ in SIDES:
        for column in ("version", "cast_version"):
            op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
    # Existing rows: a number none of them has had (each record's numbers need only differ from its own others).
    op.execute("UPDATE record_version_clock SET value = value + 1 WHERE id = 1")
    for table, *_ in SIDES:
        op.execute(f"UPDATE {table} SET version = (SELECT value FROM record_version_clock), "
                   "cast_version = (SELECT value FROM record_version_clock)")
    for table, label, other, own_fk, other_fk in SIDES:
        changed = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in OWN_COLUMNS[table])
        op.execute(f"CREATE TRIGGER {table}_version_insert AFTER INSERT ON {table} BEGIN "
                   + _sqlite_bump(table, "id = NEW.id", cast=True) + " END")
        op.execute(f"CREATE TRIGGER {table}_version_update AFTER UPDATE ON {table} WHEN {changed} BEGIN "
                   + _sqlite_bump(table, "id = NEW.id", cast=False) + " END")
        op.execute(f"CREATE TRIGGER {table}_version_label AFTER UPDATE OF {label} ON {table} "
                   f"WHEN NEW.{label} IS NOT OLD.{label} BEGIN "
                   + _sqlite_bump(other, f"id IN (SELECT {other_fk} FROM movie_actors WHERE {own_fk} = NEW.id)",
                                  cast=False) + " END")
    for event, row in (("insert", "NEW"), ("delete", "OLD"), ("update", "NEW")):
        body = _sqlite_bump("movies", f"id = {row}.movie_id", cast=True) + \
            _sqlite_bump("actors", f"id = {row}.actor_id", cast=True)
        if event == "update":  # a casting moved to another movie or actor: the one it left changed too
            body += _sqlite_bump("movies", "id = OLD.movie_id AND OLD.movie_id IS NOT NEW.movie_id", cast=True) + \
                _sqlite_bump("actors", "id = OLD.actor_id AND OLD.actor_id IS NOT NEW.actor_id", cast=True)
        op.execute(f"CREATE TRIGGER movie_actors_version_{event} AFTER {event.upper()} ON movie_actors BEGIN "
                   + body + " END")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for event in ("insert", "delete", "update", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS movie_actors_version_{event} ON movie_actors")
        for table, *_ in SIDES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_version_update ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_version_label ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS record_version_{table}_label_changed()")
            op.execute(f"ALTER TABLE {table} DROP COLUMN version, DROP COLUMN cast_version")
        for function in ("own_change", "castings_changed", "castings_truncated"):
            op.execute(f"DROP FUNCTION IF EXISTS record_version_{function}()")
        op.execute("DROP SEQUENCE IF EXISTS record_versions")
        return
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS movie_actors_version_{event}")
    for table, *_ in SIDES:
        for name in ("insert", "update", "label"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_version_{name}")
    for table, *_ in SIDES:
        # In place (SQLite 3.35 and later): a batch copy of the table would lose its other triggers.
        op.execute(f"ALTER TABLE {table} DROP COLUMN cast_version")
        op.execute(f"ALTER TABLE {table} DROP COLUMN version")
    op.execute("DROP TABLE IF EXISTS record_version_clock")
