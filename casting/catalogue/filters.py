"""What a list of movies or actors can be asked for: each side's filters (bound parameters, so a statement
is built once per shape of request), its sort keys with the id that breaks ties, and the keyset condition
of a window. Both ways of reading a page (postgres_page.py, portable_page.py) build on these."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, bindparam, func, select, tuple_

from casting.catalogue.records import ACTOR, MOVIE, Side
from models import Actor, Movie, movie_actors, table_counts


def like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def order(columns, sort: str, *, backwards: bool = False):
    """ORDER BY for `sort` over a model or a subquery's columns; ties broken by id, same direction (all of it
    turned round when reading `backwards`)."""
    descending = sort.startswith("-") != backwards
    return [key.desc() if descending else key.asc() for key in sort_keys(columns, sort)]


@dataclass(frozen=True)
class Listing:
    """How to list one side of the casting (its record shape comes from records.Side) and filter it."""

    side: Side
    # Each filter by name: its clause, with the value as a bound parameter of the same name, so that a
    # statement is built once per shape of request and reused with new values.
    filters: dict[str, Callable[[], ColumnElement[bool]]]
    # The filter values a request asks for, by name, from its validated query and the record in its path.
    values: Callable[[object, int | None], dict]
    # The filter naming the record of the path (/actors/{id}/movies: actor_id): a list under it shows each
    # row's casting with that record (its character and billing).
    parent: str = ""

    @property
    def key(self) -> str:
        return self.side.embedded_by_other

    @property
    def model(self) -> type:
        return self.side.model

    @property
    def columns(self) -> tuple[str, ...]:
        return ("id", *self.side.fields)

    def where(self, names: Iterable[str]) -> list[ColumnElement[bool]]:
        return [self.filters[name]() for name in sorted(names)]

    def role_columns(self, own_id) -> list:
        """The casting of the row `own_id` with the path's record (bound as the parent filter), as two
        scalar subqueries labelled character and billing."""
        side = self.side
        where = (side.own_fk == own_id, side.other_fk == bindparam(self.parent))
        return [select(column).where(*where).scalar_subquery().label(column.name)
                for column in (movie_actors.c.character, movie_actors.c.billing)]

    def count(self, clauses: list[ColumnElement[bool]]) -> Select:
        """The exact total: the rows matching `clauses`, or with none the count kept by triggers
        (migration 0002), so an unfiltered list never runs a COUNT(*) over the whole table."""
        if clauses:
            return select(func.count()).select_from(self.model).where(*clauses)
        return select(table_counts.c.row_count).where(table_counts.c.table_name == self.model.__tablename__)


def _movie_values(params, actor_id: int | None) -> dict:
    values: dict = {}
    if params.q:
        values["q"] = like(params.q)
    if params.character:
        values["character"] = like(params.character)
    if params.released_after:
        values["released_after"] = params.released_after
    if params.released_before:
        values["released_before"] = params.released_before
    if actor_id is not None:
        values["actor_id"] = actor_id
    return values


def _actor_values(params, movie_id: int | None) -> dict:
    values: dict = {}
    if params.q:
        values["q"] = like(params.q)
    if params.character:
        values["character"] = like(params.character)
    if params.gender:
        values["gender"] = params.gender.lower()
    if params.min_age is not None:
        values["min_age"] = params.min_age
    if params.max_age is not None:
        values["max_age"] = params.max_age
    if movie_id is not None:
        values["movie_id"] = movie_id
    return values


MOVIES = Listing(MOVIE, {
    "q": lambda: Movie.title.ilike(bindparam("q"), escape="\\"),
    "released_after": lambda: Movie.release_date >= bindparam("released_after"),
    "released_before": lambda: Movie.release_date <= bindparam("released_before"),
    "actor_id": lambda: Movie.id.in_(
        select(movie_actors.c.movie_id).where(movie_actors.c.actor_id == bindparam("actor_id"))),
    # Castings by character, through the trigram index on movie_actors.character (migration 0009).
    "character": lambda: Movie.id.in_(
        select(movie_actors.c.movie_id).where(movie_actors.c.character.ilike(bindparam("character"), escape="\\"))),
}, _movie_values, parent="actor_id")
ACTORS = Listing(ACTOR, {
    "q": lambda: Actor.name.ilike(bindparam("q"), escape="\\"),
    "gender": lambda: func.lower(Actor.gender) == bindparam("gender"),
    "min_age": lambda: Actor.age >= bindparam("min_age"),
    "max_age": lambda: Actor.age <= bindparam("max_age"),
    "movie_id": lambda: Actor.id.in_(
        select(movie_actors.c.actor_id).where(movie_actors.c.movie_id == bindparam("movie_id"))),
    "character": lambda: Actor.id.in_(
        select(movie_actors.c.actor_id).where(movie_actors.c.character.ilike(bindparam("character"), escape="\\"))),
}, _actor_values, parent="movie_id")
LISTINGS = {listing.key: listing for listing in (MOVIES, ACTORS)}

KEY_TYPES = {"id": int, "title": str, "release_date": dt.date, "name": str, "age": int}


def sort_keys(columns, sort: str) -> list:
    """The sort keys of a list, in order: the sort field, then the id that breaks ties (or the id alone)."""
    name = sort.lstrip("-")
    return [columns.id] if name == "id" else [getattr(columns, name), columns.id]


def key_types(sort: str) -> tuple[type, ...]:
    name = sort.lstrip("-")
    return (int,) if name == "id" else (KEY_TYPES[name], int)


def row_keys(row: dict, sort: str) -> list:
    name = sort.lstrip("-")
    return [row["id"]] if name == "id" else [row[name], row["id"]]


def window_clauses(columns, sort: str, mode: str) -> tuple[list, list]:
    """The keyset condition of a window (rows after or before the bound keys `key0`, `key1`) and the order
    to read it in: backwards for a page before a cursor, which is turned round again for the answer."""
    keys = sort_keys(columns, sort)
    descending = sort.startswith("-")
    bound = tuple_(*(bindparam(f"key{i}", type_=key.type) for i, key in enumerate(keys)))
    clauses = []
    if mode == "anchored":  # from the anchor row on, in the sort's direction
        clauses.append(tuple_(*keys) <= bound if descending else tuple_(*keys) >= bound)
    elif mode != "offset":
        forward = (mode == "after") != descending
        clauses.append(tuple_(*keys) > bound if forward else tuple_(*keys) < bound)
    return clauses, order(columns, sort, backwards=mode == "before")
