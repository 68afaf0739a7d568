"""Exports (docs/import-export.md): a whole list, with its filters and sort, as a file, in the columns imports
read (casting/schemas/rows.py).

An export is one snapshot of the catalogue, not pages stitched together: on PostgreSQL it reads in a
REPEATABLE READ, READ ONLY transaction on a connection of its own, which sees the catalogue as it was at its
first statement (the catalogue version, which makes its ETag) until its last; on SQLite in a transaction that
holds the database's read lock (writers wait for it). On PostgreSQL the file's bytes are PostgreSQL's own
(Copied: one COPY in that snapshot, read through a pipe a chunk at a time); elsewhere (Snapshot) rows come
through a cursor a batch at a time and tabular.Writer encodes them. Either way they are sent as they come,
so memory stays the same whatever the size.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
from collections.abc import Callable, Iterator

from flask import g, has_request_context
from sqlalchemy import Connection, Select, String, Text, and_, case, func, literal, literal_column, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql.psycopg2 import dialect as postgresql_dialect
from sqlalchemy.engine import Result
from sqlalchemy.sql import ColumnElement

from casting.catalogue import version
from casting.catalogue.filters import ACTORS, MOVIES, like, order
from casting.catalogue.tabular import CSV, NDJSON, TRIGGERS, Writer
from casting.config import setting
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


def _begin(unbounded: bool = False) -> Connection:
    """The export's own connection, in its transaction (REPEATABLE READ, READ ONLY on PostgreSQL)."""
    engine = db.engine
    if has_request_context():
        g.read_source, follower = followers.source()
        engine = follower or engine
    connection = engine.connect()
    try:
        connection.begin()
        if connection.dialect.name == "postgresql":
            # The transaction's own characteristics, as its first statement: not the connection's (SQLAlchemy's
            # isolation_level and postgresql_readonly options), which the pool "restores" by setting them
            # explicitly, so that the connection's next transaction began READ WRITE: refused by a hot standby,
            # which took the follower out of rotation after each export it served.
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            if unbounded:
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
    except BaseException:
        connection.close()
        raise
    return connection


def _opened(connection: Connection, kind: str, params, count: bool) -> tuple[int, Select, dict, int | None]:
    """In the export's snapshot: the catalogue version it sees (its first statement: what it sees is this), the
    export's statement and values, and with `count` the rows to come (the command line's progress bar)."""
    at_version = version.current(connection)
    query, values = statement(kind, params)
    total = connection.scalar(select(func.count()).select_from(query.order_by(None).subquery()),
                              values) if count else None
    return at_version, query, values, total


def snapshot(kind: str, params, columns: tuple[str, ...], media: str, *, count: bool = False,
             unbounded: bool = False) -> Snapshot | Copied:
    """The export's file as its database makes it best: PostgreSQL writes it itself (Copied, at several times the
    speed of encoding each row here), other databases' rows are encoded here (Snapshot)."""
    if db.engine.dialect.name == "postgresql":
        return Copied(kind, params, columns, media, count=count, unbounded=unbounded)
    return Snapshot(kind, params, count=count, unbounded=unbounded)


class Snapshot:
    """An export's own connection and transaction, the catalogue version it sees, and its rows as they come."""

    def __init__(self, kind: str, params, *, count: bool = False, unbounded: bool = False):
        """`count`: count the rows first, in the snapshot; `unbounded`: no statement timeout (the command line).
        A request's export reads where its other reads would: a follower fit for what the client has seen, or
        the primary (casting/web/followers.py); the command line's, on the primary."""
        connection = _begin(unbounded)
        try:
            self.version, query, values, self.total = _opened(connection, kind, params, count)
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


# --- PostgreSQL: the file's bytes made by COPY -----------------------------------------------------------------

CHUNK = 64 * 1024  # the COPY's rows are handed to the answer in chunks of about this many bytes
# A text cell that a spreadsheet would run as a formula, or quotes before one: tabular.neutralised, in SQL.
# The first character's code decides for nearly every cell (a regular expression on every cell would cost
# PostgreSQL about as much again as the rest of the COPY); only a cell that starts with a quote is matched.
_TRIGGER_CODES = literal_column("(" + ", ".join(str(ord(trigger)) for trigger in TRIGGERS) + ")")
_QUOTED_FORMULA = "^'+[-=+@\t\r]"
# NDJSON through COPY's CSV format: one column, the JSON line, which never holds a raw control character
# (JSON escapes them), so neither of these two bytes, and PostgreSQL never quotes it.
_NDJSON_OPTIONS = "FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01'"


def _neutralised(column):
    first, quoted = func.ascii(column), literal("'", String).concat(column)
    return case((first.op("IN")(_TRIGGER_CODES), quoted), (first != ord("'"), column),
                (column.op("~")(literal(_QUOTED_FORMULA, String)), quoted), else_=column)


def _json_line(columns: tuple[str, ...], cells) -> ColumnElement:
    """The row as the JSON object tabular.Writer writes: the layout's keys in order, no spaces, null for NULL,
    text escaped as json.dumps(ensure_ascii=False) escapes it (PostgreSQL's to_json escapes the same
    characters the same way), dates as ISO strings."""
    line = None
    for index, (name, cell) in enumerate(zip(columns, cells, strict=True)):
        key = ("{" if index == 0 else ",") + json.dumps(name) + ":"
        value = func.coalesce(sql_cast(func.to_json(cell), Text), "null")
        part = literal(key, String).concat(value)
        line = part if line is None else line.concat(part)
    return line.concat(literal("}", String))


def copy_statement(query: Select, values: dict, columns: tuple[str, ...], media: str, cursor) -> bytes:
    """The COPY that writes the rows of the export's statement `query` (not its header nor its end line) as
    `media`, its filter `values` bound by the driver (COPY takes no parameters): CSV as tabular.Writer writes it
    but for its line ends (LF: Copied makes them CRLF), NDJSON exactly."""
    cells = list(query.selected_columns)
    if media == NDJSON:
        query, options = query.with_only_columns(_json_line(columns, cells).label("line")), _NDJSON_OPTIONS
    else:
        query = query.with_only_columns(*(_neutralised(cell).label(name) if isinstance(cell.type, String)
                                          else cell.label(name) for name, cell in zip(columns, cells, strict=True)))
        options = "FORMAT csv"
    compiled = query.compile(dialect=postgresql_dialect())
    select_sql = cursor.mogrify(compiled.string, compiled.construct_params(values))
    return b"COPY (" + select_sql + b") TO STDOUT WITH (" + options.encode() + b")"


def crlf(chunk: bytes, quoted: bool) -> tuple[bytes, bool]:
    """A chunk of COPY's CSV with its line ends made RFC 4180's CRLF, and whether it ends inside a quoted cell.
    A line feed inside a quoted cell is the cell's own and stays (the text rules refuse line breaks, but a
    row written outside the API may hold one: csv.writer keeps it too)."""
    if b'"' not in chunk:
        return (chunk if quoted else chunk.replace(b"\n", b"\r\n")), quoted
    parts = chunk.split(b'"')
    for index in range(1 if quoted else 0, len(parts), 2):  # the parts outside quotes
        parts[index] = parts[index].replace(b"\n", b"\r\n")
    return b'"'.join(parts), quoted != (len(parts) % 2 == 0)


class Copied:
    """An export on PostgreSQL made by PostgreSQL: `COPY (SELECT ...) TO STDOUT`, in the export's snapshot
    (the same connection, transaction, version, statement and order as Snapshot's), with the formula quote
    (CSV) or the JSON line (NDJSON) written in SQL. A thread runs the COPY into a pipe; the answer reads the
    pipe a chunk at a time. The pipe is the back-pressure: while the client does not read, the COPY waits,
    so memory stays flat (a pipe and a buffer of CHUNK bytes).

    The answer that stops reading before the end (its client left) cancels the COPY and reads what is left in
    the pipe until the thread ends, so the connection goes back to the pool whole; a COPY that fails (the
    database went away, its time ran out) is an exception in the answer: the file never gets its end line."""

    def __init__(self, kind: str, params, columns: tuple[str, ...], media: str, *, count: bool = False,
                 unbounded: bool = False):
        """`count` and `unbounded` as Snapshot's (the command line)."""
        connection = _begin(unbounded)
        self.media = media
        self._read = self._write = -1
        self.thread: threading.Thread | None = None
        try:
            self.version, query, values, self.total = _opened(connection, kind, params, count)
            # One statement for the whole file, sent as fast as the client reads: the request's own bound
            # (GUNICORN_TIMEOUT), not each statement's; dates as ISO 8601 whatever the role's DateStyle.
            timeout = 0 if unbounded else int(setting("GUNICORN_TIMEOUT")) * 1000
            connection.exec_driver_sql(
                "SELECT set_config('statement_timeout', %(ms)s, true), set_config('DateStyle', 'ISO', true)",
                {"ms": str(timeout)})
            self.raw = connection.connection.dbapi_connection
            self.cursor = self.raw.cursor()
            sql = copy_statement(query, values, columns, media, self.cursor)
            self._read, self._write = os.pipe()
            self.rows: int | None = None
            self.error: BaseException | None = None
            self.thread = threading.Thread(target=self._copy, args=(sql,), name="export-copy", daemon=True)
            try:
                self.thread.start()
            except BaseException:
                os.close(self._write)
                self.thread = None
                raise
            self.first = self._next()  # the database's failures come before the answer's first byte
            if not self.first:
                self._finish()
        except BaseException:
            self.connection = connection
            self.close()
            raise
        self.connection: Connection | None = connection

    def _copy(self, sql: bytes) -> None:
        """The thread: the COPY into the pipe, then the pipe closed (the answer reads its end)."""
        try:
            with os.fdopen(self._write, "wb", buffering=CHUNK) as pipe:
                try:
                    self.cursor.copy_expert(sql, pipe)
                    self.rows = self.cursor.rowcount
                except BaseException as exc:
                    self.error = exc
        except OSError as exc:  # the pipe's last bytes could not be written: never a complete file
            self.error = self.error or exc

    def _next(self) -> bytes:
        return os.read(self._read, CHUNK)

    def _finish(self) -> None:
        """After the pipe's end: the COPY's outcome (its exception when it failed)."""
        self.thread.join()
        if self.error is not None:
            raise self.error

    def chunks(self, writer: Writer, progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
        """The file: its header, COPY's rows as they come, and its end line, which only a complete file has.
        `progress` is told the lines of each chunk (a CSV cell's own line breaks count too: a progress bar's)."""
        try:
            yield writer.header()
            quoted, chunk = False, self.first
            self.first = b""
            while chunk:
                if self.media == CSV:
                    chunk, quoted = crlf(chunk, quoted)
                yield chunk
                if progress is not None:
                    progress(chunk.count(b"\n"))
                chunk = self._next()
            self._finish()
            yield writer.end(self.rows)
        finally:
            self.close()

    def close(self) -> None:
        connection = getattr(self, "connection", None)
        if connection is None:
            return
        self.connection = None
        try:
            if self.thread is not None and self.thread.is_alive():
                # The answer stopped before the COPY's end: the server is asked to stop it, and whatever is
                # still on its way is read and dropped, so that the COPY ends and the connection with it.
                with contextlib.suppress(Exception):
                    self.raw.cancel()
                while os.read(self._read, CHUNK):
                    pass
                self.thread.join()
        finally:
            if self._read >= 0:
                os.close(self._read)
                self._read = -1
            connection.close()  # rolls the read-only transaction back and returns the connection to the pool
