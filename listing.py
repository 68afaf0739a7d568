"""Lists of movies and actors: filters, sort, pages, the exact total, and each row's cast.

On PostgreSQL a page is one statement in which the database builds the whole response body (one round
trip, nothing decoded and re-encoded here); elsewhere (SQLite) it is three statements in one transaction
whatever the page size. Both answer the same JSON, and both carry the catalogue version they were read
at, from which the list's ETag is made.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Flask, Response, current_app, request
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    bindparam,
    case,
    func,
    literal_column,
    select,
    true,
    tuple_,
)
from sqlalchemy import cast as cast_to
from sqlalchemy.dialects.postgresql import aggregate_order_by

import conditional
import cursors
import transactions
from models import Actor, Movie, catalogue_version, db, movie_actors, table_counts
from records import ACTOR, MOVIE, Side


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _order(columns, sort: str, *, backwards: bool = False):
    """ORDER BY for `sort` over a model or a subquery's columns; ties broken by id, same direction (all of it
    turned round when reading `backwards`)."""
    descending = sort.startswith("-") != backwards
    return [key.desc() if descending else key.asc() for key in _keys(columns, sort)]


@dataclass(frozen=True)
class Listing:
    """How to list one side of the casting (its record shape comes from records.Side) and filter it."""

    side: Side
    # Each filter by name: its clause, with the value as a bound parameter of the same name, so that a
    # statement is built once per shape of request and reused with new values.
    filters: dict[str, Callable[[], ColumnElement[bool]]]
    # The filter values a request asks for, by name, from its validated query and the record in its path.
    values: Callable[[object, int | None], dict]

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

    def count(self, clauses: list[ColumnElement[bool]]) -> Select:
        """The exact total: the rows matching `clauses`, or with none the count kept by triggers
        (migration 0002), so an unfiltered list never runs a COUNT(*) over the whole table."""
        if clauses:
            return select(func.count()).select_from(self.model).where(*clauses)
        return select(table_counts.c.row_count).where(table_counts.c.table_name == self.model.__tablename__)


def _movie_values(params, actor_id: int | None) -> dict:
    values: dict = {}
    if params.q:
        values["q"] = _like(params.q)
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
        values["q"] = _like(params.q)
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
}, _movie_values)
ACTORS = Listing(ACTOR, {
    "q": lambda: Actor.name.ilike(bindparam("q"), escape="\\"),
    "gender": lambda: func.lower(Actor.gender) == bindparam("gender"),
    "min_age": lambda: Actor.age >= bindparam("min_age"),
    "max_age": lambda: Actor.age <= bindparam("max_age"),
    "movie_id": lambda: Actor.id.in_(
        select(movie_actors.c.actor_id).where(movie_actors.c.movie_id == bindparam("movie_id"))),
}, _actor_values)
LISTINGS = {listing.key: listing for listing in (MOVIES, ACTORS)}


KEY_TYPES = {"id": int, "title": str, "release_date": dt.date, "name": str, "age": int}
# Deep pages by number start from the nearest anchor: the sort keys of every ANCHOR_EVERY-th row.
ANCHOR_EVERY = 1000
ANCHOR_REBUILD_SECONDS = 1.0
# A search whose remembered total is at least this finds its page faster by walking the sort order than
# by collecting every match first (the matches are dense enough that a page is found within a few
# hundred rows).
WALK_SEARCH_FROM = 1000


class VersionMemo:
    """Exact values derived from the catalogue at one version, kept by this process until it changes: a
    filtered list's total (a broad search counts many rows), and the anchors deep pages start from
    (finding row 900,000 otherwise means counting the 899,999 before it). A statement that uses one
    checks, in its own snapshot, that the catalogue is still at that version, and computes the value
    afresh when it is not: a memo makes an answer cheaper, never different.

    One per app (`memo()`): versions of two databases are not comparable, so apps never share one."""

    def __init__(self, size: int = 512):
        self._size = size
        self._entries: OrderedDict[tuple, tuple[int, object]] = OrderedDict()
        self._lock = threading.Lock()
        self.anchor_builds: dict[tuple, float] = {}  # when each list's anchors were last built

    def get(self, key: tuple) -> tuple[int, object] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple, at_version: int, value) -> None:
        with self._lock:
            self._entries[key] = (at_version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget(self, key: tuple) -> None:
        with self._lock:
            self._entries.pop(key, None)


def init_app(app: Flask) -> None:
    app.extensions["list_memo"] = VersionMemo()


def memo() -> VersionMemo:
    """This app's memo of exact values per catalogue version."""
    return current_app.extensions["list_memo"]


def _keys(columns, sort: str) -> list:
    """The sort keys of a list, in order: the sort field, then the id that breaks ties (or the id alone)."""
    name = sort.lstrip("-")
    return [columns.id] if name == "id" else [getattr(columns, name), columns.id]


def _key_types(sort: str) -> tuple[type, ...]:
    name = sort.lstrip("-")
    return (int,) if name == "id" else (KEY_TYPES[name], int)


def respond(listing: Listing, params, parent_id: int | None = None) -> Response:
    """A list page with its ETag, cursors and Link header, or a 304 when If-None-Match names the current
    ETag (one indexed read). `parent_id` is the record of the path (/actors/{id}/movies)."""
    if request.headers.get("If-None-Match") is not None:
        etag = conditional.list_etag(version())
        if conditional.none_match(etag):
            return conditional.not_modified(etag)
    page = _read(listing, params, parent_id, portable=False)
    response = Response(page.body, mimetype="application/json")
    response.headers["ETag"] = conditional.list_etag(page.version)
    link = cursors.links(page.next_cursor, page.prev_cursor)
    if link:
        response.headers["Link"] = link
    return response


def read_page(listing: Listing, params, parent_id: int | None = None, *, portable: bool = False) -> tuple[dict, int]:
    """A page as a dict and the catalogue version it was read at: by the single PostgreSQL statement, or
    (`portable`, or on other databases) by the statements of the other path. The two must agree."""
    page = _read(listing, params, parent_id, portable=portable)
    return json.loads(page.body), page.version


@dataclass(frozen=True)
class Page:
    body: str  # the JSON answer
    version: int  # the catalogue version it was read at
    next_cursor: str | None
    prev_cursor: str | None


def _read(listing: Listing, params, parent_id: int | None, *, portable: bool) -> Page:
    values = listing.values(params, parent_id)
    window = cursors.window(params, parent_id, _key_types(params.sort))
    if db.engine.dialect.name == "postgresql" and not portable:
        body, at_version, more, first, last = _page_postgresql(listing, values, params.sort, window)
        first, last = (json.loads(first) if first else None), (json.loads(last) if last else None)
    else:
        page, at_version, more = _page_rows(listing, values, params.sort, window)
        rows = page[listing.key]
        first, last = (_row_keys(rows[0], params.sort), _row_keys(rows[-1], params.sort)) if rows else (None, None)
        body = json.dumps(page, separators=(",", ":"))
    number, next_cursor, prev_cursor = cursors.neighbours(params, parent_id, window, more, first, last)
    tail = json.dumps({"page": number, "per_page": params.per_page, "next_cursor": next_cursor,
                       "prev_cursor": prev_cursor}, separators=(",", ":"))
    return Page(body[:-1] + "," + tail[1:], at_version, next_cursor, prev_cursor)


def _row_keys(row: dict, sort: str) -> list:
    name = sort.lstrip("-")
    return [row["id"]] if name == "id" else [row[name], row["id"]]


def version_column():
    """The catalogue version, as a column of a statement that reads the list (the same snapshot)."""
    return select(catalogue_version.c.version).where(catalogue_version.c.id == 1).scalar_subquery()


_VERSION = select(catalogue_version.c.version).where(catalogue_version.c.id == 1)


def version() -> int:
    """The catalogue version now (a 304's whole read)."""
    return transactions.reader().scalar(_VERSION)


def _window_clauses(columns, sort: str, mode: str) -> tuple[list, list]:
    """The keyset condition of a window (rows after or before the bound keys `key0`, `key1`) and the order
    to read it in: backwards for a page before a cursor, which is turned round again for the answer."""
    keys = _keys(columns, sort)
    descending = sort.startswith("-")
    bound = tuple_(*(bindparam(f"key{i}", type_=key.type) for i, key in enumerate(keys)))
    clauses = []
    if mode == "anchored":  # from the anchor row on, in the sort's direction
        clauses.append(tuple_(*keys) <= bound if descending else tuple_(*keys) >= bound)
    elif mode != "offset":
        forward = (mode == "after") != descending
        clauses.append(tuple_(*keys) > bound if forward else tuple_(*keys) < bound)
    return clauses, _order(columns, sort, backwards=mode == "before")


@functools.lru_cache(maxsize=512)
def page_statement(key: str, sort: str, filters: tuple[str, ...], mode: str = "offset",
                   remembered_total: bool = False, walk: bool = False) -> Select:
    """The single statement of a PostgreSQL list page: the page, each row's cast and the total, as the
    response body, with the catalogue version, whether more rows lie beyond the page, the sort keys of
    its first and last rows (for the cursors), and the total on its own (for the memo).

    `mode`: offset (a page by number), after / before (a cursor's), anchored (a deep page by number,
    counted from an anchor row). `remembered_total`: the total is the bound `memo_total` when the
    catalogue is still at `memo_version`, else it is counted. `walk`: a search walks the sort order
    (for a broad one) instead of collecting every match first.
    Built once per combination (about 0.4 ms saved per request); every value is a bound parameter."""
    listing = LISTINGS[key]
    model, other, label = listing.model, listing.side.other.model, listing.side.other.label
    clauses = listing.where(filters)
    rows = select(*(getattr(model, c) for c in listing.columns))
    if "q" in filters and not walk:
        # ILIKE '%term%' is costly on every row it reads: the matches are found once, for both the page
        # and the exact total (measured: a narrow search 1.6x faster at 10k and 100k movies). Cheap
        # filters keep two reads: an early-stopping walk for the page and an index-only count.
        matches = rows.where(*clauses).cte("matches").prefix_with("MATERIALIZED")
        rows, columns = select(*matches.c), matches.c
        total = select(func.count()).select_from(matches).scalar_subquery()
    else:
        rows, columns = rows.where(*clauses), model
        total = listing.count(clauses).scalar_subquery()
    if remembered_total:
        # PostgreSQL evaluates only the branch it takes: the count runs only when the memo is stale.
        total = case((version_column() == bindparam("memo_version", type_=Integer),
                      bindparam("memo_total", type_=Integer)), else_=total)
    window, read_order = _window_clauses(columns, sort, mode)
    # One row more than the page, to know whether there is more; the page is the first per_page of them.
    fetched = (
        rows.where(*window).order_by(*read_order)
        .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))
        .cte("fetched")
    )
    page = select(*fetched.c).order_by(*_order(fetched.c, sort, backwards=mode == "before")).limit(
        bindparam("per_page", type_=Integer)).subquery("page")
    empty = literal_column("'[]'::json")
    # Each cast member's label by primary key: the planner otherwise hash-joins a whole scan of the
    # other table for every row of the page (measured: 2.7x slower at 1k movies).
    other_label = select(getattr(other, label)).where(other.id == listing.side.other_fk).scalar_subquery()
    cast = (
        select(func.coalesce(func.json_agg(aggregate_order_by(
            func.json_build_object("id", listing.side.other_fk, label, other_label), listing.side.other_fk)), empty))
        .where(listing.side.own_fk == page.c.id)
        .scalar_subquery()
    )
    fields = []
    for name in listing.columns:
        column = page.c[name]
        fields += [name, func.to_char(column, "YYYY-MM-DD") if name == "release_date" else column]
    items = (
        select(func.coalesce(func.json_agg(aggregate_order_by(
            func.json_build_object(*fields, listing.side.embedded, cast), *_order(page.c, sort))), empty))
        .select_from(page)
        .scalar_subquery()
    )
    counted = select(total.label("total")).subquery("counted")
    body = func.json_build_object("success", true(), listing.key, items, "total", counted.c.total)
    more = select(func.count() > bindparam("per_page", type_=Integer)).select_from(fetched).scalar_subquery()
    page_keys = _keys(page.c, sort)
    first, last = (
        select(cast_to(func.json_build_array(*page_keys), Text)).order_by(*_order(page.c, sort, backwards=end))
        .limit(1).scalar_subquery()
        for end in (False, True)
    )
    # The catalogue version the body was read at, from the same snapshot: the list's ETag.
    return select(cast_to(body, Text), version_column(), more, first, last, counted.c.total).select_from(counted)


def _page_postgresql(listing: Listing, values: dict, sort: str, window: cursors.Window):
    """The page built by PostgreSQL in one statement, outside any explicit transaction: one round trip,
    and no decoding or re-encoding here. Returns (body, version, more, first keys, last keys)."""
    mode = "after" if window.after is not None else "before" if window.before is not None else "offset"
    filters = tuple(sorted(values))
    bound = {**values, "limit": window.per_page + 1, "per_page": window.per_page, "offset": window.offset}
    bound.update({f"key{i}": value for i, value in enumerate(window.after or window.before or ())})
    total_key = ("total", listing.key, tuple(sorted((k, str(v)) for k, v in values.items())))
    remembered = memo().get(total_key) if filters else None
    if remembered is not None:
        bound.update(memo_version=remembered[0], memo_total=remembered[1])
    walk = "q" in filters and remembered is not None and remembered[1] >= WALK_SEARCH_FROM
    anchor = _anchor(listing, sort, window) if mode == "offset" and not filters else None
    if anchor is not None:
        anchor_version, keys, skipped = anchor
        anchored = {**bound, "offset": window.offset - skipped, **{f"key{i}": k for i, k in enumerate(keys)}}
        row = transactions.reader().execute(page_statement(listing.key, sort, filters, "anchored"), anchored).one()
        if row[1] == anchor_version:
            return row[:5]
        memo().forget(("anchors", listing.key, sort))  # the catalogue changed since: counted the long way
    statement = page_statement(listing.key, sort, filters, mode, remembered is not None, walk)
    row = transactions.reader().execute(statement, bound).one()
    if filters and (remembered is None or remembered[0] != row[1]):
        memo().put(total_key, row[1], row[5])
    return row[:5]


def _anchor(listing: Listing, sort: str, window: cursors.Window) -> tuple[int, tuple, int] | None:
    """For a deep page by number: the catalogue version, the sort keys of the anchor row at or before its
    first row, and that row's position; None for a shallow page, or while anchors are being rebuilt."""
    if window.offset < 2 * ANCHOR_EVERY:
        return None
    key, remembered = ("anchors", listing.key, sort), memo()
    found = remembered.get(key)
    if found is None:
        now = time.monotonic()
        if now - remembered.anchor_builds.get(key, -float("inf")) < ANCHOR_REBUILD_SECONDS:
            return None  # rebuilt a moment ago and already stale: the catalogue is busy changing
        remembered.anchor_builds[key] = now
        found = _build_anchors(listing, sort)
        remembered.put(key, *found)
    at_version, anchors = found
    index = min(window.offset // ANCHOR_EVERY, len(anchors) - 1)
    if index <= 0:
        return None
    return at_version, tuple(anchors[index]), index * ANCHOR_EVERY


def _build_anchors(listing: Listing, sort: str) -> tuple[int, list]:
    """The sort keys of rows 0, ANCHOR_EVERY, 2 * ANCHOR_EVERY... of a whole list, and the catalogue
    version they were read at: one walk of the sort's index."""
    keys = _keys(listing.model, sort)
    numbered = select(*keys, (func.row_number().over(order_by=_order(listing.model, sort)) - 1).label("n")).subquery()
    statement = (
        select(*(numbered.c[k.key] for k in keys), version_column())
        .where(numbered.c.n % ANCHOR_EVERY == 0)
        .order_by(numbered.c.n)
    )
    rows = transactions.reader().execute(statement).all()
    if not rows:
        return version(), []
    return rows[0][-1], [tuple(row[:-1]) for row in rows]


def _page_rows(listing: Listing, values: dict, sort: str, window: cursors.Window) -> tuple[dict, int, bool]:
    """One page of rows with their embedded casts (other databases): three statements in one transaction
    whatever the page size, as plain rows (no ORM objects): the total with the catalogue version, the
    page, and the casts of every row on the page. With whether more rows lie beyond the page."""
    model = listing.model
    clauses = listing.where(values)
    total, at_version = db.session.execute(listing.count(clauses).add_columns(version_column()), values).one()
    mode = "after" if window.after is not None else "before" if window.before is not None else "offset"
    keyset, read_order = _window_clauses(model, sort, mode)
    bound = {f"key{i}": value for i, value in enumerate(window.after or window.before or ())}
    rows = db.session.execute(
        select(*(getattr(model, c) for c in listing.columns))
        .where(*clauses, *keyset)
        .order_by(*read_order)
        .limit(window.per_page + 1)
        .offset(window.offset),
        {**values, **bound},
    ).all()
    more = len(rows) > window.per_page
    rows = rows[: window.per_page]
    if mode == "before":
        rows.reverse()
    rows_out = [dict(zip(listing.columns, row, strict=True)) for row in rows]
    by_id = {}
    for record in rows_out:
        record[listing.side.embedded] = by_id[record["id"]] = []
        if "release_date" in record:
            record["release_date"] = record["release_date"].isoformat()
    if rows_out:
        other = listing.side.other.model
        label = listing.side.other.label
        cast = db.session.execute(
            select(listing.side.own_fk, other.id, getattr(other, label))
            .join(other, other.id == listing.side.other_fk)
            .where(listing.side.own_fk.in_(list(by_id)))
            .order_by(listing.side.own_fk, other.id)
        )
        for owner, other_id, other_label in cast:
            by_id[owner].append({"id": other_id, label: other_label})
    return {"success": True, listing.key: rows_out, "total": total}, at_version, more
