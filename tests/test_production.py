"""Production, for real: the Procfile under honcho, several gunicorn "dynos" sharing one PostgreSQL and one Redis,
a database outage and a write burst.

Every server here is a real process (honcho, gunicorn, a throwaway PostgreSQL cluster, a JWKS server on a
thread) listening on 127.0.0.1 only; each is stopped in teardown, also when the test fails, and every wait is
bounded. Servers' output goes to a temp file that is printed in teardown (pytest shows it when a test fails).

PostgreSQL: scratch databases are created and dropped on the server of TEST_DATABASE_URL, or of
postgresql://postgres@127.0.0.1:5432/postgres when the suite runs on SQLite. Unreachable PostgreSQL or Redis
skips these tests, except under CI=true, where it fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pytest
import requests
from sqlalchemy import text

import roles
from tests.helpers import (
    PROD_AUDIENCE,
    PROD_DOMAIN,
    PROD_ISSUER,
    STOP_SECONDS,
    VENV_BIN,
    Fleet,
    Process,
    Server,
    actor_body,
    assert_error,
    free_port,
    json_lines,
    migrate,
    retry_after,
    server_env,
    signal_group,
    tail,
    unavailable,
)

HONCHO = str(VENV_BIN / "honcho")



# --- small helpers ----------------------------------------------------------------------------------------------


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- PostgreSQL: scratch databases and a throwaway cluster ---------------------------------------------------------


def postgres_bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        result = subprocess.run([found, "--bindir"], capture_output=True, text=True, timeout=10)
        candidate = Path(result.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


class Cluster:
    """A PostgreSQL cluster of its own in a temp dir, on its own port (run as `postgres` when we are root)."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="casting-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=timeout, cwd=self.dir)

    def initdb(self) -> None:
        result = self.run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                          "-E", "UTF8", "--no-sync")
        assert result.returncode == 0, f"initdb failed:\n{result.stdout}\n{result.stderr}"

    def start(self) -> None:
        options = f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1"
        result = self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"),
                          "-o", options, "-w", "-t", "30", "start")
        assert result.returncode == 0, f"pg_ctl start failed:\n{result.stdout}\n{result.stderr}\n{self.log()}"

    def stop(self, mode: str = "immediate") -> None:
        result = self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
        assert result.returncode == 0, f"pg_ctl stop failed:\n{result.stdout}\n{result.stderr}"

    def running(self) -> bool:
        if not self.data.exists():
            return False
        return self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "status", timeout=20).returncode == 0

    def log(self) -> str:
        return tail(self.dir / "server.log", 5000)

    def remove(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    bindir = postgres_bindir()
    if bindir is None:
        unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        unavailable("running as root without runuser: initdb cannot run")
    made = Cluster(bindir)
    try:
        made.initdb()
        made.start()
        yield made
    finally:
        print(f"----- PostgreSQL cluster on port {made.port} -----\n{made.log()}")
        made.remove()


# --- Redis, tokens, the issuer's JWKS ----------------------------------------------------------------------------


# --- 1. the Procfile under honcho, in production mode -------------------------------------------------------------


class Honcho(Process):
    STARTED = re.compile(r"(\w+) started \(pid=(\d+)\)")

    def children(self) -> list[int]:
        return [int(pid) for _, pid in self.STARTED.findall(self.output())]

    def stop(self, sig: int = signal.SIGTERM, seconds: float = STOP_SECONDS) -> int:
        """honcho forwards SIGTERM to each process's group; whatever is left after that is killed."""
        try:
            return super().stop(sig, seconds)
        finally:
            for pid in self.children():
                signal_group(pid, signal.SIGKILL)


def test_procfile_release_then_web_under_honcho_in_production(pg, jwks, tmp_path):
    database = pg.create_database()
    port = free_port()
    empty_env_file = tmp_path / "empty.env"  # never read a developer's .env
    empty_env_file.write_text("")
    env = server_env(APP_ENV="production", AUTH0_DOMAIN=PROD_DOMAIN, API_AUDIENCE=PROD_AUDIENCE,
                     JWKS_URL=jwks.url, TOKEN_ISSUER=PROD_ISSUER, ALLOW_TEST_ISSUER="true", DATABASE_URL=database,
                     PORT=str(port))
    honcho = [HONCHO, "-f", "Procfile", "-e", str(empty_env_file), "--no-colour"]

    # The release phase migrates the empty database and exits 0.
    release = Honcho("honcho-release", [*honcho, "start", "release"], env, tmp_path / "release.log")
    try:
        assert release.wait(90) == 0, release.output()
    finally:
        release.stop()
    engine = pg.engine_for(database)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
            assert conn.scalar(text("SELECT count(*) FROM movies")) == 0
    finally:
        engine.dispose()

    # The web process: gunicorn from the Procfile, production checks on, tokens from the JWKS server.
    web = Honcho("honcho-web", [*honcho, "start", "web"], env, tmp_path / "web.log")
    try:
        server = Server(web, port)
        server.wait_healthy()
        ready = server.request("GET", "/ready")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}, ready.text
        assert ready.headers.get("Strict-Transport-Security"), "production mode is not on"

        reader = jwks.mint(roles.ROLE_PERMISSIONS["casting-assistant"])
        producer = jwks.mint(roles.ROLE_PERMISSIONS["executive-producer"])
        listed = server.request("GET", "/movies", reader)
        assert listed.status_code == 200, listed.text
        assert listed.json() == {"success": True, "movies": [], "total": 0, "page": 1, "per_page": 20,
                                 "next_cursor": None, "prev_cursor": None}
        created = server.request("POST", "/movies", producer, json={"title": "Dyno", "release_date": "2024-02-29"})
        assert created.status_code == 201, created.text
        movie = created.json()["movie"]
        request_id = f"honcho-{uuid.uuid4().hex}"
        fetched = server.request("GET", f"/movies/{movie['id']}", reader, headers={"X-Request-ID": request_id})
        assert fetched.status_code == 200 and fetched.json()["movie"] == movie, fetched.text
        assert fetched.headers["X-Request-ID"] == request_id
        assert jwks.fetches >= 1

        # The access log: one JSON line for that request on the web process's stdout (as honcho relays it),
        # with the token's subject and never the token.
        deadline = time.monotonic() + 10
        while True:
            output = web.log.read_text(errors="replace")
            logged = [e for e in json_lines(output) if e.get("request_id") == request_id]
            if logged or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(logged) == 1, f"no single access-log line for request id {request_id}:\n{output[-5000:]}"
        entry = logged[0]
        assert entry["logger"] == "casting.access", entry
        assert (entry["method"], entry["path"], entry["status"]) == ("GET", f"/movies/{movie['id']}", 200), entry
        assert isinstance(entry["duration_ms"], (int, float)) and 0 <= entry["duration_ms"] < 10_000, entry
        assert entry["sub"] == jwt.decode(reader, options={"verify_signature": False})["sub"], entry
        for token in (reader, producer):
            assert token not in output and token.rsplit(".", 1)[1] not in output, "a token was logged"

        assert_error(server.request("GET", "/movies"), 401)
        wrong_issuer = jwks.mint(roles.ROLE_PERMISSIONS["casting-assistant"], issuer="https://elsewhere.test/")
        assert_error(server.request("GET", "/movies", wrong_issuer), 401)

        # A clean stop: SIGTERM to honcho's group, honcho stops gunicorn, everything exits in time.
        gunicorn_pids = web.children()
        assert gunicorn_pids, web.output()
        signal_group(web.pid, signal.SIGTERM)
        code = web.wait(STOP_SECONDS)
        assert code in (0, 143), f"honcho exited with {code}:\n{web.output()}"
        deadline = time.monotonic() + 10
        while any(group_alive(pid) for pid in gunicorn_pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(group_alive(pid) for pid in gunicorn_pids), f"gunicorn outlived honcho:\n{web.output()}"
        assert "Shutting down: Master" in web.output(), web.output()
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + "/health", timeout=2)
    finally:
        web.stop()
        print(f"----- release -----\n{release.output()}\n----- web -----\n{web.output()}")


# --- 2. two instances, one PostgreSQL, one Redis ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_database(pg, local_pem):
    database = pg.create_database()
    migrate(database, local_pem)
    return database


def test_release_phase_migrations_are_not_cut_short_by_the_request_statement_timeout(pg, local_pem):
    """The release phase runs `flask db upgrade` with the app's settings: the statement timeout meant for
    requests (DB_STATEMENT_TIMEOUT_MS) must not cancel a migration, such as an index built on a big table."""
    database = pg.create_database()
    migrate(database, local_pem, "0002")
    engine = pg.engine_for(database)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO movies (title, release_date) SELECT 'Movie number ' || n, DATE '1950-01-01' + n % 25000"
                " FROM generate_series(1, 200000) AS n"))
    finally:
        engine.dispose()
    # 0003 builds trigram indexes over those 200k titles: far longer than 100 ms.
    migrate(database, local_pem, DB_STATEMENT_TIMEOUT_MS="100")


@pytest.fixture(scope="module")
def two_dynos(shared_database, redis_url, local_pem, tmp_path_factory):
    url, _client = redis_url
    servers = Fleet(tmp_path_factory.mktemp("dynos"))
    try:
        settings = {"DATABASE_URL": shared_database, "REDIS_URL": url, "LOCAL_ISSUER_PRIVATE_KEY": local_pem,
                    "RATE_LIMIT_READS": "10/hour", "WEB_CONCURRENCY": "2"}
        yield servers.gunicorn("dyno-a", **settings), servers.gunicorn("dyno-b", **settings)
    finally:
        servers.close()


def test_a_write_through_one_instance_is_read_through_the_other(two_dynos, local_issuer):
    a, b = two_dynos
    producer = local_issuer.mint("executive-producer", sub=f"writer|{uuid.uuid4().hex}")
    created = a.request("POST", "/movies", producer, json={"title": "Shared State", "release_date": "2020-01-02"})
    assert created.status_code == 201, created.text
    movie = created.json()["movie"]
    seen = b.request("GET", f"/movies/{movie['id']}", producer)
    assert seen.status_code == 200 and seen.json()["movie"] == movie, seen.text

    actor = b.request("POST", "/actors", producer, json={**actor_body("Across Dynos"), "movie_ids": [movie["id"]]})
    assert actor.status_code == 201, actor.text
    cast = a.request("GET", f"/movies/{movie['id']}", producer)
    assert cast.status_code == 200, cast.text
    assert cast.json()["movie"]["actors"] == [{"id": actor.json()["actor"]["id"], "name": "Across Dynos"}]


def test_the_rate_limit_budget_is_shared_through_redis(two_dynos, local_issuer, redis_url):
    a, b = two_dynos
    _url, client = redis_url
    subject = f"limited|{uuid.uuid4().hex}"
    token = local_issuer.mint("casting-assistant", sub=subject)
    responses = [(a, b)[i % 2].request("GET", "/movies", token) for i in range(20)]
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * 10 + [429] * 10, statuses
    for response in responses[10:]:
        assert_error(response, 429)
        assert 1 <= retry_after(response) <= 3600
    # The budget really lives in Redis, keyed by the token's subject.
    keys = [key.decode() for key in client.scan_iter(count=1000)]
    assert any(subject in key for key in keys), keys
    # Another subject still has its own budget, on either instance.
    other = local_issuer.mint("casting-assistant", sub=f"other|{uuid.uuid4().hex}")
    assert a.request("GET", "/movies", other).status_code == 200
    assert b.request("GET", "/movies", other).status_code == 200


def test_requests_still_succeed_when_redis_is_down(fleet, shared_database, local_pem, local_issuer):
    closed = free_port()  # nothing listens there
    server = fleet.gunicorn("dyno-no-redis", DATABASE_URL=shared_database, LOCAL_ISSUER_PRIVATE_KEY=local_pem,
                            REDIS_URL=f"redis://127.0.0.1:{closed}/0")
    token = local_issuer.mint("casting-director", sub=f"no-redis|{uuid.uuid4().hex}")
    for i in range(12):
        started = time.monotonic()
        if i % 4 == 3:
            response = server.request("POST", "/actors", token, json=actor_body(f"Fail Open {i}"))
            expected = 201
        else:
            response = server.request("GET", "/actors", token)
            expected = 200
        assert time.monotonic() - started < 3, f"request {i} took too long with Redis down"
        assert response.status_code == expected, (i, response.status_code, response.text[:300])
    assert server.request("GET", "/ready").status_code == 200


# --- 3. the database goes away and comes back ---------------------------------------------------------------------


def test_database_outage_is_a_fast_503_and_recovers_without_a_restart(cluster, fleet, local_pem, local_issuer):
    migrate(cluster.url, local_pem)
    server = fleet.gunicorn("dyno-outage", DATABASE_URL=cluster.url, LOCAL_ISSUER_PRIVATE_KEY=local_pem,
                            WEB_CONCURRENCY="2")
    token = local_issuer.mint("casting-director", sub=f"outage|{uuid.uuid4().hex}")
    acknowledged: dict[int, str] = {}
    for i in range(6):
        response = server.request("POST", "/actors", token, json=actor_body(f"Survivor {i}"))
        assert response.status_code == 201, response.text
        acknowledged[response.json()["actor"]["id"]] = f"Survivor {i}"
    some_id = next(iter(acknowledged))

    cluster.stop("immediate")
    api_calls = [
        ("GET", "/actors", None), ("GET", f"/actors/{some_id}", None), ("GET", "/movies", None),
        ("GET", f"/actors/{some_id}/movies", None), ("POST", "/actors", actor_body("Lost While Down")),
        ("PATCH", f"/actors/{some_id}", {"age": 41}), ("DELETE", f"/actors/{some_id}", None),
    ]
    for _round in range(3):  # a few rounds, so that both workers meet the outage
        for method, path, body in api_calls:
            started = time.monotonic()
            response = server.request(method, path, token, json=body)
            elapsed = time.monotonic() - started
            assert elapsed < 3, f"{method} {path} took {elapsed:.1f} s with the database down"
            assert_error(response, 503)
            retry_after(response)
        started = time.monotonic()
        ready = server.request("GET", "/ready")
        assert time.monotonic() - started < 3
        assert_error(ready, 503)
        retry_after(ready)
        health = server.request("GET", "/health")
        assert health.status_code == 200 and health.json() == {"status": "ok"}

    cluster.start()
    deadline = time.monotonic() + 20
    statuses: list[int] = []
    while time.monotonic() < deadline:
        statuses = [server.request("GET", "/actors", token, timeout=5).status_code for _ in range(4)]
        if statuses == [200] * 4:
            break
        time.sleep(0.25)
    assert statuses == [200] * 4, f"still {statuses} 20 s after the database came back"
    assert server.process.proc.poll() is None, "gunicorn had to restart"
    assert server.request("GET", "/ready").status_code == 200

    for actor_id, name in acknowledged.items():
        response = server.request("GET", f"/actors/{actor_id}", token)
        assert response.status_code == 200, (actor_id, response.text)
        assert response.json()["actor"]["name"] == name
    listed = server.request("GET", "/actors", token, params={"per_page": "100"})
    assert listed.status_code == 200
    assert sorted(a["id"] for a in listed.json()["actors"]) == sorted(acknowledged), "a 503 wrote something"
    assert listed.json()["total"] == len(acknowledged)


# --- 4. a burst of writes -----------------------------------------------------------------------------------------


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
