"""The retrying transaction (casting/web/transactions.py): deadlocks and serialization failures retried then a
409, a broken connection replaced for a while then a 503, other errors not retried, a session teardown that never
fails a response, a connection lost at COMMIT answered by what the database did, and the pool's pings after a
broken connection. The races under gunicorn are in tests/deployment/test_concurrency.py."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

import pytest
from sqlalchemy import create_engine, delete, text
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
        pooled = [engine.connect() for _ in range(idle)]  # every connection the pool holds
        victims = [connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() for connection in pooled]
        for connection in pooled:
            connection.commit()  # back in the pool without a ROLLBACK that would find it dead
            connection.close()
        killer = create_engine(engine.url, poolclass=NullPool)
        with killer.connect() as other:
            for victim in victims:
                assert other.exec_driver_sql("SELECT pg_terminate_backend(%s)", (victim,)).scalar() is True
        killer.dispose()
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
