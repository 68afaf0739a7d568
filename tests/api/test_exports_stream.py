"""How an export streams (docs/import-export.md): one snapshot of the catalogue however long it takes, a failure
after the answer began seen by the client as a cut stream without the end line, its connection given back
however the answer ends, and memory that stays flat whatever the size (measured with tracemalloc)."""

from __future__ import annotations

import sqlite3
import threading
import tracemalloc

import psycopg2.errors
import pytest
import requests
from sqlalchemy import Text, cast, func, literal_column, text
from werkzeug.serving import make_server

from casting.catalogue import exports, tabular, version
from models import Movie, db
from tests.utils.records import new_movie


def add_movies(app, count: int, first: int = 1) -> None:
    """`count` movies in one statement (titles "Movie <n>"), outside the API."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SET LOCAL statement_timeout = 0"))  # the trigram index makes 180,000 slow
            db.session.execute(text(
                "INSERT INTO movies (title, release_date) SELECT 'Movie ' || n, DATE '2000-01-01' + n % 9000 "
                "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS n"),
                {"first": first, "last": first + count - 1})
        else:
            db.session.execute(text(
                "WITH RECURSIVE n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
                "INSERT INTO movies (title, release_date) SELECT 'Movie ' || i, date('2000-01-01', '+' || (i % 9000) "
                "|| ' days') FROM n"), {"first": first, "last": first + count - 1})
        db.session.commit()
        db.session.remove()


def dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


def checked_out(app) -> int:
    with app.app_context():
        return db.engine.pool.checkedout()


# --- one snapshot ----------------------------------------------------------------------------------------------


def test_rows_changed_while_an_export_streams_are_exported_as_they_were_when_it_began(app, client, producer):
    """PostgreSQL: the export's REPEATABLE READ transaction sees its first statement's snapshot to the end; a
    movie added, one renamed and one deleted meanwhile (committed between two batches) change nothing in it."""
    if dialect(app) != "postgresql":
        pytest.skip("SQLite holds writers off instead (the next test)")
    add_movies(app, 3 * exports.BATCH)
    with client.get("/movies/export", headers=producer) as response:
        stream = iter(response.response)
        received = [next(stream), next(stream)]  # the header and the first batch: the rest is still in the database
        with app.app_context():
            renamed = {"id": 3 * exports.BATCH - 1}
            db.session.execute(text("UPDATE movies SET title = 'Renamed' WHERE id = :id"), renamed)
            db.session.execute(text("DELETE FROM movies WHERE id = :id"), {"id": 3 * exports.BATCH})
            db.session.execute(text("INSERT INTO movies (title, release_date) VALUES ('Late', '2020-01-01')"))
            db.session.commit()
            db.session.remove()
        received += list(stream)
    lines = b"".join(received).decode().splitlines()
    assert len(lines) == 1 + 3 * exports.BATCH + 1 and lines[-1] == f"#end,{3 * exports.BATCH},"
    assert lines[-2].split(",")[1] == f"Movie {3 * exports.BATCH}"
    assert "Renamed" not in "".join(lines) and "Late" not in "".join(lines)


def test_the_etag_is_the_version_of_the_snapshot_the_rows_come_from(app, client, producer, monkeypatch):
    """A write that commits right after the export read the catalogue version is not in the file, so the ETag
    (made from that version) names exactly what the file holds (on PostgreSQL, READ COMMITTED would let the
    rows' statement see it)."""
    if dialect(app) != "postgresql":
        pytest.skip("SQLite's read lock keeps any write out of the export (the next test)")
    add_movies(app, 3)
    read = version.current

    def then_a_write(connection=None):
        seen = read(connection)
        if connection is not None:
            with app.app_context():
                db.session.execute(text("INSERT INTO movies (title, release_date) VALUES ('Sneaked in', '2020-01-01')"))
                db.session.commit()
                db.session.remove()
        return seen

    monkeypatch.setattr(version, "current", then_a_write)
    with client.get("/movies/export", headers=producer) as response:
        body = response.get_data(as_text=True)
    assert "Sneaked in" not in body and body.endswith("#end,3,\r\n")
    monkeypatch.undo()
    with client.get("/movies/export", headers=producer) as after:
        assert after.headers["ETag"] != response.headers["ETag"] and "Sneaked in" in after.get_data(as_text=True)


def test_on_sqlite_a_write_waits_for_the_export_and_never_changes_it(app, client, producer):
    if dialect(app) != "sqlite":
        pytest.skip("PostgreSQL lets writes commit beside the export's snapshot (the tests above)")
    add_movies(app, 2 * exports.BATCH)
    with app.app_context():
        path = db.engine.url.database
    with client.get("/movies/export", headers=producer) as response:
        stream = iter(response.response)
        received = [next(stream), next(stream)]
        writer = sqlite3.connect(path, timeout=0.1, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                writer.execute("BEGIN IMMEDIATE")
                writer.execute("INSERT INTO movies (title, release_date) VALUES ('Late', '2020-01-01')")
                writer.execute("COMMIT")
        finally:
            if writer.in_transaction:
                writer.execute("ROLLBACK")
            writer.close()
        received += list(stream)
    body = b"".join(received).decode()
    assert "Late" not in body and body.endswith(f"#end,{2 * exports.BATCH},\r\n")


def test_postgresql_exports_through_a_server_side_cursor_in_a_read_only_snapshot(app):
    if dialect(app) != "postgresql":
        pytest.skip("SQLite's cursor is its own")
    add_movies(app, 10)
    with app.test_request_context():
        from casting.schemas.queries import MovieExportQuery

        snapshot = exports.Snapshot("movies", MovieExportQuery.model_validate({}))
        try:
            cursor = snapshot.result.cursor
            assert cursor.name  # psycopg2's named cursor: PostgreSQL keeps the rows, FETCHed a batch at a time
            level, read_only = snapshot.connection.exec_driver_sql(
                "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')").one()
            assert (level, read_only) == ("repeatable read", "on")
        finally:
            snapshot.close()


# --- failures and clients that leave -------------------------------------------------------------------------


@pytest.fixture
def failing_after_first_batch(app, monkeypatch):
    """The export fails after its answer began. PostgreSQL: the COPY itself fails at the last row (a division
    by zero in the title's cell: a real database error, after the rows before it were sent; random() makes the
    cell volatile, which PostgreSQL computes after the sort, row by row in the file's order); SQLite: the
    writer fails on its second batch, as a database gone mid-stream would. The exception the answer raises."""
    if dialect(app) == "postgresql":
        build = exports.statement

        def failing_statement(kind, params):
            query, values = build(kind, params)
            poison = func.substr(cast(literal_column("1") / (Movie.id - (2 * exports.BATCH + 1)) + func.random(),
                                      Text), 1, 0)
            return query.with_only_columns(Movie.id, func.concat(Movie.title, poison), Movie.release_date), values

        monkeypatch.setattr(exports, "statement", failing_statement)
        return psycopg2.errors.DivisionByZero
    rows = tabular.Writer.rows
    calls = []

    def failing(self, batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return rows(self, batch)

    monkeypatch.setattr(tabular.Writer, "rows", failing)
    return RuntimeError


def test_a_failure_mid_stream_never_ends_the_file_with_its_end_line(app, api, client, producer,
                                                                   failing_after_first_batch, caplog):
    add_movies(app, 2 * exports.BATCH + 1)
    received = []
    with client.get("/movies/export", headers=producer) as response:
        assert response.status_code == 200  # the answer had begun
        with pytest.raises(failing_after_first_batch):
            for chunk in response.response:
                received.append(chunk)
    body = b"".join(received).decode()
    assert body.startswith("id,title,release_date\r\n") and "#end" not in body
    assert any("failed after its answer began" in record.message for record in caplog.records)
    assert checked_out(app) == 0  # its connection went back to the pool
    # ... with its cursor closed: on SQLite an unfinished one keeps its read lock (here the traceback keeps the
    # stream's frames alive) until the garbage collector finalizes it, and writers wait for it.
    if dialect(app) == "sqlite":
        with app.app_context():
            path = db.engine.url.database
        probe = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            probe.execute("BEGIN EXCLUSIVE")  # fails when any connection still reads
            probe.execute("ROLLBACK")
        finally:
            probe.close()
    assert new_movie(api, "Written right after")["title"] == "Written right after"


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_over_http_a_failure_mid_stream_is_a_cut_chunked_answer(app, live_server, producer, failing_after_first_batch):
    """What a client sees: HTTP/1.1 chunks without the last one (requests raises), and no end line."""
    add_movies(app, 2 * exports.BATCH + 1)
    with requests.get(live_server + "/movies/export?format=ndjson", headers=producer, stream=True,
                      timeout=30) as response:
        assert response.status_code == 200 and response.headers["Transfer-Encoding"] == "chunked"
        received = []
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in response.iter_content(chunk_size=None):
                received.append(chunk)
    lines = b"".join(received).decode().splitlines()
    # The rows sent before the failure: SQLite's first batch; on PostgreSQL every row before the failing one.
    assert len(lines) == (2 * exports.BATCH if dialect(app) == "postgresql" else exports.BATCH)
    assert '"end"' not in lines[-1] and lines[-1].startswith('{"id":')


def test_a_whole_answer_over_http_ends_with_its_end_line(app, live_server, producer):
    add_movies(app, exports.BATCH + 5)
    with requests.get(live_server + "/movies/export", headers=producer, stream=True, timeout=30) as response:
        lines = response.content.decode().splitlines()
    assert lines[-1] == f"#end,{exports.BATCH + 5},"


def test_an_answer_closed_before_its_first_byte_gives_its_connection_back(app, api, client, producer):
    new_movie(api)
    response = client.get("/movies/export", headers=producer)
    assert checked_out(app) == 1  # the snapshot's own connection, held while the answer waits to be sent
    response.close()  # as a server does when the client has gone
    assert checked_out(app) == 0


# --- memory --------------------------------------------------------------------------------------------------


def peak_while_streaming(client, producer) -> tuple[int, int, int]:
    """(rows, bytes, tracemalloc's peak in bytes) of one CSV export read to its end, chunk by chunk."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        size, last = 0, b""
        with client.get("/movies/export", headers=producer) as response:
            for chunk in response.response:
                size += len(chunk)
                last = chunk
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rows = int(last.decode().splitlines()[-1].split(",")[1])
    return rows, size, peak


def test_memory_stays_flat_whatever_the_size_of_the_export(app, client, producer):
    """20,000 then 200,000 movies: the peak of Python's allocations while streaming does not grow with the rows
    (a buffered answer would hold the whole file: about 6 MB at 200,000 rows)."""
    add_movies(app, 20_000)
    small = peak_while_streaming(client, producer)
    add_movies(app, 180_000, first=20_001)
    large = peak_while_streaming(client, producer)
    print(f"\nexport memory ({dialect(app)}): {small[0]:,} rows, {small[1]:,} bytes, peak {small[2]:,} B; "
          f"{large[0]:,} rows, {large[1]:,} bytes, peak {large[2]:,} B")
    assert small[0] == 20_000 and large[0] == 200_000
    assert large[1] > 9 * small[1]
    assert large[2] < small[2] * 1.5 + 512 * 1024, (small, large)
    assert large[2] < large[1] / 2, (small, large)
