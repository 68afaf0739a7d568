"""A list page built by PostgreSQL in one statement: the page, each row's cast and the exact total, as the
response body (one round trip, nothing decoded and re-encoded here), with the catalogue version it was read
at. Searches and deep pages lean on values remembered per catalogue version (memo.py): a search's match set,
whose pages are then read by id as a list page's rows are (a second statement for the first request of a
search in a process, none after), a filtered list's total, the anchors of deep pages."""

from __future__ import annotations

import bisect
import functools
import sys
import time
from array import array

from sqlalchemy import Integer, Select, Text, any_, bindparam, case, func, literal_column, select, true
from sqlalchemy import cast as cast_to
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from casting.catalogue import version
from casting.catalogue.cursors import Window
from casting.catalogue.filters import LISTINGS, Listing, order, sort_keys, window_clauses
from casting.catalogue.memo import Matches, memo
from casting.catalogue.records import cast_order
from casting.web.transactions import reader
from models import movie_actors

# Deep pages by number start from the nearest anchor: the sort keys of every ANCHOR_EVERY-th row.
ANCHOR_EVERY = 1000
ANCHOR_REBUILD_SECONDS = 1.0
# A search whose remembered total is at least this finds its page faster by walking the sort order than
# by collecting every match first (the matches are dense enough that a page is found within a few
# hundred rows).
WALK_SEARCH_FROM = 1000
# A search (q=, character=) remembers its match set per catalogue version (memo.MatchSets) and reads a page
# of it by id; a match set found stale is read again at most once a MATCHES_REBUILD_SECONDS per search
# (meanwhile its pages are read the long way), so that a catalogue busy changing is not read whole again
# for every request.
SEARCH_FILTERS = frozenset({"q", "character"})
MATCHES_REBUILD_SECONDS = 1.0


@functools.lru_cache(maxsize=512)
def page_statement(key: str, sort: str, filters: tuple[str, ...], mode: str = "offset",
                   remembered_total: bool = False, walk: bool = False) -> Select:
    """The single statement of a PostgreSQL list page: the page, each row's cast and the total, as the
    response body, with the catalogue version, whether more rows lie beyond the page, the sort keys of
    its first and last rows (for the cursors), and the total on its own (for the memo).

    `mode`: offset (a page by number), after / before (a cursor's), anchored (a deep page by number,
    counted from an anchor row), ids (the rows of the bound `ids`, a page of a remembered match set, read
    only when the catalogue is still at `memo_version`: otherwise none, and the caller reads it again).
    `remembered_total`: the total is the bound `memo_total` when the catalogue is still at `memo_version`,
    else it is counted. `walk`: a search walks the sort order
    (for a broad one) instead of collecting every match first.
    Built once per combination (about 0.4 ms saved per request); every value is a bound parameter."""
    listing = LISTINGS[key]
    model, other, label = listing.model, listing.side.other.model, listing.side.other.label
    clauses = listing.where(filters)
    under_parent = listing.parent in filters
    rows = select(*(getattr(model, c) for c in listing.columns),
                  *(listing.role_columns(model.id) if under_parent else ()))
    by_castings = filters == ("character",) and sort.lstrip("-") == "id"
    if mode == "ids":
        # The rows of a page whose ids the memo found: by primary key, as a list page reads its rows; none
        # when the catalogue has moved on since the match set was read (checked in this snapshot).
        rows = rows.where(model.id == any_(bindparam("ids", type_=ARRAY(Integer))),
                          version.column() == bindparam("memo_version", type_=Integer))
        columns, total = model, bindparam("memo_total", type_=Integer)
    elif by_castings:
        # Records found by their castings' character, in id order: the page's ids are taken from the matching
        # castings themselves (their foreign key makes each one a record), and only those records are read.
        # Reading every matching record to sort them (the planner's choice, from a poor estimate of how many
        # match) cost 2.8x as much at 1M movies (bench/README.md#search-at-a-million).
        own = listing.side.own_fk
        matching = select(own).where(movie_actors.c.character.ilike(bindparam("character"), escape="\\")).distinct()
        castings_window, castings_order = window_clauses(_Keys(own), sort, mode)
        first_ids = (matching.where(*castings_window).order_by(*castings_order)
                     .limit(bindparam("limit", type_=Integer) + bindparam("offset", type_=Integer)))
        rows, columns = rows.where(model.id.in_(first_ids.scalar_subquery())), model
        total = select(func.count(own.distinct())).where(
            movie_actors.c.character.ilike(bindparam("character"), escape="\\")).scalar_subquery()
    elif "q" in filters and not walk:
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
        total = case((version.column() == bindparam("memo_version", type_=Integer),
                      bindparam("memo_total", type_=Integer)), else_=total)
    window, read_order = window_clauses(columns, sort, "offset" if mode == "ids" else mode)
    # One row more than the page, to know whether there is more; the page is the first per_page of them.
    fetched = (
        rows.where(*window).order_by(*read_order)
        .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))
        .cte("fetched")
    )
    page = select(*fetched.c).order_by(*order(fetched.c, sort, backwards=mode == "before")).limit(
        bindparam("per_page", type_=Integer)).subquery("page")
    empty = literal_column("'[]'::json")
    # Each cast member's label by primary key: the planner otherwise hash-joins a whole scan of the
    # other table for every row of the page (measured: 2.7x slower at 1k movies).
    other_label = select(getattr(other, label)).where(other.id == listing.side.other_fk).scalar_subquery()
    # Each summary with its casting's character and billing, left out when not set (json_strip_nulls).
    summary = func.json_strip_nulls(func.json_build_object(
        "id", listing.side.other_fk, label, other_label, "character", movie_actors.c.character,
        "billing", movie_actors.c.billing))
    cast = (
        select(func.coalesce(func.json_agg(aggregate_order_by(summary, *cast_order(listing.side))), empty))
        .where(listing.side.own_fk == page.c.id)
        .scalar_subquery()
    )
    fields = []
    for name in listing.columns:
        column = page.c[name]
        fields += [name, func.to_char(column, "YYYY-MM-DD") if name == "release_date" else column]
    item = func.json_build_object(*fields, listing.side.embedded, cast)
    if under_parent:  # and each row's casting with the record of the path
        item = func.json_strip_nulls(func.json_build_object(
            *fields, listing.side.embedded, cast, "character", page.c.character, "billing", page.c.billing))
    items = (
        select(func.coalesce(func.json_agg(aggregate_order_by(item, *order(page.c, sort))), empty))
        .select_from(page)
        .scalar_subquery()
    )
    counted = select(total.label("total")).subquery("counted")
    body = func.json_build_object("success", true(), listing.key, items, "total", counted.c.total)
    more = select(func.count() > bindparam("per_page", type_=Integer)).select_from(fetched).scalar_subquery()
    page_keys = sort_keys(page.c, sort)
    first, last = (
        select(cast_to(func.json_build_array(*page_keys), Text)).order_by(*order(page.c, sort, backwards=end))
        .limit(1).scalar_subquery()
        for end in (False, True)
    )
    # The catalogue version the body was read at, from the same snapshot: the list's ETag.
    return select(cast_to(body, Text), version.column(), more, first, last, counted.c.total).select_from(counted)


@functools.lru_cache(maxsize=128)
def matches_statement(key: str, sort: str, filters: tuple[str, ...]) -> Select:
    """A search's match set in one statement: the catalogue version, the exact total, and the ids of its
    first `cap` rows in the sort's order, as 4-byte big-endian integers end to end (bytea: no array to
    parse). Every match is read once, for both."""
    listing = LISTINGS[key]
    model = listing.model
    if filters == ("character",) and sort.lstrip("-") == "id":
        # The records' ids straight from the matching castings (their foreign key makes each one a record).
        matching = select(listing.side.own_fk.label("id")).where(
            movie_actors.c.character.ilike(bindparam("character"), escape="\\")).distinct()
    else:
        name = sort.lstrip("-")
        matching = select(model.id, *(() if name == "id" else (getattr(model, name),))).where(*listing.where(filters))
    matching = matching.cte("matching").prefix_with("MATERIALIZED")
    first = (select(matching.c.id, func.row_number().over(order_by=order(matching.c, sort)).label("n"))
             .order_by(*order(matching.c, sort)).limit(bindparam("cap", type_=Integer)).subquery("first"))
    # string_agg(int4send(id), '' ORDER BY n): spelt out, as SQLAlchemy orders one-argument aggregates only.
    ids = select(literal_column("string_agg(int4send(first.id), ''::bytea ORDER BY first.n)")).select_from(
        first).scalar_subquery()
    return select(version.column(), select(func.count()).select_from(matching).scalar_subquery(), ids)


def _read_matches(listing: Listing, values: dict, sort: str, cap: int) -> Matches:
    at_version, total, packed = reader().execute(
        matches_statement(listing.key, sort, tuple(sorted(values))), {**values, "cap": cap}).one()
    ids = array("i")
    if packed:
        ids.frombytes(bytes(packed))
        if sys.byteorder == "little":
            ids.byteswap()
    return Matches(at_version, total, ids)


_STALE = object()


def _page_of(listing: Listing, values: dict, sort: str, window: Window, mode: str, found: Matches):
    """The page `window` asks for, read by id from the match set `found`: the row of `read`; None when the
    match set cannot say which rows it holds (past the ids it keeps, or a cursor of a sort other than by
    id); _STALE when the catalogue has moved on since."""
    ids, per_page = found.ids, window.per_page
    if mode == "offset":
        start = window.offset
    elif sort.lstrip("-") != "id":
        return None  # a cursor names its row by the sort's keys, which the memo does not keep
    else:
        (cursor_id,) = window.after or window.before
        descending = sort.startswith("-")
        key = (lambda i: -i) if descending else None
        target = -cursor_id if descending else cursor_id
        if mode == "after":  # from the first row past the cursor's
            start = bisect.bisect_right(ids, target, key=key)
        else:  # the rows before the first at or past the cursor's
            end = bisect.bisect_left(ids, target, key=key)
            if end >= len(ids) and not found.complete:
                return None
            start = max(end - per_page, 0)
            page, more = ids[start:end], start > 0
    if mode != "before":
        end = start + per_page
        if end > len(ids) and not found.complete:
            return None
        page, more = ids[start:end], found.total > end
    bound = {**values, "ids": page.tolist(), "memo_version": found.version, "memo_total": found.total,
             "limit": len(page), "per_page": per_page, "offset": 0}
    row = reader().execute(page_statement(listing.key, sort, tuple(sorted(values)), "ids"), bound).one()
    if row[1] != found.version:
        return _STALE
    return row[0], row[1], more, row[3], row[4]


def _from_matches(listing: Listing, values: dict, sort: str, window: Window, mode: str, total_key: tuple):
    """A search's page read by id from its remembered match set, read first when there is none or it is
    stale (once per search and process at a time); None when the memo cannot serve it."""
    sets = memo().matches
    key = ("matches", listing.key, sort, total_key[2])

    def served_by(found: Matches):
        """The page (or None: read it the long way), or _STALE when `found` is stale and due to be read again."""
        served = _page_of(listing, values, sort, window, mode, found)
        if served is _STALE and time.monotonic() - found.built < MATCHES_REBUILD_SECONDS:
            return None
        return served

    found = sets.get(key)
    if found is not None and (served := served_by(found)) is not _STALE:
        return served
    with sets.building(key):
        again = sets.get(key)
        if again is not None and again is not found and (served := served_by(again)) is not _STALE:
            return served  # read by another thread meanwhile
        fresh = _read_matches(listing, values, sort, sets.per_entry)
        sets.put(key, fresh)
    memo().put(total_key, fresh.version, fresh.total)  # for the pages read the long way
    served = _page_of(listing, values, sort, window, mode, fresh)
    return None if served is _STALE else served


class _Keys:
    """A castings column standing for the records' id in window_clauses (the castings' id order is theirs)."""

    def __init__(self, column):
        self.id = column


def read(listing: Listing, values: dict, sort: str, window: Window):
    """The page built by PostgreSQL in one statement, outside any explicit transaction: one round trip,
    and no decoding or re-encoding here. Returns (body, version, more, first keys, last keys)."""
    mode = "after" if window.after is not None else "before" if window.before is not None else "offset"
    filters = tuple(sorted(values))
    bound = {**values, "limit": window.per_page + 1, "per_page": window.per_page, "offset": window.offset}
    bound.update({f"key{i}": value for i, value in enumerate(window.after or window.before or ())})
    total_key = ("total", listing.key, tuple(sorted((k, str(v)) for k, v in values.items())))
    if SEARCH_FILTERS.intersection(filters):
        served = _from_matches(listing, values, sort, window, mode, total_key)
        if served is not None:
            return served
    remembered = memo().get(total_key) if filters else None
    if remembered is not None:
        bound.update(memo_version=remembered[0], memo_total=remembered[1])
    walk = "q" in filters and remembered is not None and remembered[1] >= WALK_SEARCH_FROM
    anchor = _anchor(listing, sort, window) if mode == "offset" and not filters else None
    if anchor is not None:
        anchor_version, keys, skipped = anchor
        anchored = {**bound, "offset": window.offset - skipped, **{f"key{i}": k for i, k in enumerate(keys)}}
        row = reader().execute(page_statement(listing.key, sort, filters, "anchored"), anchored).one()
        if row[1] == anchor_version:
            return row[:5]
        memo().forget(("anchors", listing.key, sort))  # the catalogue changed since: counted the long way
    statement = page_statement(listing.key, sort, filters, mode, remembered is not None, walk)
    row = reader().execute(statement, bound).one()
    if filters and (remembered is None or remembered[0] != row[1]):
        memo().put(total_key, row[1], row[5])
    return row[:5]


def _anchor(listing: Listing, sort: str, window: Window) -> tuple[int, tuple, int] | None:
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
    keys = sort_keys(listing.model, sort)
    numbered = select(*keys, (func.row_number().over(order_by=order(listing.model, sort)) - 1).label("n")).subquery()
    statement = (
        select(*(numbered.c[k.key] for k in keys), version.column())
        .where(numbered.c.n % ANCHOR_EVERY == 0)
        .order_by(numbered.c.n)
    )
    rows = reader().execute(statement).all()
    if not rows:
        return version.current(), []
    return rows[0][-1], [tuple(row[:-1]) for row in rows]
