"""Writes that tell the truth: one transaction per write, retried when the database asks for it, and
answered with what was committed.

- The response is built inside the transaction, before COMMIT: nothing after the commit can turn a
  stored write into an error.
- A deadlock, a serialization failure or a restart asked for by the lock order (casting/catalogue/records.py)
  leaves nothing written: the write runs again, a bounded number of times (MAX_ATTEMPTS) with a short random
  pause, and answers 409 when the attempts run out.
- So does a connection lost before COMMIT was sent (a killed backend, a restart, a failover), but that is no
  race: the database was reached, so the write runs again on a new connection for as long as that keeps
  happening, up to RECONNECT_SECONDS, not a number of attempts (connections terminated every few tenths of a
  second, each taking whichever attempt was running, used up five attempts and answered 503 while PostgreSQL
  was up). A database that cannot be reached fails the next connect at once, or within the connect timeout,
  and that is the 503.
- A connection lost during COMMIT leaves the outcome unknown to the client of the database: PostgreSQL
  is asked on a new connection (`pg_xact_status`) whether the transaction committed. Committed: the
  response already built is the answer. Aborted: the write runs again.
- A broken connection is invalidated (never handed back to the pool), and cleaning up never raises
  into a response: the request's session is removed by `teardown`, which logs instead of raising.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, g
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError

from casting.errors import ApiError, ServiceUnavailable, database_error, database_failure, discard_session
from casting.web import followers
from models import db

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # of a write that meets races (deadlocks, serialization failures, restarts)
RECONNECT_SECONDS = 10.0  # how long a request whose connection keeps breaking under it is run again
BACKOFF_SECONDS = 0.004  # the first pause is up to twice this, doubling with each attempt...
MAX_PAUSE_SECONDS = 0.1  # ...to this at most
COMMIT_CHECK_SECONDS = 3.0

class Restart(Exception):
    """A write found out, after taking its locks, that it needed another lock first: run it again."""


def failure(exc: BaseException) -> str | None:
    return "retry" if isinstance(exc, Restart) else database_failure(exc)


def teardown(_exc: BaseException | None) -> None:
    """Flask-SQLAlchemy's session teardown, but one that cannot fail the response already sent; and the
    request's read connection (reader) goes back to the pool."""
    close_reader()
    try:
        db.session.remove()
    except Exception as exc:
        log.warning("closing the database session failed, discarding its connection: %s", exc)
        with contextlib.suppress(Exception):
            db.session.invalidate()
        with contextlib.suppress(Exception):
            db.session.registry.clear()


IDLE_PING_SECONDS = 10.0
SUSPECT_SECONDS = 2.0  # after a connection was found broken, the others are pinged before use for this long
_suspect_until = 0.0


def suspect_connections() -> None:
    """A connection was found broken: the pool's others may be too (a database restart, or the
    connections of a role terminated together), so each is pinged before use for a moment, and a retry
    is not handed another broken one."""
    global _suspect_until
    _suspect_until = time.monotonic() + SUSPECT_SECONDS


def _plain_reads() -> bool:
    """Whether this request's reads run outside the ORM session: on PostgreSQL, outside a write."""
    return db.engine.dialect.name == "postgresql" and not (db.session.registry.has() and db.session().in_transaction())


def reader():
    """Where a read runs: inside a write, the write's session (its snapshot and its locks). Otherwise, on
    PostgreSQL, this request's pooled connection switched to autocommit, where each statement is complete
    on its own: no BEGIN and ROLLBACK (two round trips that buy nothing for a read of one statement) and
    none of the ORM session's bookkeeping, on the hot path of every list page, record and 304. Other
    databases read through the session.

    The driver's autocommit flag is set here and cleared when the connection goes back to the pool (the
    pool's reset, where a connection that cannot be reset is discarded rather than leaked: SQLAlchemy's
    isolation-level option restores the level after the reset, where a dead connection's error escapes
    and the pool loses the slot)."""
    if not _plain_reads():
        return db.session
    connection = g.get("_reader")
    if connection is None:
        pooled, engine = _read_connection()
        connection = g._reader = Connection(engine, connection=pooled)
    return connection


def _read_connection():
    """This request's pooled DBAPI connection for reads and its engine, checked out on first use (a read
    follower fit for what this client has seen, or the primary: casting/web/followers.py) and switched to
    autocommit."""
    held = g.get("_read_dbapi")
    if held is None:
        g.read_source, engine = followers.source()
        engine = engine or db.engine
        try:
            pooled = engine.raw_connection()
        except engine.dialect.loaded_dbapi.Error as exc:  # no connection: wrapped as engine.connect() does
            raise _wrapped(exc, engine, None, None, None, None) from exc
        driver = pooled.driver_connection
        if not driver.closed:  # closed: the first statement fails as a disconnect and the read runs again
            driver.autocommit = True
        held = g._read_dbapi = (pooled, engine)
    return held


_PARAMETER = re.compile(r"%\((\w+)\)s")
# PostgreSQL errors after which a connection's prepared statement is made again: it does not exist (someone ran
# DEALLOCATE or DISCARD), or its result's type changed under it (a migration altered the table).
_PREPARED_GONE = ("26000", "0A000")


@functools.cache
def _prepared_forms(name: str, sql: str) -> tuple[str, str]:
    """`sql` (psycopg2's %(name)s parameters) as PostgreSQL's PREPARE of `name` and its EXECUTE."""
    order = list(dict.fromkeys(_PARAMETER.findall(sql)))
    definition = _PARAMETER.sub(lambda m: f"${order.index(m.group(1)) + 1}", sql)
    arguments = f"({', '.join(f'%({n})s' for n in order)})" if order else ""
    return f"PREPARE {name} AS {definition}", f"EXECUTE {name}{arguments}"


def fetch_row(sql: str, params: dict | None, statement, prepared: str | None = None):
    """The one row (or None) of a small read on the hot path (a record's ETag, the catalogue version: a 304's
    whole read). On PostgreSQL outside a write, `sql` (as psycopg2 takes it) runs on the request's pooled
    connection's own cursor, in autocommit: none of SQLAlchemy's execution machinery, which cost about as
    much processor time as the rest of a 304 beyond /health (bench/README.md, "Revalidation's cost"). Errors come out as
    SQLAlchemy's would (DBAPIError, `connection_invalidated` for a broken connection, which is then
    discarded), so safe_read reads again on a fresh connection.

    While anything listens to the engine's statements (the bench's and the tests' statement counters,
    tracing), and on other databases or inside a write, `sql` goes through SQLAlchemy as before (`statement`
    through the session), so that every statement run is seen.

    `prepared`: a name under which each pooled connection prepares `sql` once (PREPARE, a round trip the first
    time) and then runs it by name (EXECUTE): PostgreSQL parses and plans it once per connection instead of
    on every request. Never through a pooler in transaction mode (DATABASE_POOLED), where the next statement
    may reach another server connection."""
    if not _plain_reads():
        return db.session.execute(statement, params or {}).one_or_none()
    pooled, engine = _read_connection()
    if g.get("_reader") is not None or _listened(db.engine) or _listened(engine):
        return reader().exec_driver_sql(sql, params or {}).one_or_none()
    cursor = None
    try:
        cursor = pooled.cursor()
        if prepared is None or current_app.config.get("DATABASE_POOLED"):
            cursor.execute(sql, params or None)
            return cursor.fetchone()
        made = pooled.info.setdefault("prepared", set())  # forgotten with the connection (SQLAlchemy's pool)
        prepare, execute = _prepared_forms(prepared, sql)
        if prepared not in made:
            cursor.execute(prepare)
            made.add(prepared)
        try:
            cursor.execute(execute, params or None)
        except engine.dialect.loaded_dbapi.Error as exc:
            if getattr(exc, "pgcode", None) not in _PREPARED_GONE:
                raise
            made.discard(prepared)  # made again next time (autocommit: nothing else was undone)
            if exc.pgcode == "0A000":
                cursor.execute(f"DEALLOCATE {prepared}")
            cursor.execute(sql, params or None)
        return cursor.fetchone()
    except engine.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(exc, engine, pooled, cursor, sql, params) from exc
    finally:
        if cursor is not None:
            with contextlib.suppress(Exception):
                cursor.close()


def _listened(engine) -> bool:
    dispatch = engine.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def _wrapped(exc: Exception, engine, pooled, cursor, sql: str | None, params) -> DBAPIError:
    """A driver error as SQLAlchemy raises it; a broken connection is marked to be discarded (close_reader)."""
    dialect = engine.dialect
    broken = dialect.is_disconnect(exc, pooled.driver_connection if pooled is not None else None, cursor)
    if broken and pooled is not None:
        g._read_broken = True
    return DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error, connection_invalidated=broken,
                               dialect=dialect)


def close_reader(*, discard: bool = False) -> None:
    """Return the request's read connection to the pool (`discard`: never, as after a disconnect). Never raises."""
    connection = g.pop("_reader", None)
    held = g.pop("_read_dbapi", None)
    discard = g.pop("_read_broken", False) or discard
    if connection is None and held is None:
        return
    try:
        if connection is not None:  # it holds the pooled connection
            if discard:
                connection.invalidate()
            connection.close()
        elif discard:
            held[0].invalidate()  # and gone from the pool
        else:
            held[0].close()
    except Exception as exc:
        log.info("closing a read connection failed, discarding it: %s", exc)
        with contextlib.suppress(Exception):
            (connection or held[0]).invalidate()


def _leave_autocommit(dbapi_connection, _record, _state) -> None:
    """Pool reset: a connection goes back to the pool out of autocommit (reader), or is discarded."""
    if dbapi_connection.autocommit:
        dbapi_connection.autocommit = False


def init_app(app: Flask) -> None:
    """Replace Flask-SQLAlchemy's teardown (a rollback on a dead connection raised after the response was
    built, which gunicorn turned into an HTML 500 for a write that had committed), and ping connections
    that sat idle in the pool before they serve a request. Call after db.init_app."""
    funcs = app.teardown_appcontext_funcs
    funcs[:] = [f for f in funcs if getattr(f, "__func__", None) is not type(db)._teardown_session]
    app.teardown_appcontext(teardown)
    with app.app_context():
        pool = followers.followers()
        engines = [db.engine, *(follower.engine for follower in (pool.followers if pool else ()))]
    for engine in engines:
        if not event.contains(engine, "checkout", _ping_if_idle):
            event.listen(engine, "checkout", _ping_if_idle)
            event.listen(engine, "checkin", _stamp_checkin)
            if engine.dialect.name == "postgresql":
                event.listen(engine, "reset", _leave_autocommit)


def _stamp_checkin(_dbapi_connection, record) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """A connection that sat in the pool for a while (where a firewall, a proxy or a restart may have
    dropped it), or any connection just after another was found broken (suspect_connections), answers a
    ping before it is used; the pool replaces one that does not. Otherwise a connection used a moment ago
    is trusted: pinging every checkout would cost a round trip on every request, and a connection that
    broke meanwhile is caught by safe_read and run() below, which try again."""
    last = record.info.get("checked_in_at")
    if last is None:
        return  # new
    now = time.monotonic()
    if now - last < IDLE_PING_SECONDS and now >= _suspect_until:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()  # end the transaction the driver began: the connection is handed out idle
    except Exception as exc:
        raise DisconnectionError(f"a connection did not answer a ping: {exc}") from exc


@dataclass
class Attempt:
    """What one run of a write has done so far."""

    changed: bool = False  # movies, actors or castings were written
    xid: str | None = None  # the PostgreSQL transaction id, known once the write is finished
    version: int | None = None  # the catalogue version it committed (when it changed the catalogue)


def changed() -> None:
    """Record that the current write changed the catalogue (its lists' version is bumped at the end)."""
    g.write_attempt.changed = True


def _committed(xid: str) -> bool | None:
    """Whether transaction `xid` committed, asked on a new connection; None when PostgreSQL cannot tell us."""
    deadline = time.monotonic() + COMMIT_CHECK_SECONDS
    while time.monotonic() < deadline:
        try:
            with db.engine.connect() as connection:
                status = connection.scalar(text("SELECT pg_xact_status(CAST(:xid AS xid8))"), {"xid": xid})
        except DBAPIError as exc:
            log.info("asking whether transaction %s committed failed: %s", xid, exc.orig)
            status = None
        if status == "committed":
            return True
        if status == "aborted":
            return False
        time.sleep(0.05)  # still in progress (its backend is finishing), or the database is coming back
    return None


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0, min(BACKOFF_SECONDS * 2 ** min(attempt, 16), MAX_PAUSE_SECONDS)))


def _try_again(kind: str, races: int, started: float) -> bool:
    """Whether a write that failed with `kind` ("retry" or "disconnect") runs again: a race while the attempts
    for races last, a broken connection while RECONNECT_SECONDS since the request began last."""
    if kind == "retry":
        return races < MAX_ATTEMPTS
    return time.monotonic() - started < RECONNECT_SECONDS


def run(work: Callable[[], Response], *, begin: Callable[[], None] | None = None,
        finish: Callable[[bool], tuple[bool, str | None, int | None]] | None = None,
        before: Callable[[], Response | None] | None = None,
        after: Callable[[Response], None] | None = None,
        on_error: Callable[[ApiError], None] | None = None) -> Response:
    """Run `work` (which builds the response) as one transaction, retried as described above.

    `begin` is each attempt's first statement and `finish` its last: given whether the write changed
    anything, `finish` answers whether it did, the transaction's id (PostgreSQL), with which a COMMIT lost in
    transit is settled, and the catalogue version it makes (g.write_attempt.version once committed).
    `before` runs after `begin` and may answer instead of `work` (an idempotent replay); `after` runs in the
    transaction once `work` has answered; an ApiError raised by `work` rolls it back and is handed to
    `on_error` (which may keep it in a transaction of its own) as it propagates.
    """
    last_failure: str | None = None
    started, races, number = time.monotonic(), 0, 0
    while True:
        number += 1
        attempt = g.write_attempt = Attempt()
        try:
            if db.engine.dialect.name == "sqlite":
                # Take SQLite's write lock up front, so that what a write reads stays true until it commits.
                db.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            if begin:
                begin()
            answer = before() if before else None
            if answer is not None:
                discard_session()
                return answer
            try:
                response = work()
            except ApiError as error:
                discard_session()
                if on_error:
                    on_error(error)
                raise
            if after:
                after(response)
            if finish:
                attempt.changed, attempt.xid, attempt.version = finish(attempt.changed)
        except ApiError:
            discard_session()
            raise
        except Exception as exc:
            kind = failure(exc)
            discard_session()
            if kind == "disconnect":
                suspect_connections()
            if kind not in ("retry", "disconnect"):
                raise
            last_failure, races = kind, races + (kind == "retry")
            log.info("write attempt %d failed (%s): %s", number, kind, exc)
            if not _try_again(kind, races, started):
                break
            _pause(number)
            continue
        try:
            db.session.commit()
            return response
        except Exception as exc:
            kind = failure(exc)
            discard_session()
            if kind == "disconnect":
                suspect_connections()
            if kind == "disconnect" and attempt.xid is not None:
                outcome = _committed(attempt.xid)
                if outcome is True:
                    log.info("the connection broke during COMMIT, but transaction %s committed", attempt.xid)
                    return response
                if outcome is None:
                    raise ServiceUnavailable("the database did not confirm the write; try again shortly") from None
            elif kind == "disconnect" and not attempt.changed:
                return response  # nothing was written: the answer is true whether COMMIT arrived or not
            elif kind != "retry":
                raise
            last_failure, races = kind, races + (kind == "retry")
            log.info("write attempt %d failed at COMMIT (%s): %s", number, kind, exc)
            if not _try_again(kind, races, started):
                break
            _pause(number)
    if last_failure == "disconnect":
        raise ServiceUnavailable(f"the database kept closing the connection for {RECONNECT_SECONDS:g} s; nothing was "
                                 "written; try again shortly")
    raise database_error(last_failure)


def safe_read(view):
    """A read route: a connection that broke under it (a database restart, a killed backend) is replaced
    and the read runs again, while that keeps happening for up to RECONNECT_SECONDS, so that the answer is a
    503 only when the database cannot be reached."""

    @functools.wraps(view)
    def read(*args, **kwargs) -> Response:
        started, attempts = time.monotonic(), 0
        while True:
            try:
                return current_app.make_response(view(*args, **kwargs))
            except DBAPIError as exc:
                kind = database_failure(exc)
                if g.get("read_source", "primary") != "primary" and kind is not None:
                    # A follower that broke, or cancelled the read for its replay: the primary reads it again.
                    log.info("a read on %s failed (%s), reading again on the primary: %s", g.read_source, kind,
                             exc.orig)
                    followers.followers().failed(g.read_source, exc)
                    g.primary_only = True
                elif kind != "disconnect" or time.monotonic() - started >= RECONNECT_SECONDS:
                    raise
                else:
                    log.info("a read's connection broke, reading again: %s", exc.orig)
                    suspect_connections()
                    attempts += 1
                    _pause(attempts)
                close_reader(discard=True)
                discard_session()

    return read
