"""Many clients at once, for real: gunicorn with the Procfile's settings (4 workers) on PostgreSQL, colliding
writes, database connections killed under load, one Idempotency-Key sent in parallel, revalidation across two
instances, and a burst of writes that loses nothing.

Every load loop is bounded in time and in count, and reports what came back (`pytest -s` shows the counts).
PostgreSQL is required: unreachable, these tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import text

from tests.utils.postgres import migrate
from tests.utils.processes import json_lines
from tests.utils.records import actor_body

SERVER = {"WEB_CONCURRENCY": "4", "RATE_LIMIT_DISABLED": "true"}


@pytest.fixture
def database(pg, local_pem):
    url = pg.create_database()
    migrate(url, local_pem)
    return url


def call(session: requests.Session, base: str, method: str, path: str, token: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return session.request(method, base + path, headers=headers, timeout=30, **kwargs)


def is_json(response: requests.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return response.headers.get("Content-Type", "").startswith("application/json")


# --- colliding writes --------------------------------------------------------------------------------------------


def test_colliding_castings_answer_200_or_409_and_the_last_answers_are_the_final_state(
        database, fleet, local_pem, local_issuer):
    """Two clients replace a movie's cast ([A, A2] / []) while two replace an actor's movies ([M, M2] / []),
    for 10 s: the two sides of one casting, locked from both ends. Every answer is a 200 or a 409 (never
    a 503 while the database is up, never a 404 for a record that exists), and the final state is the
    one the last committed answers describe.

    Each PATCH also renames its record uniquely, so the final title and name tell which movie PATCH and
    which actor PATCH committed last."""
    server = fleet.gunicorn("collisions", DATABASE_URL=database, LOCAL_ISSUER_PRIVATE_KEY=local_pem, **SERVER)
    token = local_issuer.mint("executive-producer", sub=f"collide|{uuid.uuid4().hex}")
    with requests.Session() as setup:
        a, a2 = (call(setup, server.url, "POST", "/actors", token, json={"name": n, "age": 40, "gender": "f"})
                 .json()["actor"]["id"] for n in ("A", "A2"))
        m, m2 = (call(setup, server.url, "POST", "/movies", token, json={"title": t, "release_date": "2020-01-01"})
                 .json()["movie"]["id"] for t in ("M", "M2"))

    plans = [
        ("PATCH", f"/movies/{m}", lambda i: {"title": f"M by 0 #{i}", "actor_ids": [a, a2]}),
        ("PATCH", f"/movies/{m}", lambda i: {"title": f"M by 1 #{i}", "actor_ids": []}),
        ("PATCH", f"/actors/{a}", lambda i: {"name": f"A by 2 #{i}", "movie_ids": [m, m2]}),
        ("PATCH", f"/actors/{a}", lambda i: {"name": f"A by 3 #{i}", "movie_ids": []}),
    ]
    deadline = time.monotonic() + 10
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def client(method: str, path: str, body) -> None:
        with requests.Session() as session:
            for i in range(5000):
                if time.monotonic() > deadline:
                    return
                response = call(session, server.url, method, path, token, json=body(i))
                assert is_json(response), response.text[:300]
                with lock:
                    answers.append((response.status_code, response.json()))

    run_clients(len(plans), lambda n: client(*plans[n]), 60)

    statuses = Counter(status for status, _ in answers)
    print(f"\ncollisions: {len(answers)} PATCHes in 10 s: {dict(statuses)}")
    assert set(statuses) <= {200, 409}, statuses
    assert statuses[200] >= len(plans), statuses

    with requests.Session() as session:
        movie = call(session, server.url, "GET", f"/movies/{m}", token).json()["movie"]
        actor = call(session, server.url, "GET", f"/actors/{a}", token).json()["actor"]
    last_movie_answer = next(body["movie"] for status, body in answers
                             if status == 200 and "movie" in body and body["movie"]["title"] == movie["title"])
    last_actor_answer = next(body["actor"] for status, body in answers
                             if status == 200 and "actor" in body and body["actor"]["name"] == actor["name"])
    cast = {x["id"] for x in movie["actors"]}
    films = {x["id"] for x in actor["movies"]}
    assert (a in cast) == (m in films)
    # (M, A2) changes only through the movie's PATCHes, (M2, A) only through the actor's.
    assert (a2 in cast) == (a2 in {x["id"] for x in last_movie_answer["actors"]})
    assert (m2 in films) == (m2 in {x["id"] for x in last_actor_answer["movies"]})
    # (M, A) changes through both: the final state is what whichever of the two committed last said.
    assert (a in cast) in ({x["id"] for x in last_movie_answer["actors"]} >= {a},
                           {x["id"] for x in last_actor_answer["movies"]} >= {m})


# --- killed connections ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def connections_killed_every(seconds: float, pg, database: str):
    """While the block runs, a thread terminates every connection of the app (`application_name`) to
    `database` each `seconds`, as the app's own role may; yields the number killed in each round."""
    stop = threading.Event()
    kills: list[int] = []

    def killer() -> None:
        engine = pg.engine_for(database)
        try:
            while not stop.wait(seconds):
                with engine.connect() as conn:
                    killed = conn.scalar(text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = 'casting-agency-api' "
                        "AND pid <> pg_backend_pid()"))
                    conn.commit()
                kills.append(killed)
        finally:
            engine.dispose()

    watcher = threading.Thread(target=killer, daemon=True)
    watcher.start()
    try:
        yield kills
    finally:
        stop.set()
        watcher.join(timeout=10)


def run_clients(count: int, client, seconds: float) -> None:
    """`count` threads each running client(number), all done within `seconds`."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        for future in [pool.submit(client, n) for n in range(count)]:
            future.result(timeout=seconds)


def test_killed_connections_never_fail_a_read(database, pg, fleet, local_pem, local_issuer):
    """Reads while the app's connections are terminated every 0.3 s: a broken connection is replaced and
    the read runs again, so every answer is a 200 (the database is up)."""
    server = fleet.gunicorn("read-faults", DATABASE_URL=database, LOCAL_ISSUER_PRIVATE_KEY=local_pem, **SERVER)
    token = local_issuer.mint("casting-director", sub=f"reads|{uuid.uuid4().hex}")
    with requests.Session() as setup:
        actor = call(setup, server.url, "POST", "/actors", token, json={"name": "Read", "age": 30, "gender": "f"})
        actor_id = actor.json()["actor"]["id"]
    paths = ["/actors", f"/actors/{actor_id}", f"/actors/{actor_id}/movies", "/movies", "/history", "/ready"]
    deadline = time.monotonic() + 6
    statuses: Counter = Counter()

    def client(number: int) -> None:
        with requests.Session() as session:
            for i in range(10_000):
                if time.monotonic() > deadline:
                    return
                response = call(session, server.url, "GET", paths[(number + i) % len(paths)], token)
                statuses[response.status_code] += 1

    with connections_killed_every(0.3, pg, database) as kills:
        run_clients(6, client, 60)
    print(f"\nread faults: {sum(kills)} connections killed; answers {dict(statuses)}")
    assert sum(kills) > 0
    assert set(statuses) == {200}, statuses


def test_killed_connections_lose_no_acknowledged_create_and_duplicate_none(
        database, pg, fleet, local_pem, local_issuer):
    """While every connection of the app is terminated every 0.3 s (`pg_terminate_backend`, by the app's
    own role), 8 clients create actors for 8 s, each sending an Idempotency-Key and retrying it until
    a 2xx. Every answer is JSON, none is a 5xx while the database is up, every acknowledged actor exists
    exactly once, no name is stored twice, and the access log has the status each client got."""
    server = fleet.gunicorn("faults", DATABASE_URL=database, LOCAL_ISSUER_PRIVATE_KEY=local_pem, **SERVER)
    token = local_issuer.mint("casting-director", sub=f"faults|{uuid.uuid4().hex}")
    deadline = time.monotonic() + 8
    outcomes: list[tuple[str, int, bool, bool]] = []  # name, status, JSON?, replayed?
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()

    def client(number: int) -> None:
        with requests.Session() as session:
            for i in range(10_000):
                if time.monotonic() > deadline:
                    return
                name, key = f"Fault {number}-{i}", uuid.uuid4().hex
                for _attempt in range(50):  # until a 2xx, bounded
                    try:
                        response = call(session, server.url, "POST", "/actors", token,
                                        json={"name": name, "age": 30, "gender": "f"},
                                        headers={"Idempotency-Key": key})
                    except requests.ConnectionError:
                        continue
                    with lock:
                        outcomes.append((name, response.status_code, is_json(response),
                                         response.headers.get("Idempotent-Replayed") == "true"))
                    if response.status_code == 201:
                        with lock:
                            acknowledged[name] = response.json()["actor"]["id"]
                        break
                    time.sleep(0.05)

    with connections_killed_every(0.3, pg, database) as kills:
        run_clients(8, client, 90)

    statuses = Counter(status for _, status, _, _ in outcomes)
    replays = sum(1 for *_, replayed in outcomes if replayed)
    print(f"\nfaults: {sum(kills)} connections killed in {len(kills)} rounds; {len(outcomes)} answers "
          f"{dict(statuses)}; {replays} replays; {len(acknowledged)} actors acknowledged")
    assert sum(kills) > 0, "the killer never found a connection of the app"
    assert all(json_answer for _, _, json_answer, _ in outcomes), "an answer that is not JSON"
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {201, 409}, statuses

    engine = pg.engine_for(database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, name FROM actors")).all()
    finally:
        engine.dispose()
    stored = Counter(name for _, name in rows)
    assert [name for name, count in stored.items() if count > 1] == [], "a name was stored twice"
    ids = {name: actor_id for actor_id, name in rows}
    missing = [name for name in acknowledged if name not in ids]
    assert missing == [], f"acknowledged but not stored: {missing[:5]}"
    assert all(ids[name] == actor_id for name, actor_id in acknowledged.items())

    logged = Counter(entry["status"] for entry in json_lines(server.process.log.read_text(errors="replace"))
                     if entry.get("path") == "/actors" and entry.get("method") == "POST")
    assert logged == statuses, (logged, statuses)


# --- one key, many requests at once ----------------------------------------------------------------------------


def test_one_idempotency_key_sent_in_parallel_runs_once(database, fleet, local_pem, local_issuer):
    server = fleet.gunicorn("same-key", DATABASE_URL=database, LOCAL_ISSUER_PRIVATE_KEY=local_pem, **SERVER)
    token = local_issuer.mint("casting-director", sub=f"same-key|{uuid.uuid4().hex}")
    results: list[tuple[int, bool, dict]] = []
    for round_ in range(5):
        barrier = threading.Barrier(8)
        key, body = uuid.uuid4().hex, {"name": f"Parallel {round_}", "age": 30, "gender": "f"}

        def send(key=key, body=body, barrier=barrier):
            with requests.Session() as session:
                barrier.wait(timeout=10)
                response = call(session, server.url, "POST", "/actors", token, json=body,
                                headers={"Idempotency-Key": key})
            return response.status_code, response.headers.get("Idempotent-Replayed") == "true", response.json()

        with ThreadPoolExecutor(max_workers=8) as pool:
            round_results = list(pool.map(lambda _: send(), range(8), timeout=60))
        fresh = [r for r in round_results if r[0] == 201 and not r[1]]
        assert len(fresh) == 1, round_results
        assert all(r[0] == 409 or (r[0] == 201 and r[2] == fresh[0][2]) for r in round_results), round_results
        results += round_results
    print(f"\nsame key x8, 5 rounds: {dict(Counter((s, replayed) for s, replayed, _ in results))}")
    listed = requests.get(server.url + "/actors", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert sorted(a["name"] for a in listed["actors"]) == [f"Parallel {i}" for i in range(5)]


def test_racing_restores_answer_one_201_and_409s_never_a_404(database, fleet, local_pem, local_issuer):
    """Issue 21: 4 parallel restores of one deleted movie answered one 201 and 409s, and now and then a 404 ("no
    deleted movie with id N in the history") while the movie existed. 10 rounds, counted: one 201 a round, the
    rest 409, nothing else."""
    server = fleet.gunicorn("restores", DATABASE_URL=database, LOCAL_ISSUER_PRIVATE_KEY=local_pem, **SERVER)
    token = local_issuer.mint("executive-producer", sub=f"restore|{uuid.uuid4().hex}")
    with requests.Session() as s:
        actor = call(s, server.url, "POST", "/actors", token, json=actor_body("Restored Cast")).json()["actor"]
        movie = call(s, server.url, "POST", "/movies", token,
                     json={"title": "Back Again", "release_date": "2020-01-01", "actor_ids": [actor["id"]]})
    movie_id = movie.json()["movie"]["id"]
    counts: Counter = Counter()
    for round_ in range(10):
        with requests.Session() as s:
            assert call(s, server.url, "DELETE", f"/movies/{movie_id}", token).status_code == 200, round_
        barrier = threading.Barrier(4)

        def restore(_, barrier=barrier):
            with requests.Session() as session:
                barrier.wait(timeout=10)
                response = call(session, server.url, "POST", f"/movies/{movie_id}/restore", token)
            return response.status_code, response.text

        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(restore, range(4), timeout=60))
        statuses = sorted(status for status, _ in answers)
        assert statuses == [201, 409, 409, 409], (round_, answers)
        counts.update(statuses)
    print(f"\nrestores x4, 10 rounds: {dict(counts)}")
    with requests.Session() as s:
        final = call(s, server.url, "GET", f"/movies/{movie_id}", token).json()["movie"]
        history = call(s, server.url, "GET", f"/movies/{movie_id}/history?per_page=100", token).json()["history"]
    assert final["title"] == "Back Again" and [a["id"] for a in final["actors"]] == [actor["id"]]
    assert Counter(entry["action"] for entry in history) == {"created": 1, "deleted": 10, "restored": 10}


# --- revalidation across instances ------------------------------------------------------------------------------


def test_no_instance_answers_304_for_what_changed_through_another(database, fleet, local_pem, local_issuer):
    settings = {"DATABASE_URL": database, "LOCAL_ISSUER_PRIVATE_KEY": local_pem, "WEB_CONCURRENCY": "2"}
    one, other = fleet.gunicorn("dyno-one", **settings), fleet.gunicorn("dyno-two", **settings)
    token = local_issuer.mint("executive-producer", sub=f"etag|{uuid.uuid4().hex}")
    with requests.Session() as s:
        movie = call(s, one.url, "POST", "/movies", token, json={"title": "Shared", "release_date": "2020-01-01"})
        movie_path = f"/movies/{movie.json()['movie']['id']}"
        record_tag = call(s, one.url, "GET", movie_path, token).headers["ETag"]
        list_tag = call(s, one.url, "GET", "/movies", token).headers["ETag"]
        for path, tag in ((movie_path, record_tag), ("/movies", list_tag)):
            for server in (one, other):
                assert call(s, server.url, "GET", path, token, headers={"If-None-Match": tag}).status_code == 304

        changed = call(s, other.url, "PATCH", movie_path, token, json={"title": "Shared, renamed"},
                       headers={"If-Match": record_tag})
        assert changed.status_code == 200
        record = call(s, one.url, "GET", movie_path, token, headers={"If-None-Match": record_tag})
        assert record.status_code == 200 and record.json()["movie"]["title"] == "Shared, renamed"
        assert record.headers["ETag"] == changed.headers["ETag"]
        listed = call(s, one.url, "GET", "/movies", token, headers={"If-None-Match": list_tag})
        assert listed.status_code == 200 and listed.json()["movies"][0]["title"] == "Shared, renamed"
        stale = call(s, one.url, "DELETE", movie_path, token, headers={"If-Match": record_tag})
        assert stale.status_code == 412 and stale.headers["ETag"] == changed.headers["ETag"]
        assert json.loads(stale.text)["error"] == 412


# --- a burst of writes -----------------------------------------------------------------------------------------


def test_a_burst_of_concurrent_writes_loses_nothing(pg, fleet, local_pem, local_issuer):
    database = pg.create_database()
    migrate(database, local_pem)
    server = fleet.gunicorn("dyno-burst", DATABASE_URL=database, LOCAL_ISSUER_PRIVATE_KEY=local_pem,
                            RATE_LIMIT_WRITES="100000/minute", WEB_CONCURRENCY="3", GUNICORN_THREADS="4")
    token = local_issuer.mint("casting-director", sub=f"burst|{uuid.uuid4().hex}")
    total, threads = 200, 20

    def post(i: int) -> tuple[int, int | None, str]:
        with requests.Session() as session:
            response = session.post(server.url + "/actors", json=actor_body(f"Burst {i:03d}"), timeout=20,
                                    headers={"Authorization": f"Bearer {token}"})
        actor_id = response.json()["actor"]["id"] if response.status_code == 201 else None
        if actor_id is not None:
            assert response.headers["Location"].endswith(f"/actors/{actor_id}")
        return response.status_code, actor_id, response.text[:200]

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(post, range(total), timeout=90))
    statuses = Counter(status for status, _, _ in results)
    assert not [r for r in results if r[0] >= 500], f"server errors in the burst: {statuses}"
    created = sorted(actor_id for status, actor_id, _ in results if status == 201)
    assert len(set(created)) == len(created), "an id was handed out twice"

    engine = pg.engine_for(database)
    try:
        with engine.connect() as conn:
            rows = sorted(conn.scalars(text("SELECT id FROM actors")).all())
    finally:
        engine.dispose()
    assert rows == created, f"database has {len(rows)} rows, the API acknowledged {len(created)}"
    assert statuses == {201: total}, statuses
