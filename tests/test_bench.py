"""The benchmark's parts that could go wrong without the benchmark itself failing: the loader keeps every key,
index and trigger it drops and makes the data the scenarios assume; revalidate.lua counts every answer that
is not a 304 (wrk counts only statuses from 400 up); the readers of wrk's summary and of pgbench scripts; the
import scenario's files import whole; the follower's share of reads is read from the access log."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text

from tests.utils.environment import ROOT, unavailable
from tests.utils.postgres import migrate

BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import tools  # noqa: E402
from scenarios import SEARCH_COUNT_SQL, SEARCH_INDEXES, SEARCH_TOTALS  # noqa: E402


def search_counts(connection) -> dict:
    """Each search scenario's total, counted in SQL on the loaded data."""
    return {name: connection.execute(text(sql)).scalar_one() for name, sql in SEARCH_COUNT_SQL.items()}


def schema(connection) -> dict:
    """The three tables' constraints, indexes and triggers, as PostgreSQL describes them."""
    tables = {"tables": ["movies", "actors", "movie_actors"]}
    return {
        "constraints": connection.execute(text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid::regclass::text = ANY(:tables) OR confrelid::regclass::text = ANY(:tables) "
            "ORDER BY 1, 2"), tables).all(),
        "indexes": connection.execute(text(
            "SELECT indrelid::regclass::text, indexrelid::regclass::text, pg_get_indexdef(indexrelid) "
            "FROM pg_index WHERE indrelid::regclass::text = ANY(:tables) ORDER BY 1, 2"), tables).all(),
        "triggers": connection.execute(text(
            "SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger "
            "WHERE tgrelid::regclass::text = ANY(:tables) AND NOT tgisinternal ORDER BY 1, 2"), tables).all(),
    }


def load(database: str, movies: int) -> None:
    libpq_url = database.replace("postgresql+psycopg2://", "postgresql://", 1)
    result = subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"movies={movies}",
                             "-f", str(BENCH / "load.sql"), libpq_url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_load_sql_builds_again_what_it_drops_and_makes_the_data_it_says(pg, local_pem):
    if not shutil.which("psql"):
        unavailable("psql is not installed (Debian: postgresql-client)")
    database = pg.create_database()
    migrate(database, local_pem)
    engine = pg.engine_for(database)
    with engine.connect() as connection:
        migrated = schema(connection)
        version = connection.execute(text("SELECT version FROM catalogue_version")).scalar_one()
    assert len(migrated["indexes"]) >= 9 and len(migrated["constraints"]) >= 5 and migrated["triggers"]

    load(database, 1000)
    with engine.connect() as connection:
        at_1000 = search_counts(connection)
        titles_1000 = connection.execute(text("SELECT md5(string_agg(title, '|' ORDER BY id)) FROM movies "
                                              "WHERE id <= 300")).scalar_one()
    load(database, 300)  # again over loaded tables, as at each size of a run
    with engine.connect() as connection:
        assert schema(connection) == migrated
        scalar = lambda sql: connection.execute(text(sql)).scalar_one()  # noqa: E731
        assert scalar("SELECT version FROM catalogue_version") > version  # the triggers saw the load
        assert dict(connection.execute(text("SELECT table_name, row_count FROM table_counts")).all()) == {
            "movies": 300, "actors": 150}
        assert scalar("SELECT count(*) FROM movies") == 300
        assert scalar("SELECT count(*) FROM actors") == 150
        # Movies numbered 1..N (page.sql finds the anchor of row k * 1000 at id k * 1000 + 1).
        assert scalar("SELECT min(id) = 1 AND max(id) = 300 FROM movies")
        # Three different actors for every movie, billed 1, 2 and 3, each as a character.
        assert scalar("SELECT count(*) FROM movie_actors") == 900
        assert scalar("SELECT count(*) FROM (SELECT movie_id FROM movie_actors GROUP BY movie_id "
                      "HAVING count(DISTINCT actor_id) = 3 AND array_agg(billing ORDER BY billing) = '{1,2,3}') "
                      "AS cast_of_three") == 300
        assert scalar("SELECT count(*) FROM movie_actors WHERE actor_id NOT BETWEEN 1 AND 150") == 0
        assert scalar("SELECT count(*) FROM movie_actors WHERE character IS NULL") == 0
        # The same data at every load (the first 300 movies of 1,000 are the 300 movies of 300).
        assert scalar("SELECT md5(string_agg(title, '|' ORDER BY id)) FROM movies") == titles_1000
        # Real titles' shape: one to six words (a sequel's numeral besides), many of them different; names
        # of a first and a last name (a middle initial for some), recurring.
        words = dict(connection.execute(text(
            "SELECT n, count(*) FROM (SELECT array_length(regexp_split_to_array(regexp_replace(title, "
            "' (II|III|IV)$', ''), ' '), 1) AS n FROM movies) AS lengths GROUP BY n")).all())
        assert set(words) == {1, 2, 3, 4, 5, 6}
        assert scalar("SELECT count(DISTINCT title) FROM movies") > 250
        assert scalar("SELECT count(*) FROM actors WHERE name !~ '^[A-Z][a-z]+( [A-Z]\\.)? [A-Z][a-z]+$'") == 0
        assert scalar("SELECT count(*) FROM movies WHERE title ILIKE '% II' OR title LIKE '%: %'") > 10
        # The scenarios' searches count what scenarios.SEARCH_TOTALS says, here and at 1,000 movies.
        assert search_counts(connection) == {name: SEARCH_TOTALS[name](300) for name in SEARCH_TOTALS}
    assert at_1000 == {name: SEARCH_TOTALS[name](1000) for name in SEARCH_TOTALS}
    engine.dispose()


def test_the_gate_fails_a_search_that_does_not_use_its_index(pg, local_pem):
    """bench/run.py's plan check at PLAN_SIZE movies: every gated search reads its trigram index; without the
    index the planner reads the whole table, and the check says so."""
    if not shutil.which("psql"):
        unavailable("psql is not installed (Debian: postgresql-client)")
    import run
    from scenarios import CHARACTER, PLAN_SIZE

    database = pg.create_database()
    migrate(database, local_pem)
    load(database, PLAN_SIZE)
    assert run.check_search_plans(database, PLAN_SIZE) == []
    engine = pg.engine_for(database)
    index = SEARCH_INDEXES[CHARACTER]
    with engine.begin() as connection:
        definition = connection.execute(text("SELECT pg_get_indexdef(CAST(:index AS regclass))"),
                                        {"index": index}).scalar_one()
        connection.execute(text(f"DROP INDEX {index}"))
    try:
        assert run.check_search_plans(database, PLAN_SIZE) == [
            f"{PLAN_SIZE}: {CHARACTER} reads the whole of movie_actors (Seq Scan)",
            f"{PLAN_SIZE}: {CHARACTER} does not use {index}"]
    finally:
        with engine.begin() as connection:
            connection.execute(text(definition))
        engine.dispose()


def test_writes_sql_does_the_write_mix_in_sql_and_bumps_the_version_once_a_transaction(pg, local_pem):
    """bench/writes.sql, the write mix's statements in pgbench: every transaction runs (none fails: no lock taken
    out of order, no row it needs missing), creates actors, renames movies, casts and uncasts, writes the history
    entries the app would, and bumps the catalogue version once each, as the app's writes do."""
    if not (shutil.which("psql") and shutil.which("pgbench")):
        unavailable("psql and pgbench are not installed (Debian: postgresql-client)")
    database = pg.create_database()
    migrate(database, local_pem)
    load(database, 1000)
    engine = pg.engine_for(database)
    with engine.connect() as connection:
        scalar = lambda sql: connection.execute(text(sql)).scalar_one()  # noqa: E731
        before = {"version": scalar("SELECT version FROM catalogue_version"),
                  "actors": scalar("SELECT count(*) FROM actors")}
    output = subprocess.run(["pgbench", "-n", "-c", "4", "-j", "1", "-t", "50", "-D", "movies=1000", "-f",
                             str(BENCH / "writes.sql"), database.replace("postgresql+psycopg2://", "postgresql://", 1)],
                            capture_output=True, text=True, timeout=120)
    assert output.returncode == 0, output.stdout + output.stderr
    assert "number of failed transactions: 0" in output.stdout, output.stdout
    with engine.connect() as connection:
        scalar = lambda sql: connection.execute(text(sql)).scalar_one()  # noqa: E731
        assert scalar("SELECT version FROM catalogue_version") == before["version"] + 200
        created = scalar("SELECT count(*) FROM actors") - before["actors"]
        actions = dict(connection.execute(text("SELECT action, count(*) FROM history GROUP BY action")).all())
        assert created > 0 and actions["created"] == created
        assert actions["updated"] > 0 and actions["cast"] > 0 and actions["uncast"] > 0
        assert scalar("SELECT count(*) FROM movies WHERE title LIKE 'Bench Title %'") > 0
    engine.dispose()


class Answers(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status,unexpected", [(304, False), (200, True), (412, True)])
def test_revalidate_lua_counts_every_answer_but_a_304(status, unexpected):
    if not shutil.which("wrk"):
        unavailable("wrk is not installed (Debian: wrk)")
    handler = type("Fixed", (Answers,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        measured = tools.wrk(f"http://127.0.0.1:{server.server_port}", "revalidate.lua", 1, 2,
                             {"BENCH_TOKEN": "t", "BENCH_PATH": "/movies/1", "BENCH_ETAG": '"e"'})
    finally:
        server.shutdown()
        server.server_close()
    assert measured["requests"] > 0
    assert measured["bad_status"] == (measured["requests"] if unexpected else 0)


WRK_SUMMARY = """Running 1s test @ http://127.0.0.1:8000
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.48ms   10.00ms   1.20s    95.00%
  Latency Distribution
     50%  850.00us
     75%    6.00ms
     90%    8.00ms
     99%    1.20s
  316 requests in 1.01s, 100.00KB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:    312.99
Transfer/sec:    100.00KB
"""


def test_parse_wrk_reads_rates_latencies_and_failures():
    measured = tools.parse_wrk(WRK_SUMMARY)
    assert measured == {"rps": 312.99, "p50": 0.85, "p99": 1200.0, "max": 1200.0, "requests": 316, "bad_status": 5,
                        "socket_errors": 3, "failed": 8}
    # revalidate.lua's own count replaces wrk's (which sees no 200 or 304 as an error)
    assert tools.parse_wrk(WRK_SUMMARY + "Unexpected statuses: 316\n")["bad_status"] == 316


@pytest.mark.parametrize("page,key,skip", [(1, 1, 0), (100, 1, 1980), (101, 2001, 0), (500, 9001, 980),
                                           (50_000, 999_001, 980)])
def test_page_sql_starts_a_deep_page_from_its_anchor(page, key, skip):
    sql = tools.script_sql("page.sql", {"pages": 50_000}, {"page": page})
    assert f"WHERE id >= {key} ORDER BY id LIMIT 21 OFFSET {skip}" in sql
    assert "'[]'::json" in sql  # casts are not variables


def _castings_for(first_movie: int, first_actor: int, movies: int) -> bytes:
    """bench/transfers.py's castings of `movies` movies and as many actors, by the ids they have here (the bench
    imports them into tables whose ids start at 1)."""
    import transfers

    lines = transfers.castings_csv(movies, movies).decode().splitlines()
    shifted = [lines[0]]
    for line in lines[1:]:
        movie, actor, rest = line.split(",", 2)
        shifted.append(f"{int(movie) + first_movie - 1},{int(actor) + first_actor - 1},{rest}")
    return ("\r\n".join(shifted) + "\r\n").encode()


def test_the_import_scenarios_files_import_whole_and_name_actors_in_the_files_order(client, producer):
    """bench/transfers.py: its 100,000 actors have a name each (the import matches actors by name: two of one name
    would be one actor updated, or a problem), every row of both files keeps the API's rules, and the import
    gives the actors ids in the file's order, which the castings by id count on."""
    import transfers

    assert len({transfers.actor_name(i) for i in range(100_000)}) == 100_000
    count = 60
    csv = {**producer, "Content-Type": "text/csv"}
    movies = [client.post("/movies", json={"title": f"Bench import {i}", "release_date": "2001-02-03"},
                          headers=producer).json["movie"]["id"] for i in range(count)]
    assert movies == list(range(movies[0], movies[0] + count))
    answer = client.post("/imports?type=actors", data=transfers.actors_csv(count), headers=csv)
    assert answer.status_code == 200, answer.json
    assert answer.json["import"]["created"] == count
    first = client.get("/actors?sort=-id&per_page=1", headers=producer).json["actors"][0]["id"] - count + 1
    assert [client.get(f"/actors/{first + i}", headers=producer).json["actor"]["name"] for i in (0, 1, count - 1)] \
        == [transfers.actor_name(i) for i in (0, 1, count - 1)]
    answer = client.post("/imports?type=castings&match=id", data=_castings_for(movies[0], first, count), headers=csv)
    assert answer.status_code == 200, answer.json
    assert (answer.json["import"]["created"], answer.json["import"]["problem_count"]) == (3 * count, 0)
    cast = client.get(f"/movies/{movies[0]}", headers=producer).json["movie"]["actors"]
    assert sorted(actor["id"] - first + 1 for actor in cast) == sorted(transfers.cast_of(1, count))


def test_read_shares_counts_the_reads_by_the_database_that_answered(tmp_path):
    """bench/followers.py reads the access log's `db` field: GETs only, from the offset given, any follower-N
    counted as the follower; lines that are no request (gunicorn's own) are passed over."""
    import followers

    log = tmp_path / "access.log"
    before = '{"method": "GET", "status": 200, "db": "primary"}\n'
    log.write_text(before + "\n".join([
        '{"method": "GET", "status": 200, "db": "follower-1"}', '{"method": "GET", "status": 304, "db": "follower-2"}',
        '{"method": "GET", "status": 200, "db": "primary"}', '{"method": "PATCH", "status": 200, "db": null}',
        "[2026-12-05 10:00:00 +0000] [12] [INFO] Booting worker with pid: 12", '{"level": "warning"}']) + "\n")
    shares = followers.read_shares(log, offset=len(before))
    assert shares["by_source"] == {"follower": 2, "primary": 1}
    assert shares["follower_share"] == 2 / 3
    assert shares["requests"] == {"GET 200": 2, "GET 304": 1, "PATCH 200": 1}
