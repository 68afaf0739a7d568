"""Imports (docs/import-export.md): a file's rows checked by the rules of the JSON writes, matched with the records
they are, and written all together inside the caller's write transaction (casting.api.writes.safe_write, or
the command line's), each created or changed record with its history entry.

- A row finds its record by `match`: `id`, or its natural key (a movie's title and release date, an actor's
  name); a casting names its movie and its actor either way, and is the casting of that pair.
- Nothing is written when anything is wrong: every problem is collected, with its line and column, and the
  caller answers with the report. A dry run stops there too.
- A real run reads without locks, then locks what it changes in the lock order (records.py: movies, then
  actors, by id) and checks it is still what it read (else it runs again), so what it compared stays true
  until it commits, and rows it leaves alone hold nobody up; an import of movies or actors also holds its
  kind's import lock, so that two imports of one file cannot both create its records.
- Its statements do not grow in number with the rows (casting/catalogue/bulk.py): a batch of up to 100,000 rows,
  all an HTTP import takes, is read, checked, matched and written with a handful of them; the command line's
  bigger files take that handful per 100,000 rows, and memory stays that of one batch. On PostgreSQL, castings
  and their entries are written in SQL (casting/catalogue/castings_sql.py): no Python per entry.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Container, Iterable, Iterator

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import bindparam, cast, func, insert, select, text
from sqlalchemy.dialects.postgresql import REGCLASS

from casting.catalogue import bulk, castings_sql, history, matching, records, tabular
from casting.catalogue.records import ACTOR, MOVIE, Role, Side
from casting.catalogue.tabular import Problem
from casting.errors import field_messages
from casting.schemas.rows import Layout
from casting.web.transactions import Restart, changed
from models import db, movie_actors
from models import history as history_table

SIDES = {"movies": MOVIE, "actors": ACTOR}


# PostgreSQL writes castings and their entries in SQL (castings_sql); False: as SQLite does, in Python (the tests
# compare the two).
IN_SQL = True

BATCH = 100_000  # rows read, checked, matched and written at a time: one batch for any HTTP import


def run(layout: Layout, match: str, rows: Iterable[tabular.Row], problems: list[Problem], *, dry_run: bool,
        may_update: Callable[[int], None] | None = None, progress: Callable[[int], None] | None = None,
        max_rows: int | None = None) -> matching.Report:
    """Check a file's rows (tabular.rows, which adds to `problems` as it reads), match them, and (unless
    `dry_run`) write them a batch at a time as long as no problem has been found: the caller rolls the whole
    back when the report has one. `may_update(count)` raises when the caller may not change existing records (a
    403); `progress(count)` is told of rows as they are checked (the command line's progress bar); past
    `max_rows` rows, TooManyRows."""
    report = matching.Report(layout.kind, match, dry_run, problems=problems)
    rules, batches = layout.rules[match], _batches(rows, report, max_rows, progress)
    with _no_cycle_collection():
        _run(layout, match, rules, batches, report, dry_run=dry_run, may_update=may_update)
    return report


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cycle collector kept off while an import runs: a batch is a million or so dicts and tuples, which hold
    no cycle, and which it would walk again and again as they pile up (a third of an import's Python time).
    Turned on again by whoever turned it off, at the end, when it collects what cycles there are."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run(layout: Layout, match: str, rules: type, batches: Iterator[list[tabular.Row]], report: matching.Report, *,
         dry_run: bool, may_update: Callable[[int], None] | None) -> None:
    if layout.kind == "castings":  # a movie's billings are checked together, wherever its rows are in the file
        valid = []
        for batch in batches:
            valid += _checked(rules, batch, report)
            batch.clear()  # the cells as read: their values are in the checked rows now
        _castings(match, valid, report, write=not dry_run)
    else:
        records = _Records(SIDES[layout.kind], layout, match, report, write=not dry_run, may_update=may_update)
        for batch in batches:
            valid = _checked(rules, batch, report)
            batch.clear()
            records.take(valid)


def _batches(rows: Iterable[tabular.Row], report: matching.Report, max_rows: int | None,
             progress: Callable[[int], None] | None) -> Iterator[list[tabular.Row]]:
    """The rows a batch at a time (the caller may empty each once it has read it), counted in the report. With
    `max_rows`, all of them in one batch, given only once the file is known to be within it: a file past the
    limit is refused before anything of it is written."""
    size = BATCH if max_rows is None else max_rows + 1
    batch: list[tabular.Row] = []
    for row in rows:
        report.rows += 1
        if max_rows is not None and report.rows > max_rows:
            raise tabular.TooManyRows()
        batch.append(row)
        if len(batch) == size:
            yield batch
            if progress is not None:
                progress(size)
            batch = []
    if batch:
        count = len(batch)
        yield batch
        if progress is not None:
            progress(count)


@functools.lru_cache(maxsize=8)
def _many(rules: type) -> TypeAdapter:
    return TypeAdapter(list[rules])


@functools.lru_cache(maxsize=8)
def _one(rules: type) -> TypeAdapter:
    return TypeAdapter(rules)


def _checked(rules: type, batch: list[tabular.Row], report: matching.Report) -> list[tuple[int, dict]]:
    """The rows of a batch that keep every rule, with their lines; the others' problems go to the report. Checked
    10,000 in one call (a tenth faster than one by one), and one by one only in a part where one fails."""
    valid = []
    for start in range(0, len(batch), 10_000):
        part = [(line, cells) for line, cells in batch[start:start + 10_000] if cells is not None]  # (None: wrong)
        try:
            valid += zip([line for line, _ in part], _many(rules).validate_python([c for _, c in part]), strict=True)
        except ValidationError:
            for line, cells in part:
                try:
                    valid.append((line, _one(rules).validate_python(cells)))
                except ValidationError as exc:
                    for column, message in field_messages(exc):
                        report.add(line, column, message)
    return valid


class _Records:
    """Movies or actors, a batch at a time: each row a record created, changed or left as it is."""

    def __init__(self, side: Side, layout: Layout, match: str, report: matching.Report, *, write: bool,
                 may_update: Callable[[int], None] | None):
        self.side, self.match, self.report, self.write, self.may_update = side, match, report, write, may_update
        self.key_column = layout.keys[match][0]
        self.by = "id" if match == "id" else " and ".join(layout.keys[match])
        self.seen: dict[object, int] = {}  # each key the file gave, and its line: a file gives a record once
        if write:
            matching.import_lock(layout.kind)

    def take(self, valid: list[tuple[int, dict]]) -> None:
        side, match, report, noun = self.side, self.match, self.report, self.side.noun
        planned: list[tuple[int, object, dict]] = []  # (line, the row's key, its fields)
        for line, row in valid:
            key = row.get("id") if match == "id" else matching.row_key(side, row)
            if key is not None and key in self.seen:
                report.add(line, self.key_column, f"names the same {noun} as line {self.seen[key]} (by {self.by}): "
                                                  f"a file gives each {noun} once")
                continue
            if key is not None:
                self.seen[key] = line
            # Under natural keys a checked row holds exactly the record's fields: it is used as it is.
            planned.append((line, key, row if match == "natural" else {f: row[f] for f in side.fields}))
        found = matching.found(side, match, {key for _, key, _ in planned if key is not None})
        creates: list[tuple[int, dict]] = []
        updates: list[tuple[int, int, dict]] = []  # (line, id, fields)
        read: dict[int, dict] = {}  # the records it changes, as read
        for line, key, fields in planned:
            matches = found.get(key, []) if key is not None else []
            if match == "id" and key is not None and not matches:
                report.add(line, "id", f"no {noun} with id {key}")
            elif len(matches) > 1:
                ids = ", ".join(str(m["id"]) for m in matches)
                report.add(line, self.key_column, f"matches {len(matches)} {side.embedded_by_other} (ids {ids}): "
                                                  "import with match=id to say which")
            elif not matches:
                creates.append((line, fields))
            elif all(matches[0][f] == value for f, value in fields.items()):
                report.unchanged += 1
            else:
                updates.append((line, matches[0]["id"], fields))
                read[matches[0]["id"]] = matches[0]
        report.created += len(creates)
        report.updated += len(updates)
        if updates and self.may_update is not None:
            self.may_update(report.updated)
        if self.write and not report.problems:  # (past a problem nothing more is written: all is rolled back)
            matching.locked_as_read(side, read)
            _write_records(side, creates, updates)


def _shown(fields: dict) -> dict:
    return {name: value.isoformat() if name == "release_date" else value for name, value in fields.items()}


def _write_records(side: Side, creates: list[tuple[int, dict]], updates: list[tuple[int, int, dict]]) -> None:
    table = side.model.__table__
    before = records.read_many(side, [record_id for _, record_id, _ in updates])
    entries: list[tuple[int, dict]] = []
    if db.engine.dialect.name == "postgresql":
        _create_with_entries(side, [fields for _, fields in creates])
    else:
        ids = bulk.new_ids(table, len(creates))
        bulk.insert_rows(table, [{"id": record_id, **fields}
                                 for record_id, (_, fields) in zip(ids, creates, strict=True)])
        entries = [(line, history.created(side, record_id, _shown(fields)))
                   for record_id, (line, fields) in zip(ids, creates, strict=True)]
    bulk.update_rows(table, [{"id": record_id, **fields} for _, record_id, fields in updates])
    if creates or updates:
        changed()
    entries += [(line, history.entry("updated", side, record_id, before[record_id],
                                     {**before[record_id], **_shown(fields)}))
                for line, record_id, fields in updates]
    history.write([entry for _, entry in sorted(entries, key=lambda pair: pair[0])])


def _create_with_entries(side: Side, rows: list[dict]) -> None:
    """PostgreSQL: new records and their `created` entries in one statement, from the rows sent with one COPY
    (bulk.copied): the rows get their ids from the table's sequence, in the file's order, and the database
    writes each entry itself (history.created_in_sql), so 100,000 entries are neither built nor sent one by
    one."""
    if not rows:
        return
    table = side.model.__table__
    # The rows, materialized, are read twice: kept in memory rather than spilled to a temporary file.
    db.session.execute(text("SET LOCAL work_mem = '64MB'"))
    with bulk.copied(table, list(side.fields), rows) as source:
        # (The sequence found once, not once a row.)
        sequence = select(cast(func.pg_get_serial_sequence(table.name, "id"), REGCLASS)).scalar_subquery()
        made = select(func.nextval(sequence).label("id"), *source.c).cte("made").prefix_with("MATERIALIZED")
        stored = insert(table).from_select(["id", *side.fields],
                                           select(made.c.id, *(made.c[f] for f in side.fields)))
        entry = history.created_in_sql(side, made.c)
        stamped = {name: bindparam(None, value, type_=history_table.c[name].type)
                   for name, value in history.stamp().items()}
        columns = {**stamped, **entry}
        # (In the rows' order, the ids' order: no sort of 100,000 rows, which would spill to disk.)
        db.session.execute(insert(history_table)
                           .from_select(list(columns), select(*columns.values()).select_from(made))
                           .add_cte(stored.cte("stored")))


# --- castings --------------------------------------------------------------------------------------------------


def _reference(side: Side, match: str, row, found: Container, report: matching.Report, line: int,
               column: str) -> int | None:
    """The id of the record a casting row names on one side, or None (its problem reported). `found`: the ids
    that exist (match=id), or the records by natural key (matching.found)."""
    if match == "id":
        record_id = row[column]  # (the column is the side's id: movie_id, actor_id)
        if record_id not in found:
            report.add(line, column, f"no {side.noun} with id {record_id}")
            return None
        return record_id
    key = (row["movie_title"], row["movie_release_date"]) if side is MOVIE else (row["actor_name"],)
    matches = found.get(key, [])
    if len(matches) != 1:
        ids = ", ".join(str(m["id"]) for m in matches)
        report.add(line, column, matching.described(side, key) if not matches else
                   f"matches {len(matches)} {side.embedded_by_other} (ids {ids}): import with match=id to say which")
        return None
    return matches[0]["id"]


def _castings(match: str, valid: list, report: matching.Report, *, write: bool) -> None:
    """Castings: each row the casting of its movie and actor, with exactly the character and billing it gives
    (an empty cell clears one), created, changed or left as it is; castings a file does not give stay."""
    movies: Container
    actors: Container
    if match == "id":  # only whether they exist: their fields are not needed
        movies = matching.existing(MOVIE, {row["movie_id"] for _, row in valid})
        actors = matching.existing(ACTOR, {row["actor_id"] for _, row in valid})
        movie_column, actor_column = "movie_id", "actor_id"
    else:
        movies = matching.found(MOVIE, match, {(row["movie_title"], row["movie_release_date"]) for _, row in valid})
        actors = matching.found(ACTOR, match, {(row["actor_name"],) for _, row in valid})
        movie_column, actor_column = "movie_title", "actor_name"
    # (movie, actor): (line, role), in the file's order (valid is in line order, and a pair goes in once)
    asked: dict[tuple[int, int], tuple[int, Role]] = {}
    for line, row in valid:
        movie = _reference(MOVIE, match, row, movies, report, line, movie_column)
        actor = _reference(ACTOR, match, row, actors, report, line, actor_column)
        if movie is None or actor is None:
            continue
        pair = (movie, actor)
        if pair in asked:
            report.add(line, actor_column, f"names the same casting (movie {movie}, actor {actor}) as line "
                                           f"{asked[pair][0]}: a file gives each casting once")
            continue
        asked[pair] = (line, Role(row.get("character"), row.get("billing")))
    now = _casts({movie for movie, _ in asked})
    _check_billings(asked, now, report)
    changes: dict[int, dict[int, Role]] = {}  # movie: {actor: the new role} for castings made or changed
    created = updated = 0
    for (movie, actor), (_, role) in asked.items():
        cast = now.get(movie)
        was = cast.get(actor) if cast is not None else None
        if was is None:
            created += 1
        elif was == role:
            report.unchanged += 1
            continue
        else:
            updated += 1
        changed_cast = changes.get(movie)
        if changed_cast is None:
            changed_cast = changes[movie] = {}
        changed_cast[actor] = role
    report.created += created
    report.updated += updated
    if write and not report.problems:
        _lock_casts_as_read(changes, now)
        _write_castings(changes, now)


def _lock_casts_as_read(changes: dict[int, dict[int, Role]], now: dict[int, dict[int, Role]]) -> None:
    """Lock the movies whose cast the import changes, then the actors whose castings it changes (the lock order),
    and check that those casts are still what the import read; else it runs again (Restart)."""
    movies = sorted(changes)
    actors = sorted({actor for cast in changes.values() for actor in cast})
    if records.lock(MOVIE, movies) != set(movies) or records.lock(ACTOR, actors) != set(actors):
        raise Restart("a movie or an actor the import casts was deleted while it was being read")
    if _casts(set(movies)) != {movie: now[movie] for movie in movies if movie in now}:
        raise Restart("a cast the import changes was changed while it was being read")


def _casts(movie_ids: set[int]) -> dict[int, dict[int, Role]]:
    """The castings of these movies, by movie and actor."""
    if not movie_ids:
        return {}
    rows = db.session.execute(select(movie_actors.c.movie_id, movie_actors.c.actor_id, movie_actors.c.character,
                                     movie_actors.c.billing)
                              .where(records.ids_in(movie_actors.c.movie_id, sorted(movie_ids))))
    casts: dict[int, dict[int, Role]] = {}
    for movie, actor, character, billing in rows:
        casts.setdefault(movie, {})[actor] = Role(character, billing)
    return casts


def _check_billings(asked: dict, now: dict, report: matching.Report) -> None:
    """Each movie's billings unique once the file's castings replace those they name: they may trade places
    within one file, as in PUT /movies/{id}/cast."""
    given: dict[tuple[int, int], tuple[int, int]] = {}  # (movie, billing): (line, actor), from the file
    for (movie, actor), (line, role) in asked.items():  # (in line order: see _castings)
        billing = role.billing
        if billing is None:
            continue
        first = given.get((movie, billing))
        if first is not None:
            report.add(line, "billing", f"must not give two castings of movie {movie} the same billing (line "
                                        f"{first[0]} gives {billing} too)")
            continue
        given[movie, billing] = (line, actor)
    held: dict[tuple[int, int], list[int]] = {}  # (movie, billing): its holders as read, each cast read once
    for movie in {movie for movie, _ in given}:
        for other, role in now.get(movie, {}).items():
            if role.billing is not None:
                held.setdefault((movie, role.billing), []).append(other)
    for (movie, billing), (line, actor) in given.items():
        holders = [other for other in held.get((movie, billing), ()) if other != actor and (movie, other) not in asked]
        if holders:
            report.add(line, "billing", f"{billing} is held by actor {holders[0]} in movie {movie}: to reorder "
                                        "the cast, give that casting another billing in the same file")


def _write_castings(changes: dict[int, dict[int, Role]], now: dict[int, dict[int, Role]]) -> None:
    """Castings that change are deleted and written again, so billings can trade places; then each changed
    movie's `updated` entry and, on each of its actors, a `cast` or `updated` entry naming the movie, as
    PUT /movies/{id}/cast writes them. PostgreSQL does it all in SQL (castings_sql.write); SQLite here."""
    if not changes:
        return
    if db.engine.dialect.name == "postgresql" and IN_SQL:
        castings_sql.write(changes, now)
        changed()
        return
    actor_ids = sorted({actor for cast in changes.values() for actor in cast})
    movies_before = records.read_many(MOVIE, changes)
    actors_now = records.read_many(ACTOR, actor_ids)
    gone = [(movie, actor) for movie, cast in changes.items() for actor in cast if actor in now.get(movie, {})]
    bulk.delete_pairs(movie_actors, "movie_id", "actor_id", gone)
    bulk.insert_rows(movie_actors, [{"movie_id": movie, "actor_id": actor, **role.row()}
                                    for movie, cast in sorted(changes.items()) for actor, role in sorted(cast.items())])
    changed()
    movies_after = records.read_many(MOVIE, changes)
    entries = []
    for movie_id in sorted(changes):
        movie = movies_after[movie_id]
        entries.append(history.entry("updated", MOVIE, movie_id, movies_before[movie_id], movie))
        before = {actor: actors_now[actor] for actor in changes[movie_id]}
        after = {actor: _cast_in(actors_now[actor], movie, role) for actor, role in changes[movie_id].items()}
        entries += history.castings(ACTOR, before, after, MOVIE, movie)
        actors_now.update(after)
    history.write(entries)


def _cast_in(actor: dict, movie: dict, role: Role) -> dict:
    """An actor as shown once cast in `movie` as `role` (their movies by id)."""
    movies = [shown for shown in actor["movies"] if shown["id"] != movie["id"]]
    movies.append({"id": movie["id"], "title": movie["title"], **role.shown()})
    return {**actor, "movies": sorted(movies, key=lambda shown: shown["id"])}
