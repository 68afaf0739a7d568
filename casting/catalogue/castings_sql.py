"""PostgreSQL: an import's castings and their history entries written in SQL (casting/catalogue/imports.py), so
that 300,000 castings cost no Python per entry: the changes go in with COPY to a temporary table, and the
database deletes and inserts the castings from it and builds every entry itself, the same entries the Python
path (imports._write_castings, SQLite's) builds row by row, field for field and in the same order:

- each changed movie's `updated` entry: the movie as it was before the import (kept in a second temporary table
  before the castings change) and as it is after;
- on each actor of a changed casting, a `cast` entry (a new casting) or an `updated` one (a changed character or
  billing) naming the movie, the actor as it was before and after that movie's change: an actor cast in several
  movies of one file changes one movie at a time, by ascending movie id, each entry starting where the one
  before ended (the Python path's `actors_now.update(after)`). Each actor's castings are read once, in movie
  order, and window aggregates over them give every step's "after"; its "before" is the step before's "after".

Entries are ordered as the Python path writes them: by movie, the movie's entry, then its actors' `cast` entries,
then their `updated` ones, each by actor id. Everything runs in the import's transaction; the temporary tables
go with it (ON COMMIT DROP), and a rollback takes them too.
"""

from __future__ import annotations

from sqlalchemy import text

from casting.catalogue import bulk, history
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


def _summary(id_: str, label: str, label_value: str, character: str, billing: str) -> str:
    """A summary of the other side as a record shows it: its id and label, then only the character and billing that
    are set (json_strip_nulls would do it by parsing every summary again)."""
    head = f"'id', {id_}, '{label}', {label_value}"
    return (f"CASE WHEN {character} IS NULL AND {billing} IS NULL THEN json_build_object({head}) "
            f"WHEN {billing} IS NULL THEN json_build_object({head}, 'character', {character}) "
            f"WHEN {character} IS NULL THEN json_build_object({head}, 'billing', {billing}) "
            f"ELSE json_build_object({head}, 'character', {character}, 'billing', {billing}) END")


# The casts of the movies the import changes, as history.snapshot keeps them: their actors' ids, and the cast as
# shown (by billing, unbilled last, then by actor id; a summary shows only the character and billing that are set).
MOVIE_CASTS = f"""SELECT ma.movie_id, json_agg(ma.actor_id ORDER BY ma.actor_id) AS ids,
           json_agg({_summary("a.id", "name", "a.name", "ma.character", "ma.billing")}
                    ORDER BY ma.billing NULLS LAST, ma.actor_id) AS shown
    FROM movie_actors ma JOIN actors a ON a.id = ma.actor_id
    WHERE ma.movie_id IN (SELECT movie_id FROM {CHANGES})
    GROUP BY ma.movie_id"""

# Those movies as snapshots (a movie has at least the casting the import gives it: no empty cast here).
MOVIE_SNAPSHOTS = f"""SELECT m.id, json_build_object({_fields(MOVIE, "m")}, 'actor_ids', casts.ids,
                                         'actors', casts.shown) AS kept
    FROM ({MOVIE_CASTS}) casts JOIN movies m ON m.id = casts.movie_id"""

# Each change on an actor is a step, and its entry shows the actor just before and just after it. The actor's
# castings, by movie id, are read once: after a step, those on the step's movie and before it are as they are now,
# those after it as they were (a casting the import makes is not there yet, one it changes has its old role), so
# that window aggregates over the actor's castings, in movie order, give each step's "after" in one pass; a step's
# "before" is the "after" of the step before it, and the first step's is the actor as it was.
ACTOR_CASTINGS = f"""
    SELECT ma.actor_id, ma.movie_id, x.movie_id IS NOT NULL AS imported, coalesce(x.was_cast, true) AS was_cast,
           {_summary("ma.movie_id", "title", "mv.title", "ma.character", "ma.billing")} AS now_shown,
           CASE WHEN x.was_cast THEN {_summary("ma.movie_id", "title", "mv.title", "x.was_character",
                                               "x.was_billing")} END AS changed_shown
    FROM movie_actors ma JOIN movies mv ON mv.id = ma.movie_id
    LEFT JOIN {CHANGES} x ON x.movie_id = ma.movie_id AND x.actor_id = ma.actor_id
    WHERE ma.actor_id IN (SELECT actor_id FROM {CHANGES})"""


def _joined(head: str, tail: str) -> str:
    """Two JSON arrays as one (`tail` may be NULL: `head` alone), joined as text: json_agg writes `[a, b]`."""
    return (f"CASE WHEN {tail} IS NULL THEN {head} "
            f"ELSE (left({head}::text, -1) || ', ' || substr({tail}::text, 2))::json END")


ACTOR_STEPS = f"""
WITH windows AS (
    SELECT actor_id, movie_id, imported, was_cast,
           {_joined("json_agg(movie_id) OVER upto", "json_agg(movie_id) FILTER (WHERE was_cast) OVER later")}
               AS after_ids,
           {_joined("json_agg(now_shown) OVER upto", "json_agg(was_shown) FILTER (WHERE was_cast) OVER later")}
               AS after_shown,
           json_agg(movie_id) FILTER (WHERE was_cast) OVER whole AS first_ids,
           json_agg(was_shown) FILTER (WHERE was_cast) OVER whole AS first_shown
    FROM (SELECT actor_id, movie_id, imported, was_cast, now_shown,
                 CASE WHEN imported THEN changed_shown ELSE now_shown END AS was_shown
          FROM ({ACTOR_CASTINGS}) castings) castings
    WINDOW upto AS (PARTITION BY actor_id ORDER BY movie_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           later AS (PARTITION BY actor_id ORDER BY movie_id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING),
           whole AS (PARTITION BY actor_id ORDER BY movie_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
SELECT movie_id AS step, actor_id, was_cast AS step_was_cast,
       coalesce(lag(after_ids) OVER steps, first_ids, '[]'::json) AS before_ids,
       coalesce(lag(after_shown) OVER steps, first_shown, '[]'::json) AS before_shown,
       after_ids, after_shown
FROM windows WHERE imported
WINDOW steps AS (PARTITION BY actor_id ORDER BY movie_id)"""


def _actor_snapshot(when: str) -> str:
    return f"json_build_object({_fields(ACTOR, 'a')}, 'movie_ids', st.{when}_ids, 'movies', st.{when}_shown)"


# Entries in the order the Python path writes them: by movie, the movie's entry, then its actors' `cast` entries,
# then their `updated` ones, each by actor id (their ids, from the table's sequence, follow it).
ENTRIES = f"""
INSERT INTO history (at, subject, editor_name, editor_email, request_id, action, record_type, record_id, before,
                     after, other)
SELECT :at, :subject, :editor_name, :editor_email, :request_id, action, record_type, record_id, before, after, other
FROM (
    SELECT now.id AS movie_id, 0 AS kind, false AS rank, 'updated' AS action, 'movie' AS record_type,
           now.id AS record_id, was.kept AS before, now.kept AS after, NULL::json AS other
    FROM ({MOVIE_SNAPSHOTS}) now JOIN {MOVIES_BEFORE} was ON was.id = now.id
    UNION ALL
    SELECT st.step, 1, st.step_was_cast, CASE WHEN st.step_was_cast THEN 'updated' ELSE 'cast' END, 'actor',
           st.actor_id, {_actor_snapshot("before")}, {_actor_snapshot("after")},
           json_build_object('type', 'movie', 'id', mv.id, 'title', mv.title)
    FROM ({ACTOR_STEPS}) st JOIN actors a ON a.id = st.actor_id JOIN movies mv ON mv.id = st.step
) entries
ORDER BY movie_id, kind, rank, record_id
"""


# The movies the import casts, as they are before it (a movie with no casting yet has an empty cast).
KEEP_MOVIES_BEFORE = f"""CREATE TEMPORARY TABLE {MOVIES_BEFORE} ON COMMIT DROP AS
    SELECT w.movie_id AS id, json_build_object({_fields(MOVIE, 'm')}, 'actor_ids', coalesce(casts.ids, '[]'::json),
                                               'actors', coalesce(casts.shown, '[]'::json)) AS kept
    FROM (SELECT DISTINCT movie_id FROM {CHANGES}) w JOIN movies m ON m.id = w.movie_id
    LEFT JOIN ({MOVIE_CASTS}) casts ON casts.movie_id = w.movie_id"""


def _copy(changes: dict[int, dict[int, Role]], now: dict[int, dict[int, Role]]) -> bool:
    """The changes into a temporary table, with COPY; whether any of them replaces a casting that exists."""
    db.session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{CHANGES}, pg_temp.{MOVIES_BEFORE}"))
    db.session.execute(text(f"CREATE TEMPORARY TABLE {CHANGES} (movie_id integer, actor_id integer, character text, "
                            "billing integer, was_cast boolean NOT NULL, was_character text, was_billing integer, "
                            "PRIMARY KEY (movie_id, actor_id)) ON COMMIT DROP"))
    rows, replaces = [], False
    for movie, cast in changes.items():
        was_cast = now.get(movie, {})
        for actor, role in cast.items():
            was = was_cast.get(actor)
            replaces = replaces or was is not None
            rows.append((movie, actor, role.character, role.billing, "t" if was is not None else "f",
                         None if was is None else was.character, None if was is None else was.billing))
    # None read as NULL (a character is never empty: the check constraint character_length, and the rows' rules,
    # refuse one).
    bulk.copy_rows(CHANGES, rows, force_null=("character", "billing", "was_character", "was_billing"))
    db.session.execute(text(f"ANALYZE {CHANGES}"))
    return replaces


def write(changes: dict[int, dict[int, Role]], now: dict[int, dict[int, Role]]) -> None:
    """The castings of `changes` (movie: {actor: new role}) written over those of `now` (the casts as read, under
    the locks the import holds), with their entries."""
    # Statements over every row of the file: sorts and hashes in memory, and no JIT (compiling them took longer
    # than it saved), for this transaction only.
    db.session.execute(text("SET LOCAL work_mem = '64MB'"))
    db.session.execute(text("SET LOCAL jit = off"))
    replaces = _copy(changes, now)
    db.session.execute(text(KEEP_MOVIES_BEFORE))
    if replaces:  # deleted and inserted again, so that billings can trade places within a movie
        db.session.execute(text(f"DELETE FROM movie_actors ma USING {CHANGES} x WHERE x.was_cast "
                                "AND ma.movie_id = x.movie_id AND ma.actor_id = x.actor_id"))
    db.session.execute(text(f"INSERT INTO movie_actors (movie_id, actor_id, character, billing) SELECT movie_id, "
                            f"actor_id, character, billing FROM {CHANGES} ORDER BY movie_id, actor_id"))
    db.session.execute(text(ENTRIES), history.stamp())
