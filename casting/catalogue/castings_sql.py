"""PostgreSQL: an import's castings and their history entries written in SQL (casting/catalogue/imports.py), so
that 300,000 castings cost no Python per entry: the changes go in with COPY to a temporary table, and the
database deletes and inserts the castings from it and builds every entry itself, the same entries the Python
path (imports._write_castings, SQLite's) builds row by row, field for field and in the same order:

- each changed movie's `updated` entry: the movie as it was before the import (kept in a second temporary table
  before the castings change) and as it is after;
- on each actor of a changed casting, a `cast` entry (a new casting) or an `updated` one (a changed character or
  billing) naming the movie, the actor as it was before and after that movie's change: an actor cast in several
  movies of one file changes one movie at a time, by ascending movie id, each entry starting where the one
  before ended (the Python path's `actors_now.update(after)`).

Entries are ordered as the Python path writes them: by movie, the movie's entry, then its actors' `cast` entries,
then their `updated` ones, each by actor id. Everything runs in the import's transaction; the temporary tables
go with it (ON COMMIT DROP), and a rollback takes them too.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import text

from casting.catalogue import history
from casting.catalogue.records import ACTOR, MOVIE, Role, Side
from models import db

CHANGES = "import_castings"
MOVIES_BEFORE = "import_movies_before"


def _fields(side: Side, alias: str) -> str:
    """`'field', value, ...` of a record's own fields in json_build_object, as a snapshot shows them."""
    parts = []
    for field in side.fields:
        value = f"to_char({alias}.{field}, 'YYYY-MM-DD')" if field == "release_date" else f"{alias}.{field}"
        parts.append(f"'{field}', {value}")
    return ", ".join(parts)


# A movie as history.snapshot keeps it: its fields, its actors' ids, and its cast as shown (by billing, unbilled
# last, then by actor id; a summary shows only the character and billing that are set).
MOVIE_SNAPSHOT = f"""json_build_object({_fields(MOVIE, "m")},
    'actor_ids', coalesce((SELECT json_agg(ma.actor_id ORDER BY ma.actor_id) FROM movie_actors ma
                           WHERE ma.movie_id = m.id), '[]'::json),
    'actors', coalesce((SELECT json_agg(json_strip_nulls(json_build_object('id', a.id, 'name', a.name,
                                          'character', ma.character, 'billing', ma.billing))
                                        ORDER BY ma.billing NULLS LAST, ma.actor_id)
                        FROM movie_actors ma JOIN actors a ON a.id = ma.actor_id WHERE ma.movie_id = m.id), '[]'::json))"""


def _actor_state(pending: str) -> str:
    """A lateral subquery: the movies of actor `a` (ids, and summaries by movie id) once the import has changed the
    castings of the movies before entry `c`'s (`pending` says which of the import's changes are not made yet:
    those on movies after c's, and for `before` c's own too). A pending new casting is not there yet; a pending
    changed one still has the role it had (was_character, was_billing)."""
    return f"""LATERAL (
        SELECT json_agg(s.id ORDER BY s.id) AS ids,
               json_agg(json_strip_nulls(json_build_object('id', s.id, 'title', s.title, 'character', s.character,
                                                           'billing', s.billing)) ORDER BY s.id) AS shown
        FROM (SELECT ma.movie_id AS id, mv.title,
                     CASE WHEN x.movie_id {pending} c.movie_id THEN x.was_character ELSE ma.character END AS character,
                     CASE WHEN x.movie_id {pending} c.movie_id THEN x.was_billing ELSE ma.billing END AS billing
              FROM movie_actors ma JOIN movies mv ON mv.id = ma.movie_id
              LEFT JOIN {CHANGES} x ON x.movie_id = ma.movie_id AND x.actor_id = ma.actor_id
              WHERE ma.actor_id = a.id
                AND NOT coalesce(x.movie_id {pending} c.movie_id AND NOT x.was_cast, false)) s)"""


def _actor_snapshot(state: str) -> str:
    return (f"json_build_object({_fields(ACTOR, 'a')}, 'movie_ids', coalesce({state}.ids, '[]'::json), "
            f"'movies', coalesce({state}.shown, '[]'::json))")


ENTRIES = f"""
INSERT INTO history (at, subject, editor_name, editor_email, request_id, action, record_type, record_id, before,
                     after, other)
SELECT :at, :subject, :editor_name, :editor_email, :request_id, action, record_type, record_id, before, after, other
FROM (
    SELECT m.id AS movie_id, 0 AS kind, 0 AS rank, 'updated' AS action, 'movie' AS record_type, m.id AS record_id,
           mb.kept AS before, {MOVIE_SNAPSHOT} AS after, NULL::json AS other
    FROM {MOVIES_BEFORE} mb JOIN movies m ON m.id = mb.id
    UNION ALL
    SELECT c.movie_id, 1, CASE WHEN c.was_cast THEN 2 ELSE 0 END, CASE WHEN c.was_cast THEN 'updated' ELSE 'cast' END,
           'actor', c.actor_id, {_actor_snapshot("before_c")}, {_actor_snapshot("after_c")},
           json_build_object('type', 'movie', 'id', mv.id, 'title', mv.title)
    FROM {CHANGES} c JOIN actors a ON a.id = c.actor_id JOIN movies mv ON mv.id = c.movie_id,
         {_actor_state(">=")} before_c,
         {_actor_state(">")} after_c
) entries
ORDER BY movie_id, kind, rank, record_id
"""


def _copy(changes: dict[int, dict[int, Role]], now: dict[int, dict[int, Role]]) -> bool:
    """The changes into a temporary table, with COPY; whether any of them replaces a casting that exists."""
    db.session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{CHANGES}, pg_temp.{MOVIES_BEFORE}"))
    db.session.execute(text(f"CREATE TEMPORARY TABLE {CHANGES} (movie_id integer, actor_id integer, character text, "
                            "billing integer, was_cast boolean NOT NULL, was_character text, was_billing integer, "
                            "PRIMARY KEY (movie_id, actor_id)) ON COMMIT DROP"))
    buffer = io.StringIO()
    # None is written as an empty cell, which FORCE_NULL reads as NULL (a character is never empty: the check
    # constraint character_length, and the rows' rules, refuse one).
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    replaces = False
    for movie, cast in changes.items():
        was_cast = now.get(movie, {})
        for actor, role in cast.items():
            was = was_cast.get(actor)
            replaces = replaces or was is not None
            writer.writerow((movie, actor, role.character, role.billing, "t" if was is not None else "f",
                             None if was is None else was.character, None if was is None else was.billing))
    buffer.seek(0)
    cursor = db.session.connection().connection.driver_connection.cursor()
    try:
        cursor.copy_expert(f"COPY {CHANGES} FROM STDIN WITH (FORMAT csv, FORCE_NULL (character, billing, was_character, "
                            "was_billing))", buffer)
    finally:
        cursor.close()
    db.session.execute(text(f"ANALYZE {CHANGES}"))
    return replaces


def write(changes: dict[int, dict[int, Role]], now: dict[int, dict[int, Role]]) -> None:
    """The castings of `changes` (movie: {actor: new role}) written over those of `now` (the casts as read, under
    the locks the import holds), with their entries."""
    replaces = _copy(changes, now)
    db.session.execute(text(f"CREATE TEMPORARY TABLE {MOVIES_BEFORE} ON COMMIT DROP AS "
                            f"SELECT m.id, {MOVIE_SNAPSHOT} AS kept FROM movies m "
                            f"WHERE m.id IN (SELECT movie_id FROM {CHANGES})"))
    if replaces:  # deleted and inserted again, so that billings can trade places within a movie
        db.session.execute(text(f"DELETE FROM movie_actors ma USING {CHANGES} x WHERE x.was_cast "
                                "AND ma.movie_id = x.movie_id AND ma.actor_id = x.actor_id"))
    db.session.execute(text(f"INSERT INTO movie_actors (movie_id, actor_id, character, billing) "
                            f"SELECT movie_id, actor_id, character, billing FROM {CHANGES} ORDER BY movie_id, actor_id"))
    db.session.execute(text(ENTRIES), history.stamp())
