"""The rows of an import or an export file (docs/import-export.md): each kind's columns, in the export's order,
the columns that find a record under each `match`, and each row's rules, made of the same types as the JSON
bodies (casting/schemas/bodies.py), so a file's problems are worded as the JSON writes word the same rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from casting.config import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS
from casting.schemas.text import Character, Name, Title
from casting.schemas.text import Gender as GenderText
from casting.schemas.values import Age, Billing, IsoDate, RecordId

MATCHES = ("natural", "id")
TOO_LARGE = (f"an import over HTTP takes at most {MAX_IMPORT_BYTES // 2**20} MiB and {MAX_IMPORT_ROWS:,} rows: "
             "load a bigger file with the command line, `flask import FILE` (docs/import-export.md)")
# An import's report lists this many problems at most (in the file's order); it counts them all. The command
# line prints every one.
PROBLEMS_LISTED = 1000


# Rows are checked as TypedDicts, not models: 100,000 checked rows are plain dicts (models would take a third
# more memory, and time). Unknown keys (an NDJSON line's) are refused as unknown fields are in a JSON body.
_STRICT = with_config(ConfigDict(extra="forbid"))


@_STRICT
class MovieRow(TypedDict):
    title: Title
    release_date: IsoDate


@_STRICT
class MovieRowById(MovieRow):
    id: NotRequired[RecordId]  # absent: a new movie


@_STRICT
class ActorRow(TypedDict):
    name: Name
    age: Age
    gender: GenderText


@_STRICT
class ActorRowById(ActorRow):
    id: NotRequired[RecordId]  # absent: a new actor


@_STRICT
class _Role(TypedDict):
    character: NotRequired[Character]
    billing: NotRequired[Billing]


@_STRICT
class CastingRowById(_Role):
    movie_id: RecordId
    actor_id: RecordId


@_STRICT
class CastingRowByName(_Role):
    movie_title: Title
    movie_release_date: IsoDate
    actor_name: Name


@dataclass(frozen=True)
class Layout:
    """One kind of file: its columns, which of them name a record under each match, and its rows' rules."""

    kind: str  # "movies", "actors", "castings": the `type` of an import, the path of an export
    columns: tuple[str, ...]  # every column, in the order exports write them
    values: tuple[str, ...]  # the columns an import writes (every file states them, cells may be empty)
    keys: dict[str, tuple[str, ...]]  # by match: the columns that find a record (or, for castings, the two)
    rules: dict[str, type]  # by match: a row's rules (a TypedDict)
    text: frozenset[str]  # columns of text: a CSV cell there may not start a formula
    integers: frozenset[str]  # columns of whole numbers: a CSV cell there is read as one

    def required(self, match: str) -> tuple[str, ...]:
        """The columns a file imported with `match` must have (in the export's order)."""
        wanted = set(self.keys[match]) | set(self.values)
        return tuple(column for column in self.columns if column in wanted)

    def ignored(self, match: str) -> frozenset[str]:
        """Columns a file may carry that this match does not read: another deployment's ids under `natural`,
        the names beside a casting's ids under `id`."""
        return frozenset(self.columns) - set(self.required(match))


MOVIES = Layout(
    "movies", ("id", "title", "release_date"), ("title", "release_date"),
    {"natural": ("title", "release_date"), "id": ("id",)}, {"natural": MovieRow, "id": MovieRowById},
    frozenset({"title"}), frozenset({"id"}))
ACTORS = Layout(
    "actors", ("id", "name", "age", "gender"), ("name", "age", "gender"),
    # An actor's name: performers' guilds give each a professional name of their own, and an age changes
    # every year, so it cannot be part of who someone is (docs/import-export.md).
    {"natural": ("name",), "id": ("id",)}, {"natural": ActorRow, "id": ActorRowById},
    frozenset({"name", "gender"}), frozenset({"id", "age"}))
CASTINGS = Layout(
    "castings",
    ("movie_id", "movie_title", "movie_release_date", "actor_id", "actor_name", "character", "billing"),
    ("character", "billing"),
    {"natural": ("movie_title", "movie_release_date", "actor_name"), "id": ("movie_id", "actor_id")},
    {"natural": CastingRowByName, "id": CastingRowById},
    frozenset({"movie_title", "actor_name", "character"}), frozenset({"movie_id", "actor_id", "billing"}))
LAYOUTS = {layout.kind: layout for layout in (MOVIES, ACTORS, CASTINGS)}
