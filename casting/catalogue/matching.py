"""How an import's rows meet the catalogue (casting/catalogue/imports.py): the report of what they do, the records
they name by id or by natural key (a movie's title and release date, an actor's name), found without locks,
and the locks taken on those an import changes, checked to be what was read."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, text

from casting.catalogue import bulk, records
from casting.catalogue.records import MOVIE, Side
from casting.catalogue.tabular import Problem
from casting.errors import ApiError
from casting.schemas.rows import PROBLEMS_LISTED
from casting.web.transactions import Restart
from models import db


@dataclass
class Report:
    """What an import did, or would do: counts of the valid rows, and every problem found."""

    kind: str
    match: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, line: int, column: str | None, message: str) -> None:
        self.problems.append(Problem(line, column, message))

    def as_json(self, request_id: str) -> dict:
        problems = sorted(self.problems, key=lambda p: p.line)
        return {"type": self.kind, "match": self.match, "dry_run": self.dry_run, "request_id": request_id,
                "rows": self.rows, "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "problem_count": len(problems), "problems": [p.as_json() for p in problems[:PROBLEMS_LISTED]]}


def row_key(side: Side, row) -> tuple:
    """A row's natural key: the first fields of its record (_key_columns), in order."""
    return (row["title"], row["release_date"]) if side is MOVIE else (row["name"],)


def described(side: Side, key: tuple) -> str:
    if side is MOVIE:
        return f"no movie titled {key[0]!r} released on {key[1].isoformat()}"
    return f"no actor named {key[0]!r}"


def found(side: Side, match: str, keys: set) -> dict[object, list[dict]]:
    """The records of `side` that `keys` name (ids, or natural keys), with their fields, by key: a natural key
    may name several. Read without locks: the import locks only what it changes (locked_as_read)."""
    model = side.model
    if match == "id":
        wanted, column = keys, model.id
    else:  # looked for by the key's first column (indexed), then by the whole key
        wanted, column = {key[0] for key in keys}, getattr(model, side.fields[0])
    if not wanted:
        return {}
    statement = select(model.id, *(getattr(model, f) for f in side.fields)).where(
        records.ids_in(column, sorted(wanted)) if match == "id" else bulk.among(column, sorted(wanted)))
    names, width = ("id", *side.fields), len(key_columns(side))
    found: dict[object, list[dict]] = {}
    for row in db.session.execute(statement):
        key = row[0] if match == "id" else row[1:1 + width]  # the natural key: the first fields, in order
        if match == "id" or key in keys:
            found.setdefault(key, []).append(dict(zip(names, row, strict=True)))
    return found


def existing(side: Side, ids: set[int]) -> set[int]:
    """Which of `ids` are records of `side`, read without locks: all a casting by ids needs of them."""
    if not ids:
        return set()
    return set(db.session.scalars(select(side.model.id).where(records.ids_in(side.model.id, sorted(ids)))))


def key_columns(side: Side) -> tuple[str, ...]:
    return ("title", "release_date") if side is MOVIE else ("name",)


def locked_as_read(side: Side, read: dict[int, dict]) -> None:
    """Lock the records the import changes, in the lock order, and check that each is still what the import
    read: when one changed or went meanwhile, the import runs again (Restart), and decides again. Records it
    leaves alone are not locked: it read them as they were, as if it had come first."""
    if not read:
        return
    model = side.model
    rows = db.session.execute(select(model.id, *(getattr(model, f) for f in side.fields))
                              .where(records.ids_in(model.id, sorted(read))).order_by(model.id)
                              .with_for_update(key_share=True))
    if {row[0]: dict(zip(("id", *side.fields), row, strict=True)) for row in rows} != read:
        raise Restart(f"{side.embedded_by_other} the import changes were changed while it was being read")


def import_lock(kind: str) -> None:
    """One import of a kind at a time (PostgreSQL): two imports of one new movie would both find no record
    and both create it. Another import of the kind running is a 409, nothing written."""
    if db.engine.dialect.name == "postgresql":
        held = db.session.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext(:name))"),
                                 {"name": f"casting.import.{kind}"})
        if not held:
            raise ApiError(409, f"another import of {kind} is running; nothing was written: retry once it has "
                                "finished")
