"""The Procfile as Heroku runs it, under honcho in production mode: the release phase migrates (and is not cut short
by the request statement timeout), then the web process serves with tokens from a stand-in issuer, logs one JSON
line per request, and stops cleanly on SIGTERM. Every server is a real process on 127.0.0.1, stopped in teardown."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid

import jwt
import pytest
import requests
from alembic.script import ScriptDirectory
from sqlalchemy import text

from casting.tokens import roles
from tests.utils.asserters import assert_error
from tests.utils.environment import ROOT, VENV_BIN
from tests.utils.postgres import migrate
from tests.utils.processes import STOP_SECONDS, Process, Server, free_port, json_lines, server_env, signal_group
from tests.utils.tokens import PROD_AUDIENCE, PROD_DOMAIN, PROD_ISSUER

HONCHO = str(VENV_BIN / "honcho")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- the Procfile under honcho, in production mode -------------------------------------------------------------


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
    engine = pg.engine_for(database)
    try:
        with engine.connect() as connection:
            version = connection.scalar(text("SELECT version_num FROM alembic_version"))
            indexes = connection.execute(text(
                "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname IN ('ix_movies_title_trgm', 'ix_actors_name_trgm') ORDER BY c.relname")).all()
            movies = connection.scalar(text("SELECT count(*) FROM movies"))
    finally:
        engine.dispose()
    assert version == ScriptDirectory(str(ROOT / "migrations")).get_current_head(), "not every migration ran"
    assert [tuple(row) for row in indexes] == [("ix_actors_name_trgm", True), ("ix_movies_title_trgm", True)]
    assert movies == 200_000, "the movies did not all come through the later migrations"
