"""The retrying transaction (casting/web/transactions.py): deadlocks and serialization failures retried then a
409, a broken connection replaced for a while then a 503, other errors not retried, a session teardown that never
fails a response, and the pool's pings after a broken connection; and connections cut for real by a proxy on
PostgreSQL's wire protocol (CuttingProxy) at the write's INSERT or at its COMMIT: answered by what the database did,
a 503 when that cannot be confirmed, never a write run twice. The races under gunicorn are in
tests/deployment/test_concurrency.py."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import socket
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, delete, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from casting.api.writes import safe_write
from casting.web import transactions
from models import Actor, Movie, db
from tests.utils.asserters import assert_error
from tests.utils.records import row_counts

# --- the retrying transaction --------------------------------------------------------------------------------


@pytest.fixture
def racy_app(make_app, _schema):
    """An app with a write route that fails with a given SQLSTATE, raised by PostgreSQL itself, on its
    first `fail` attempts."""
    racy = make_app()
    calls = {"count": 0, "fail": 0, "code": "40P01"}

    @racy.post("/racy")
    @safe_write
    def racy_write():
        calls["count"] += 1
        if calls["count"] <= calls["fail"]:
            raise_it = f"DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '{calls['code']}'; END $$"
            db.session.execute(text(raise_it))
        transactions.changed()
        return {"success": True, "attempt": calls["count"]}

    with racy.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the database raises the SQLSTATE itself: PostgreSQL only")
    return racy, calls


@pytest.mark.parametrize("code", ["40P01", "40001", "55P03"])
def test_a_deadlock_or_serialization_failure_is_retried_inside_the_server(racy_app, code):
    racy, calls = racy_app
    calls.update(fail=2, code=code)
    response = racy.test_client().post("/racy")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["attempt"] == 3 == calls["count"]


def test_a_race_that_keeps_failing_is_a_409_after_a_bounded_number_of_attempts(racy_app, app):
    racy, calls = racy_app
    calls.update(fail=100, code="40P01")
    with app.app_context():
        before = db.session.scalar(text("SELECT version FROM catalogue_version"))
    response = racy.test_client().post("/racy")
    assert_error(response, 409)
    assert calls["count"] == transactions.MAX_ATTEMPTS
    with app.app_context():
        assert db.session.scalar(text("SELECT version FROM catalogue_version")) == before  # nothing written


def test_a_connection_that_keeps_breaking_is_replaced_for_a_while_not_for_five_attempts(racy_app, app, monkeypatch):
    """A broken connection (SQLSTATE 57P01, which a terminated backend reports) is no race: the database was
    reached, so the write runs again past the attempts races get, as long as that keeps happening for under
    RECONNECT_SECONDS, and only then answers a 503 that says so, with nothing written."""
    racy, calls = racy_app
    calls.update(fail=transactions.MAX_ATTEMPTS + 3, code="57P01")
    response = racy.test_client().post("/racy")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["attempt"] == transactions.MAX_ATTEMPTS + 4 == calls["count"]

    monkeypatch.setattr(transactions, "RECONNECT_SECONDS", 0.5)
    calls.update(count=0, fail=10**6)
    with app.app_context():
        before = db.session.scalar(text("SELECT version FROM catalogue_version"))
    response = racy.test_client().post("/racy")
    body = assert_error(response, 503)
    assert body["message"] == ("the database kept closing the connection for 0.5 s; nothing was written; "
                               "try again shortly")
    assert response.headers["Retry-After"].isdigit()
    assert calls["count"] > transactions.MAX_ATTEMPTS
    with app.app_context():
        assert db.session.scalar(text("SELECT version FROM catalogue_version")) == before  # nothing written


def test_other_database_errors_are_not_retried(racy_app):
    racy, calls = racy_app
    calls.update(fail=100, code="22012")  # division_by_zero: a bug, not a race
    response = racy.test_client().post("/racy")
    assert_error(response, 500)
    assert calls["count"] == 1


def test_a_row_changed_under_the_orm_is_a_409_and_nothing_is_written(make_app, _schema, app, caplog):
    """The ORM updates an actor whose row went from under it (deleted by a statement it did not see, as a
    concurrent request would): SQLAlchemy's own StaleDataError (0 rows matched) is a 409 with the API's
    wording, and everything the request wrote is rolled back."""
    racy = make_app()
    with app.app_context():
        actor = Actor(name="Held", age=30, gender="f")
        db.session.add(actor)
        db.session.commit()
        actor_id = actor.id
        db.session.remove()

    @racy.post("/stale")
    def stale():
        held = db.session.get(Actor, actor_id)
        # Past the ORM (so its identity map still holds the actor), in this transaction (SQLite would make
        # another connection wait for this one's lock).
        db.session.connection().execute(delete(Actor.__table__).where(Actor.__table__.c.id == actor_id))
        db.session.add(Movie(title="Never written", release_date=dt.date(2020, 1, 1)))
        held.age = 31
        db.session.flush()  # INSERT the movie, then UPDATE actors ... WHERE id = :id, which matches no row
        return {"success": True}

    caplog.set_level(logging.INFO, logger="casting.errors")
    response = racy.test_client().post("/stale")
    body = assert_error(response, 409)
    assert "stale data on POST /stale" in caplog.text  # the ORM's StaleDataError, not another 409
    assert body["message"] == "the request conflicts with a concurrent change; nothing was written"
    assert row_counts(app) == (0, 1, 0)  # neither the movie nor the delete of the same transaction stayed
    with app.app_context():
        assert db.session.get(Actor, actor_id).age == 30
        db.session.remove()


def test_a_failing_session_close_never_reaches_the_response(make_app, _schema, monkeypatch, caplog):
    """The teardown that closes the request's session runs after the response is built: when it fails
    (a rollback on a connection that died), it is logged and the connection discarded, never raised."""
    closing = make_app()

    @closing.get("/close-fails")
    def close_fails():
        db.session.execute(text("SELECT 1"))
        session = db.session()

        def broken_close():
            raise RuntimeError("the connection died during the rollback")

        monkeypatch.setattr(session, "close", broken_close)
        return {"success": True}

    response = closing.test_client().get("/close-fails")
    assert response.status_code == 200 and response.get_json() == {"success": True}
    assert "closing the database session failed" in caplog.text


def test_the_access_log_has_the_status_of_a_replay(api, access_lines_for):
    """The access log writes the status the client got, for a replayed write too."""
    with access_lines_for() as lines:
        codes = [api("POST", "/actors", json={"name": "L", "age": 1, "gender": "f"},
                     headers={"Idempotency-Key": "logged"}).status_code for _ in range(2)]
    assert [entry["status"] for entry in lines if entry["path"] == "/actors"] == codes == [201, 201]


@pytest.fixture
def access_lines_for(caplog):
    import logging

    @contextlib.contextmanager
    def capture():
        entries: list[dict] = []
        with caplog.at_level(logging.INFO, logger="casting.access"):
            yield entries
            entries.extend(record.fields for record in caplog.records if record.name == "casting.access")

    return capture


def test_after_a_broken_connection_the_pool_pings_before_it_hands_one_out(app, api, caplog):
    """A connection found broken makes the others suspect (a restart ends them all): for a moment each
    is pinged at checkout and replaced if dead, so the next read needs no second attempt; the ping leaves
    the connection idle, so a read may switch it to autocommit."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("pg_terminate_backend is PostgreSQL's")
    movie = api("POST", "/movies", json={"title": "Pinged", "release_date": "2001-01-01"}).get_json()["movie"]
    with app.app_context():
        engine = db.engine
        idle = max(engine.pool.checkedin(), 1)
        _kill_pooled_connections(engine)
        assert engine.pool.checkedout() == 0 and engine.pool.checkedin() == idle  # all dead, none noticed
    transactions.suspect_connections()
    with caplog.at_level("INFO", logger="casting.web.transactions"):
        assert api("GET", f"/movies/{movie['id']}").get_json()["movie"] == movie
        assert api("GET", "/movies").status_code == 200
    assert "reading again" not in caplog.text  # no attempt met the dead connection
    with app.app_context():
        assert db.engine.pool.checkedout() == 0
        with db.engine.connect() as pooled:
            assert pooled.connection.driver_connection.autocommit is False  # back in the pool as it was


def _kill_pooled_connections(engine) -> None:
    """Terminate the backend of every connection the pool holds, unnoticed by the pool."""
    idle = max(engine.pool.checkedin(), 1)
    pooled = [engine.connect() for _ in range(idle)]
    victims = [connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() for connection in pooled]
    for connection in pooled:
        connection.commit()  # back in the pool without a ROLLBACK that would find it dead
        connection.close()
    killer = create_engine(engine.url, poolclass=NullPool)
    with killer.connect() as other:
        for victim in victims:
            assert other.exec_driver_sql("SELECT pg_terminate_backend(%s)", (victim,)).scalar() is True
    killer.dispose()


def test_a_304_read_on_a_killed_connection_reads_again_on_a_fresh_one_and_stays_exact(app, api, caplog, monkeypatch):
    """A 304's one read runs on the pooled connection's own cursor (transactions.fetch_row), not through
    SQLAlchemy's execution: a connection killed under it is still a disconnect, discarded, and the read runs
    again on a fresh connection; and a change made in SQL, outside the API, is still never answered 304."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("pg_terminate_backend is PostgreSQL's")
        assert not transactions._listened(db.engine)  # the cursor's own path, which this test is about
    movie = api("POST", "/movies", json={"title": "Killed", "release_date": "2001-01-01"}).get_json()["movie"]
    record_tag = api("GET", f"/movies/{movie['id']}").headers["ETag"]
    list_tag = api("GET", "/movies").headers["ETag"]
    for path, tag in ((f"/movies/{movie['id']}", record_tag), ("/movies", list_tag)):
        with app.app_context():
            _kill_pooled_connections(db.engine)
        monkeypatch.setattr(transactions, "_suspect_until", 0.0)  # no ping at checkout: the read meets the dead one
        caplog.clear()
        with caplog.at_level("INFO", logger="casting.web.transactions"):
            response = api("GET", path, headers={"If-None-Match": tag})
        assert response.status_code == 304 and response.headers["ETag"] == tag, path
        assert "a read's connection broke, reading again" in caplog.text, path  # it met the killed one
        with app.app_context():
            assert db.engine.pool.checkedout() == 0
    with app.app_context():
        db.session.execute(text("UPDATE movies SET title = 'Changed in SQL' WHERE id = :id"), {"id": movie["id"]})
        db.session.commit()
    fresh = api("GET", f"/movies/{movie['id']}", headers={"If-None-Match": record_tag})
    assert fresh.status_code == 200 and fresh.get_json()["movie"]["title"] == "Changed in SQL"
    assert api("GET", "/movies", headers={"If-None-Match": list_tag}).status_code == 200


def test_fetch_row_raises_what_sqlalchemy_would_and_keeps_a_sound_connection(app):
    """A statement's error on the cursor's own path is SQLAlchemy's DBAPIError (what safe_read and the error
    handlers understand), not a broken connection; the connection stays usable and goes back to the pool."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the cursor's own path is PostgreSQL's")
        before = db.engine.pool.checkedout()
    with app.test_request_context("/movies"):
        with pytest.raises(DBAPIError) as raised:
            transactions.fetch_row("SELECT no_such_column FROM movies", None, None)
        assert not raised.value.connection_invalidated and raised.value.orig.pgcode == "42703"
        assert transactions.fetch_row("SELECT %(a)s + 1", {"a": 41}, None) == (42,)  # autocommit: no aborted block
        assert transactions.reader().exec_driver_sql("SELECT 7").scalar() == 7  # the same pooled connection
        transactions.close_reader()
        assert db.engine.pool.checkedout() == before


def test_fetch_row_goes_through_sqlalchemy_while_statements_are_listened_to(app, count_statements):
    """The bench's and the tests' statement counters (and any tracing) see the statements of the cursor's own
    path: while anything listens, they run through SQLAlchemy."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the cursor's own path is PostgreSQL's")
    with app.test_request_context("/movies"), count_statements() as counted:
        assert transactions.fetch_row("SELECT 1", None, None) == (1,)
        transactions.close_reader()
        assert counted() == 1


def _prepared_on_pooled_connections(engine) -> list[list[str]]:
    """The names of the statements prepared on each connection the pool holds idle."""
    pooled = [engine.connect() for _ in range(engine.pool.checkedin())]
    try:
        return [sorted(c.exec_driver_sql("SELECT name FROM pg_prepared_statements").scalars()) for c in pooled]
    finally:
        for connection in pooled:
            connection.commit()
            connection.close()


def test_a_304_prepares_its_statement_once_per_connection_and_survives_its_loss(app, api):
    """A 304's read is prepared once per pooled connection (PREPARE, then EXECUTE by name); a connection whose
    prepared statements were dropped (DEALLOCATE ALL) answers the same 304, exactly, and prepares it again."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("prepared statements on the cursor's own path are PostgreSQL's")
    movie = api("POST", "/movies", json={"title": "Prepared", "release_date": "2001-01-01"}).get_json()["movie"]
    tag = api("GET", f"/movies/{movie['id']}").headers["ETag"]
    list_tag = api("GET", "/movies").headers["ETag"]
    assert api("GET", f"/movies/{movie['id']}", headers={"If-None-Match": tag}).status_code == 304
    assert api("GET", "/movies", headers={"If-None-Match": list_tag}).status_code == 304
    with app.app_context():
        prepared = _prepared_on_pooled_connections(db.engine)
        assert {name for names in prepared for name in names} == {"casting_catalogue_version", "casting_movie_etag"}
        pooled = [db.engine.connect() for _ in range(db.engine.pool.checkedin())]
        for connection in pooled:
            connection.exec_driver_sql("DEALLOCATE ALL")
            connection.commit()
            connection.close()
    expected = {"casting_catalogue_version", "casting_movie_etag"}
    made: set[str] = set()
    # Each connection the pool hands out finds its statement gone once and reads without it (the same 304), then
    # prepares it again; the pool (shared by the tests before) may hold several, handed out in turn.
    for _ in range(20):
        assert api("GET", f"/movies/{movie['id']}", headers={"If-None-Match": tag}).status_code == 304
        assert api("GET", "/movies", headers={"If-None-Match": list_tag}).status_code == 304
        with app.app_context():
            made = {name for names in _prepared_on_pooled_connections(db.engine) for name in names}
        if made == expected:
            break
    assert made == expected
    api("PATCH", f"/movies/{movie['id']}", json={"title": "Prepared, changed"})
    assert api("GET", f"/movies/{movie['id']}", headers={"If-None-Match": tag}).status_code == 200
    assert api("GET", "/movies", headers={"If-None-Match": list_tag}).status_code == 200


def test_through_a_pooler_in_transaction_mode_nothing_is_prepared(make_app, _schema, producer):
    """With DATABASE_POOLED the next statement may reach another server connection: no PREPARE is ever sent."""
    pooled_app = make_app(DATABASE_POOLED=True)
    with pooled_app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("prepared statements on the cursor's own path are PostgreSQL's")
    client = pooled_app.test_client()
    created = client.post("/movies", json={"title": "Unprepared", "release_date": "2001-01-01"}, headers=producer)
    movie = created.get_json()["movie"]
    tag = client.get(f"/movies/{movie['id']}", headers=producer).headers["ETag"]
    assert client.get(f"/movies/{movie['id']}", headers={**producer, "If-None-Match": tag}).status_code == 304
    with pooled_app.app_context():
        assert all(names == [] for names in _prepared_on_pooled_connections(db.engine))
        db.engine.dispose()


# --- a connection cut at COMMIT, for real (issue 21) --------------------------------------------------------------


class CuttingProxy:
    """A TCP proxy between the app and PostgreSQL that reads the wire protocol from the app's side (psycopg2 sends
    every statement as one simple Query message) and cuts a connection where a test says. Each rule is called with
    a message's body and whether its connection has inserted a movie yet, and answers None (pass it on), "drop"
    (close both sides; the message never reaches PostgreSQL) or "after" (send it, let PostgreSQL answer it in full,
    then close both sides without handing the answer back: the statement ran, and the app cannot know)."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.rules: list[tuple[Callable[[bytes, bool], str | None], bool]] = []  # (rule, fires once)
        self.cuts: list[str] = []
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def cut(self, rule: Callable[[bytes, bool], str | None], once: bool = True) -> None:
        with self.lock:
            self.rules.append((rule, once))

    def close(self) -> None:
        _close(self.listener)  # (shutdown wakes the accept() waiting on it)
        for sock in list(self.sockets):
            _close(sock)
        self.thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream, timeout=10)
            server.settimeout(None)
            self.sockets += [client, server]
            link = {"muted": False, "answered": threading.Event()}
            threading.Thread(target=self._back, args=(server, client, link), daemon=True).start()
            threading.Thread(target=self._out, args=(client, server, link), daemon=True).start()

    def _back(self, server: socket.socket, client: socket.socket, link: dict) -> None:
        with contextlib.suppress(OSError):
            while chunk := server.recv(65536):
                if link["muted"]:
                    if b"Z\x00\x00\x00\x05" in chunk:  # ReadyForQuery: the statement's answer is complete
                        link["answered"].set()
                    continue
                client.sendall(chunk)
        _close(client)

    def _out(self, client: socket.socket, server: socket.socket, link: dict) -> None:
        wrote_movie = False
        try:
            length = int.from_bytes(_read(client, 4), "big")  # the startup message has no type byte
            server.sendall(length.to_bytes(4, "big") + _read(client, length - 4))
            while True:
                kind = _read(client, 1)
                length = int.from_bytes(_read(client, 4), "big")
                body = _read(client, length - 4)
                message = kind + length.to_bytes(4, "big") + body
                wrote_movie = wrote_movie or (kind == b"Q" and b"INSERT INTO movies" in body)
                verdict = None
                with self.lock:
                    for rule, once in list(self.rules):
                        verdict = rule(body, wrote_movie) if kind == b"Q" else None
                        if verdict:
                            if once:
                                self.rules.remove((rule, once))
                            break
                if verdict is None:
                    server.sendall(message)
                    continue
                statement = body.rstrip(b"\x00")[:60].decode(errors="replace")
                self.cuts.append(f"{verdict} {statement}")
                if verdict == "after":
                    link["muted"] = True
                    server.sendall(message)
                    assert link["answered"].wait(10), "PostgreSQL did not answer the statement let through"
                break
        except (OSError, ConnectionError):
            pass
        _close(client)
        _close(server)


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def commit_of_a_movie(verdict: str):
    """The COMMIT of the transaction that inserted a movie: cut `verdict` ("drop" or "after")."""
    return lambda body, wrote_movie: verdict if wrote_movie and body.startswith(b"COMMIT") else None


@pytest.fixture
def proxied(make_app, built_apps, _schema, app):
    """An app whose every database connection goes through a CuttingProxy to the suite's PostgreSQL."""
    url = make_url(_schema.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        pytest.skip("the cut is made in PostgreSQL's wire protocol, and pg_xact_status settles it: PostgreSQL only")
    proxy = CuttingProxy((url.host or "127.0.0.1", url.port or 5432))
    through = url.set(host="127.0.0.1", port=proxy.port,
                      query={**url.query, "sslmode": "disable", "gssencmode": "disable"})
    built = make_app(SQLALCHEMY_DATABASE_URI=through.render_as_string(hide_password=False))
    built_apps.append(built)
    yield built, proxy
    proxy.close()


def movies_titled(app, title: str) -> int:
    with app.app_context():
        count = db.session.scalar(text("SELECT count(*) FROM movies WHERE title = :t"), {"t": title})
        db.session.remove()
    return count


def create(built, producer, title: str):
    return built.test_client().post("/movies", headers=producer, json={"title": title, "release_date": "2020-01-01"})


def test_a_commit_that_committed_but_whose_answer_was_lost_is_answered_from_the_database(proxied, app, producer):
    """COMMIT reaches PostgreSQL and commits; the connection is cut before the app hears so. pg_xact_status, asked on
    a new connection, says committed: the answer is the 201 built before COMMIT, and the write is not run again."""
    built, proxy = proxied
    proxy.cut(commit_of_a_movie("after"))
    response = create(built, producer, "Committed Unheard")
    assert response.status_code == 201, response.get_json()
    assert proxy.cuts == ["after COMMIT"]
    assert movies_titled(app, "Committed Unheard") == 1


def test_a_commit_whose_outcome_cannot_be_confirmed_is_a_503_and_not_run_again(proxied, app, producer, monkeypatch):
    """As above, and every question about the outcome is cut too: the write may have committed (here it did), so it
    is not run again (that would write it twice) and the answer is a 503 that says the write is unconfirmed."""
    built, proxy = proxied
    monkeypatch.setattr(transactions, "COMMIT_CHECK_SECONDS", 0.5)
    proxy.cut(commit_of_a_movie("after"))
    proxy.cut(lambda body, _: "drop" if b"pg_xact_status" in body else None, once=False)
    response = create(built, producer, "Committed Unconfirmed")
    body = assert_error(response, 503)
    assert body["message"] == "the database did not confirm the write; try again shortly"
    assert proxy.cuts[0] == "after COMMIT" and len(proxy.cuts) >= 2  # the questions were asked, and cut
    assert movies_titled(app, "Committed Unconfirmed") == 1


def test_a_commit_that_never_arrived_is_settled_as_aborted_and_the_write_runs_again(proxied, app, producer):
    built, proxy = proxied
    proxy.cut(commit_of_a_movie("drop"))
    response = create(built, producer, "Commit Lost")
    assert response.status_code == 201, response.get_json()
    assert proxy.cuts == ["drop COMMIT"]
    assert movies_titled(app, "Commit Lost") == 1


def test_a_connection_cut_before_commit_runs_the_write_again(proxied, app, producer):
    """The connection breaks under the write's INSERT (PostgreSQL never gets it): nothing was written, so the write
    runs again on a new connection and answers 201, once."""
    built, proxy = proxied
    proxy.cut(lambda body, _: "drop" if body.startswith(b"INSERT INTO movies") else None)
    response = create(built, producer, "Cut Early")
    assert response.status_code == 201, response.get_json()
    assert len(proxy.cuts) == 1 and proxy.cuts[0].startswith("drop INSERT INTO movies")
    assert movies_titled(app, "Cut Early") == 1
