"""Writes that tell the truth: one transaction per write, retried when the database asks for it, and
answered with what was committed.

- The response is built inside the transaction, before COMMIT: nothing after the commit can turn a
  stored write into an error.
- A deadlock, a serialization failure, a restart asked for by the lock order (records.py), or a
  connection lost before COMMIT was sent leaves nothing written: the write runs again, a bounded number
  of times with a short random pause, and answers 409 when the attempts run out.
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
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, g
from sqlalchemy import event, text, update
from sqlalchemy.exc import DBAPIError, DisconnectionError

import idempotency
from errors import ApiError, ServiceUnavailable, database_error, database_failure, discard_session
from models import catalogue_version, db

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 0.004  # the first pause is up to twice this, doubling with each attempt
COMMIT_CHECK_SECONDS = 3.0

BUMP_VERSION = update(catalogue_version).where(catalogue_version.c.id == 1).values(
    version=catalogue_version.c.version + 1)
# PostgreSQL: a write's first statement tells the catalogue triggers (migration 0007) that this write bumps
# the version itself, last; its last statement bumps it when the write, or a trigger, says the catalogue
# changed, and learns the transaction id in the same round trip.
API_WRITE = text("SELECT set_config('casting.api_write', 'on', true)")
BUMP_IF_CHANGED = text(
    "UPDATE catalogue_version SET version = version + 1 "
    "WHERE id = 1 AND (:changed OR current_setting('casting.catalogue_changed', true) = 'on') "
    "RETURNING pg_current_xact_id()::text")


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
    if db.engine.dialect.name != "postgresql" or (db.session.registry.has() and db.session().in_transaction()):
        return db.session
    connection = g.get("_reader")
    if connection is None:
        connection = g._reader = db.engine.connect()
        driver = connection.connection.driver_connection
        if not driver.closed:  # closed: the first statement invalidates it and runs on a new connection
            driver.autocommit = True
    return connection


def close_reader(*, discard: bool = False) -> None:
    """Return the request's read connection to the pool (`discard`: never, as after a disconnect). Never raises."""
    connection = g.pop("_reader", None)
    if connection is None:
        return
    try:
        if discard:
            connection.invalidate()
        connection.close()
    except Exception as exc:
        log.info("closing a read connection failed, discarding it: %s", exc)
        with contextlib.suppress(Exception):
            connection.invalidate()


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
        engine = db.engine
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


def changed() -> None:
    """Record that the current write changed the catalogue (its lists' version is bumped at the end)."""
    g.write_attempt.changed = True


def _finish(attempt: Attempt) -> None:
    """The write's last statement: bump the catalogue version (when something changed) and learn the
    transaction id, in one round trip. Last, so that its row lock is the last lock every write takes and
    writes queue on it only for their COMMIT."""
    if db.engine.dialect.name == "postgresql":
        # Also when the write did not say it changed anything but a trigger saw a change: the version
        # follows the catalogue whatever the bookkeeping here says.
        attempt.xid = db.session.execute(BUMP_IF_CHANGED, {"changed": attempt.changed}).scalar_one_or_none()
        attempt.changed = attempt.xid is not None
    elif attempt.changed:
        db.session.execute(BUMP_VERSION)


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
    time.sleep(random.uniform(0, BACKOFF_SECONDS * 2**attempt))


def run(work: Callable[[], Response], *, before: Callable[[], Response | None] | None = None,
        after: Callable[[Response], None] | None = None,
        on_error: Callable[[ApiError], None] | None = None) -> Response:
    """Run `work` (which builds the response) as one transaction, retried as described above.

    `before` runs first in each attempt and may answer instead of `work` (an idempotent replay);
    `after` runs in the transaction once `work` has answered; an ApiError raised by `work` rolls it
    back and is handed to `on_error` (which may keep it in a transaction of its own) as it propagates.
    """
    last_failure: str | None = None
    for number in range(1, MAX_ATTEMPTS + 1):
        attempt = g.write_attempt = Attempt()
        try:
            if db.engine.dialect.name == "sqlite":
                # Take SQLite's write lock up front, so that what a write reads stays true until it commits.
                db.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            elif db.engine.dialect.name == "postgresql":
                db.session.execute(API_WRITE)  # the catalogue version is bumped by _finish, last
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
            _finish(attempt)
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
            last_failure = kind
            log.info("write attempt %d of %d failed (%s): %s", number, MAX_ATTEMPTS, kind, exc)
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
            last_failure = kind
            log.info("write attempt %d of %d failed at COMMIT (%s): %s", number, MAX_ATTEMPTS, kind, exc)
            _pause(number)
    raise database_error(last_failure)


def safe_write(view):
    """A write route: the view runs as one transaction, retried as described above, and an
    Idempotency-Key makes retrying the whole request safe (idempotency.py)."""

    @functools.wraps(view)
    def write(*args, **kwargs) -> Response:
        def work() -> Response:
            return current_app.make_response(view(*args, **kwargs))

        key = idempotency.from_request()
        if key is None:
            return run(work)
        idempotency.purge_now_and_then()
        return run(work, before=lambda: idempotency.claim(key), after=lambda response: idempotency.keep(key, response),
                   on_error=lambda error: idempotency.keep_error(key, error))

    write.safe_write = True  # openapi.py documents its headers and answers
    return write


def safe_read(view):
    """A read route: a connection that broke under it (a database restart, a killed backend) is replaced
    and the read runs again, once, so that the answer is a 503 only when the database cannot be reached."""

    @functools.wraps(view)
    def read(*args, **kwargs) -> Response:
        try:
            return current_app.make_response(view(*args, **kwargs))
        except DBAPIError as exc:
            if database_failure(exc) != "disconnect":
                raise
            log.info("a read's connection broke, reading again: %s", exc.orig)
            suspect_connections()
            close_reader(discard=True)
            discard_session()
        return current_app.make_response(view(*args, **kwargs))

    return read
