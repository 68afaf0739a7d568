"""PostgreSQL's exports made by COPY (casting/catalogue/exports.py, Copied): byte for byte the file the Python
encoder writes (tabular.Writer over the cursor's rows, which SQLite's exports still use), whatever the
records hold, even what the API refuses but psql may store; its CRLFs whatever the chunks; and a client that
leaves mid-export, for real through gunicorn: the COPY stops, the connection goes back, the next requests work."""

from __future__ import annotations

import os
import re

import psycopg2
import psycopg2.errors
import pytest
import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

from casting.catalogue import exports
from casting.catalogue.tabular import CSV, NDJSON, Writer
from casting.schemas.queries import ActorExportQuery, CastingExportQuery, MovieExportQuery
from casting.schemas.rows import LAYOUTS
from models import db
from tests.api.test_exports_stream import add_movies, checked_out, dialect
from tests.utils.exports import leave_mid_export

QUERIES = {"movies": MovieExportQuery, "actors": ActorExportQuery, "castings": CastingExportQuery}


@pytest.fixture
def postgresql(app):
    if dialect(app) != "postgresql":
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs these on PostgreSQL")
        pytest.skip("COPY is PostgreSQL's: SQLite's exports are encoded in Python")
    return app


# What the text rules refuse (casting/schemas/text.py) but a row written with psql may hold, and what they
# allow that CSV, JSON or the formula quote must take care of.
TITLES = ["=1+1", "+plus", "-ism", "@home", "\ttab first", "\rcr first", "'=quoted", "''+twice", "'Tis", "'",
          "Salt, and \"Signal\"", "\"", "line\nbreak", "cr\rinside", "crlf\r\ninside", "\n", "back\\slash \\.",
          "\\.", "Amélie ✓ 東京", "sep\u2028para\u2029", "ctl\x01\x1f\x7f\x85", "trailing space ", " leading",
          "#end", "null", "comma,", ",", "quote\"\"twice", "\"quoted\"", "tab\tinside", "\b\f"]


@pytest.fixture
def hostile(postgresql):
    """Movies, actors and castings with every title above, written in SQL past the API's rules."""
    with postgresql.app_context():
        for n, title in enumerate(TITLES):
            db.session.execute(text("INSERT INTO movies (title, release_date) "
                                    "VALUES (:t, DATE '0999-01-01' + :n * 400)"), {"t": title, "n": n})
            db.session.execute(text("INSERT INTO actors (name, age, gender) VALUES (:t, :n, :g)"),
                               {"t": title[:100], "n": n, "g": TITLES[-1 - n][:50]})
        db.session.execute(text(
            "INSERT INTO movie_actors (movie_id, actor_id, character, billing) "
            "SELECT m.id, a.id, CASE WHEN a.id % 3 = 0 THEN NULL ELSE a.name END, "
            "CASE WHEN a.id % 2 = 0 THEN NULL ELSE a.id END FROM movies m JOIN actors a ON a.id % 7 = m.id % 7"))
        db.session.commit()
        db.session.remove()
    return postgresql


def python_file(kind: str, params, media: str) -> bytes:
    snapshot = exports.Snapshot(kind, params)
    return b"".join(snapshot.chunks(Writer(LAYOUTS[kind].columns, media)))


def copied_file(kind: str, params, media: str) -> bytes:
    columns = LAYOUTS[kind].columns
    return b"".join(exports.Copied(kind, params, columns, media).chunks(Writer(columns, media)))


@pytest.mark.parametrize("media", [CSV, NDJSON])
@pytest.mark.parametrize(("kind", "query"), [
    ("movies", {}), ("movies", {"sort": "-title"}), ("movies", {"q": "in", "sort": "release_date"}),
    ("actors", {}), ("actors", {"sort": "-name", "min_age": "3"}), ("castings", {}), ("castings", {"character": "'"}),
])
def test_copy_writes_byte_for_byte_the_file_the_python_encoder_writes(hostile, kind, query, media):
    params = QUERIES[kind].model_validate(query)
    with hostile.app_context():
        expected = python_file(kind, params, media)
        assert copied_file(kind, params, media) == expected
    count = re.search(rb'(?:#end,|"rows":)([0-9]+)', expected.rsplit(b"\n", 2)[-2]).group(1)
    assert int(count) >= 3  # rows were compared, not two empty files


def test_chunks_of_any_size_give_the_same_file(hostile, monkeypatch):
    """Quoted line breaks cut across chunks of 7 bytes: COPY's LF become CRLF outside quoted cells only."""
    params = MovieExportQuery.model_validate({})
    with hostile.app_context():
        expected = python_file("movies", params, CSV)
        monkeypatch.setattr(exports, "CHUNK", 7)
        assert copied_file("movies", params, CSV) == expected
    assert b'"line\nbreak"' in expected and b'"crlf\r\ninside"' in expected


def test_crlf_makes_line_ends_crlf_outside_quotes_wherever_the_chunks_are_cut():
    text_ = b'1,"a\nb",x\n2,"c""\nd""",y\n3,plain,z\n4,"""",\n'
    whole = b'1,"a\nb",x\r\n2,"c""\nd""",y\r\n3,plain,z\r\n4,"""",\r\n'
    for cut in range(len(text_) + 1):
        first, quoted = exports.crlf(text_[:cut], False)
        second, quoted = exports.crlf(text_[cut:], quoted)
        assert first + second == whole and not quoted, cut


def test_the_copy_runs_in_the_exports_read_only_snapshot(postgresql, monkeypatch):
    """The COPY is the snapshot's, after the version it was read with, with the request's whole time as its
    bound: one statement sends the whole file."""
    add_movies(postgresql, 3)
    seen = []
    copy = exports.Copied._copy

    def spying(self, sql):
        with self.raw.cursor() as cursor:  # (before the COPY, on the thread: the answer waits for its first chunk)
            cursor.execute("SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only'),"
                           " current_setting('statement_timeout'), current_setting('DateStyle')")
            seen.append(cursor.fetchone())
        return copy(self, sql)

    monkeypatch.setattr(exports.Copied, "_copy", spying)
    with postgresql.app_context():
        body = copied_file("movies", MovieExportQuery.model_validate({}), CSV)
    assert body.endswith(b"#end,3,\r\n")
    assert seen == [("repeatable read", "on", "25s", "ISO, MDY")]


def test_an_export_leaves_its_connection_as_the_pool_lent_it(postgresql, api):
    """The snapshot's characteristics are its transaction's, not the connection's: a connection given back after an
    export begins its next transaction as any other (a connection "restored" to READ WRITE began each transaction
    with BEGIN ... READ WRITE, which a hot standby refuses: a follower left the rotation after each export)."""
    add_movies(postgresql, 3)
    for path in ("/movies/export", "/actors/export?format=ndjson", "/castings/export"):
        assert api("GET", path).status_code == 200
    with postgresql.app_context():
        copied_file("movies", MovieExportQuery.model_validate({}), CSV)
        python_file("movies", MovieExportQuery.model_validate({}), CSV)
        engine = db.engine
        held = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
        try:
            assert held
            for connection in held:
                assert (connection.driver_connection.readonly, connection.driver_connection.isolation_level) == (
                    None, None)
                with connection.cursor() as cursor:
                    cursor.execute("SELECT current_setting('transaction_read_only')")
                    assert cursor.fetchone() == ("off",)
                connection.rollback()
        finally:
            for connection in held:
                connection.close()


def test_an_empty_export_is_its_header_and_end_line(postgresql):
    with postgresql.app_context():
        assert copied_file("castings", CastingExportQuery.model_validate({}), CSV) == (
            b"movie_id,movie_title,movie_release_date,actor_id,actor_name,character,billing\r\n#end,0,,,,,\r\n")
        assert copied_file("actors", ActorExportQuery.model_validate({}), NDJSON) == b'{"end":true,"rows":0}\n'
    assert checked_out(postgresql) == 0


# --- a client that leaves ------------------------------------------------------------------------------------


def test_an_answer_closed_mid_copy_cancels_the_copy_and_gives_a_whole_connection_back(postgresql):
    """200,000 movies (about 5 MB): after the first chunk the COPY waits for the pipe to be read. Closing the
    answer cancels it (it is not read to its end), the thread ends, and the connection goes back to the pool
    in a state the next export uses."""
    add_movies(postgresql, 200_000)
    columns = LAYOUTS["movies"].columns
    with postgresql.app_context():
        copied = exports.Copied("movies", MovieExportQuery.model_validate({}), columns, CSV)
        stream = copied.chunks(Writer(columns, CSV))
        assert next(stream) == b"id,title,release_date\r\n" and next(stream).startswith(b"1,Movie 1,")
        assert checked_out(postgresql) == 1 and copied.thread.is_alive()  # the COPY waits for the client
        stream.close()  # as the server does when the client has gone
        assert not copied.thread.is_alive() and checked_out(postgresql) == 0
        assert isinstance(copied.error, psycopg2.errors.QueryCanceled), copied.error
        assert copied_file("movies", MovieExportQuery.model_validate({"q": "Movie 19999"}), CSV).endswith(
            b"#end,11,\r\n")  # 19999 and 199990..199999


def test_a_client_that_leaves_mid_export_stops_the_copy_and_the_next_requests_work(postgresql, gunicorn, database_url,
                                                                                   producer):
    """Through gunicorn, for real: a client reads the answer's first bytes of 300,000 movies (about 8 MB, far more
    than the pipe and the sockets hold) and closes its connection. The COPY was running, waiting for the
    client; it is cancelled, its connection rolled back and idle again (no COPY left, no transaction left
    open), and the same server then exports the whole file, again and again."""
    add_movies(postgresql, 300_000)
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    for _ in range(3):  # more times than the worker has threads: a connection kept by an abandoned export would show
        leave_mid_export(gunicorn.url, "/movies/export", producer["Authorization"], dsn)
    with requests.get(gunicorn.url + "/movies/export?format=ndjson", headers=producer, timeout=60) as whole:
        assert whole.status_code == 200 and whole.content.endswith(b'{"end":true,"rows":300000}\n')
    assert requests.get(gunicorn.url + "/movies?per_page=1", headers=producer, timeout=10).json()["total"] == 300_000
