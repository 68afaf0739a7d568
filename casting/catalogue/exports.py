"""Exports (docs/import-export.md): a whole list, with its filters and sort, as a file, in the columns imports
read (casting/schemas/rows.py).

An export is one snapshot of the catalogue, not pages stitched together: on PostgreSQL it reads in a
REPEATABLE READ, READ ONLY transaction on a connection of its own, which sees the catalogue as it was at its
first statement (the catalogue version, which makes its ETag) until its last; on SQLite in a transaction that
holds the database's read lock (writers wait for it). Rows come through a server-side cursor a batch at a
time and are written as they come, so memory stays the same whatever the size.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from flask import g, has_request_context
from sqlalchemy import Connection, Select, and_, func, select
from sqlalchemy.engine import Result

from casting.catalogue import version
from casting.catalogue.filters import ACTORS, MOVIES, like, order
from casting.catalogue.tabular import Writer
from casting.web import followers
from models import Actor, Movie, db, movie_actors

BATCH = 2000  # rows fetched, encoded and sent at a time


def statement(kind: str, params) -> tuple[Select, dict]:
    """The export's statement, in the layout's column order, and its bound filter values."""
    if kind == "castings":
        return _castings(params)
    listing, parent = (MOVIES, params.actor_id) if kind == "movies" else (ACTORS, params.movie_id)
    values = listing.values(params, parent)
    model = listing.model
    return (select(*(getattr(model, column) for column in listing.columns))
            .where(*listing.where(values)).order_by(*order(model, params.sort))), values


def _castings(params) -> tuple[Select, dict]:
    cast = movie_actors.c
    clauses, values = [], {}
    if params.movie_id is not None:
        clauses.append(cast.movie_id == params.movie_id)
    if params.actor_id is not None:
        clauses.append(cast.actor_id == params.actor_id)
    if params.character:
        clauses.append(cast.character.ilike(like(params.character), escape="\\"))
    return (select(cast.movie_id, Movie.title, Movie.release_date, cast.actor_id, Actor.name, cast.character,
                   cast.billing)
            .join_from(movie_actors, Movie, Movie.id == cast.movie_id).join(Actor, Actor.id == cast.actor_id)
            .where(and_(True, *clauses))
            .order_by(cast.movie_id, cast.billing.asc().nulls_last(), cast.actor_id)), values


class Snapshot:
    """An export's own connection and transaction, the catalogue version it sees, and its rows as they come."""

    def __init__(self, kind: str, params, *, count: bool = False, unbounded: bool = False):
        """`count`: count the rows first, in the snapshot; `unbounded`: no statement timeout (the command line).
        A request's export reads where its other reads would: a follower fit for what the client has seen, or
        the primary (casting/web/followers.py); the command line's, on the primary."""
        engine = db.engine
        if has_request_context():
            g.read_source, follower = followers.source()
            engine = follower or engine
        connection = engine.connect()
        try:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            connection.begin()
            if unbounded and connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            self.version = version.current(connection)  # the snapshot's first statement: what it sees is this
            query, values = statement(kind, params)
            # The rows to come, in the same snapshot (the command line's progress bar).
            self.total = connection.scalar(select(func.count()).select_from(query.order_by(None).subquery()),
                                           values) if count else None
            self.result: Result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(
                query, values)
            self.first = self.result.fetchmany(BATCH)  # the database's failures come before the answer's first byte
        except BaseException:
            connection.close()
            raise
        self.connection: Connection | None = connection

    def chunks(self, writer: Writer, progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
        """The file: its header, its rows a batch at a time, and its end line, which only a complete file has.
        The connection is given back when it ends, fails, or the client goes away."""
        try:
            yield writer.header()
            count = 0
            for batch in itertools.chain([self.first], self.result.partitions()):
                self.first = []
                if batch:
                    count += len(batch)
                    yield writer.rows(batch)
                    if progress is not None:
                        progress(len(batch))
            yield writer.end(count)
        finally:
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            # The cursor first: one left unfinished (a failure or a client gone mid-stream) would keep its
            # statement, and on SQLite the database's read lock, until the garbage collector got to it.
            self.result.close()
            connection.close()  # rolls the read-only transaction back and returns the connection to the pool
