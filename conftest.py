"""Fixtures: the app on PostgreSQL (TEST_DATABASE_URL) or SQLite, real RS256 tokens, a clean database per test."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import config
from app import create_app
from local_issuer import LOCAL_AUDIENCE, LocalIssuer
from models import Actor, Movie, db, history, idempotency_keys, movie_actors

# The tests decide the configuration; nothing from the developer's shell leaks in.
APP_SETTINGS = ("DATABASE_URL", "AUTH0_DOMAIN", "API_AUDIENCE", "JWKS_URL", "TOKEN_ISSUER", "APP_ENV", "DYNO",
                "PUBLIC_READS", "CORS_ORIGINS", "LOCAL_ISSUER_PRIVATE_KEY", "REDIS_URL", "ALLOW_TEST_ISSUER",
                "AUTH0_CLIENT_ID", "TRUSTED_PROXY_COUNT", "TOKEN_MAX_LIFETIME_SECONDS", "FORWARDED_ALLOW_IPS")
for _name in APP_SETTINGS:
    os.environ.pop(_name, None)

ROLES = ["casting-assistant", "casting-director", "executive-producer"]


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


@pytest.fixture(scope="session")
def make_app(database_url, signing_key, tmp_path_factory):
    """Build an app on the test database; keyword overrides go into its config."""
    instance = tmp_path_factory.mktemp("instance")

    def build(**overrides):
        settings = {
            "TESTING": True,
            "PRODUCTION": False,  # development mode, as APP_ENV=development gives; tests of production say so
            "RATELIMIT_ENABLED": False,  # test_production.py turns it on where it is the subject
            "SQLALCHEMY_DATABASE_URI": database_url,
            "LOCAL_ISSUER_PRIVATE_KEY": pem(signing_key),
        }
        settings.update(overrides)
        app = create_app(settings)
        app.instance_path = str(instance)
        return app

    return build


@pytest.fixture(scope="session")
def _schema(make_app):
    """The schema, built once per run by the committed migrations (never create_all)."""
    app = make_app()
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        upgrade()
    return app


@pytest.fixture
def app(_schema):
    yield _schema
    with _schema.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("TRUNCATE movie_actors, movies, actors, idempotency_keys, history "
                                    "RESTART IDENTITY CASCADE"))
        else:
            # SQLite reuses ids from max(id) + 1, so emptying the tables resets them too.
            for table in (movie_actors, Movie.__table__, Actor.__table__, idempotency_keys, history):
                db.session.execute(table.delete())
            # AUTOINCREMENT (migration 0005) remembers the highest id ever given: forget it too.
            db.session.execute(text("DELETE FROM sqlite_sequence"))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def issuer(app):
    return app.extensions["local_issuer"]


@pytest.fixture
def headers(issuer):
    """headers(role) -> the Authorization header of a fresh token for that role."""

    def for_role(role: str, **claims) -> dict:
        return {"Authorization": f"Bearer {issuer.mint(role, **claims)}"}

    return for_role


@pytest.fixture
def producer(headers) -> dict:
    return headers("executive-producer")


@pytest.fixture
def api(client, producer):
    """Call the API as an executive producer: api("POST", "/movies", json=...) -> response."""

    def call(method: str, path: str, **kwargs):
        return client.open(path, method=method, headers={**producer, **kwargs.pop("headers", {})}, **kwargs)

    return call


def new_movie(api, title="Raids of the Ice", release_date="2017-04-29", **extra) -> dict:
    response = api("POST", "/movies", json={"title": title, "release_date": release_date, **extra})
    assert response.status_code == 201, response.json
    return response.json["movie"]


def new_actor(api, name="Chris Pine", age=45, gender="male", **extra) -> dict:
    response = api("POST", "/actors", json={"name": name, "age": age, "gender": gender, **extra})
    assert response.status_code == 201, response.json
    return response.json["actor"]


def assert_error(response, status: int, field: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)
    body = response.json
    assert body["success"] is False and body["error"] == status and body["message"]
    if field is not None:
        assert field in body["details"], body
    return body


def row_counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(table))
            for table in (Movie.__table__, Actor.__table__, movie_actors)
        )


@pytest.fixture
def count_statements(app):
    """with count_statements() as n: ...; n() is the number of SQL statements run inside."""
    @contextmanager
    def counting():
        seen: list[str] = []

        def record(conn, cursor, statement, *args):
            seen.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield lambda: len(seen)
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting


# --- real servers on 127.0.0.1 (browser, client and production tests) -------------------------------------

ROOT = Path(__file__).resolve().parent
VENV_BIN = ROOT / ".venv" / "bin"
GUNICORN = str(VENV_BIN / "gunicorn")
STARTUP_SECONDS = 20
STOP_SECONDS = 25
# Settings of the servers that come only from each test, never from the shell running the suite.
SCRUBBED = {*APP_SETTINGS, "TEST_DATABASE_URL", "PORT", "BIND_HOST", "WEB_CONCURRENCY", "LOG_LEVEL", "PROCFILE"}
SCRUBBED_PREFIXES = ("RATE_LIMIT_", "JWKS_", "DB_", "GUNICORN", "FLASK_")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JwksEndpoint:
    """A fixed key set served as Auth0 serves it (`/.well-known/jwks.json`) by a real http.server on
    127.0.0.1, counting the fetches; `failing = True` makes it answer 503 (an outage). test_auth.py has a
    scriptable one for the fetch's other failure modes."""

    PATH = "/.well-known/jwks.json"

    def __init__(self, document: dict):
        payload = json.dumps(document).encode()
        self.hits = 0
        self.failing = False
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                if self.path != JwksEndpoint.PATH:
                    self.send_error(404)
                    return
                endpoint.hits += 1
                if endpoint.failing:
                    self.send_error(503)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{self.PATH}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def server_env(**settings: str | None) -> dict[str, str]:
    """os.environ without any app setting, with the virtualenv first on PATH, in development mode
    (APP_ENV=development) unless `settings` say otherwise, plus `settings` (None: leave that one unset)."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED and not k.startswith(SCRUBBED_PREFIXES)}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env["APP_ENV"] = "development"
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def tail(path: Path, limit: int = 20_000) -> str:
    try:
        data = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log: {exc}>"
    return data if len(data) <= limit else "...\n" + data[-limit:]


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


class Process:
    """A child in its own process group (session) whose output goes to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path):
        self.name = name
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return tail(self.log)

    def wait(self, seconds: float) -> int:
        try:
            return self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} did not exit within {seconds} s; output:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM, seconds: float = STOP_SECONDS) -> int:
        """Signal the whole group, wait (bounded), then SIGKILL whatever is left of the group."""
        if self.proc.poll() is None:
            signal_group(self.pid, sig)
            try:
                self.proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                signal_group(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        signal_group(self.pid, signal.SIGKILL)  # orphaned workers, if any
        return self.proc.returncode


class Server:
    """The HTTP side of a process serving the app (gunicorn, or honcho running it) on 127.0.0.1:port."""

    def __init__(self, process: Process, port: int):
        self.process = process
        self.name = process.name
        self.url = f"http://127.0.0.1:{port}"

    def wait_healthy(self, seconds: float = STARTUP_SECONDS, port_clash_ok: bool = False) -> bool:
        """True once /health answers 200; False when the port was taken meanwhile and `port_clash_ok`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.proc.poll() is not None:
                output = self.process.output()
                if port_clash_ok and "in use" in output:
                    return False
                pytest.fail(f"{self.name} exited with {self.process.proc.returncode} while starting:\n{output}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return True
            time.sleep(0.1)
        pytest.fail(f"{self.name} did not answer /health within {seconds} s; output:\n{self.process.output()}")

    def request(self, method: str, path: str, token: str | None = None, timeout: float = 10, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.url + path, headers=headers, timeout=timeout, **kwargs)


def start_gunicorn(directory: Path, name: str, **settings: str | None) -> Server:
    """`gunicorn --config gunicorn.conf.py 'app:create_app()'` on a free port of 127.0.0.1, once /health answers;
    tried again when someone else took the port first. Nothing it started is left running when it fails."""
    argv = [GUNICORN, "--config", "gunicorn.conf.py", "app:create_app()"]
    for attempt in range(3):
        port = free_port()
        process = Process(f"{name}#{attempt}", argv, server_env(PORT=str(port), BIND_HOST="127.0.0.1", **settings),
                          directory / f"{name}-{attempt}.log")
        server = Server(process, port)
        try:
            healthy = server.wait_healthy(port_clash_ok=attempt < 2)
        except BaseException:
            process.stop()
            raise
        if healthy:
            return server
        process.stop()  # it lost the port; reap it
    raise AssertionError("unreachable")


CHROMIUM = "/usr/bin/chromium"  # Debian's: test tools cannot download a browser here
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium under Playwright, one per test module; CI must have it (.ci/run installs it)."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Debian's chromium (.ci/run installs it)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# What the browser and client tests' servers run with: no rate limits, room for a page's parallel requests.
LIVE_SETTINGS = {"RATE_LIMIT_DISABLED": "true", "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"}


@pytest.fixture(scope="module")
def gunicorn(_schema, database_url, signing_key, tmp_path_factory):
    """The app under gunicorn on the suite's database (the schema it migrated), trusting the suite's
    local-issuer key; one server per test module that asks for it."""
    server = start_gunicorn(tmp_path_factory.mktemp("gunicorn"), "gunicorn", DATABASE_URL=database_url,
                            LOCAL_ISSUER_PRIVATE_KEY=pem(signing_key), **LIVE_SETTINGS)
    yield server
    server.process.stop()


# --- scratch PostgreSQL databases and fleets of gunicorn servers (test_production.py, test_concurrency.py) ---------

FLASK = str(VENV_BIN / "flask")
ON_CI = os.environ.get("CI") == "true"
FALLBACK_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def unavailable(reason: str):
    """Skip locally, fail under CI: the production tests must run there."""
    if ON_CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


class Fleet:
    """Starts gunicorn instances; `close()` stops them all and prints their logs (shown by pytest on failure)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.processes: list[Process] = []

    def gunicorn(self, name: str, **settings: str | None) -> Server:
        server = start_gunicorn(self.directory, name, **settings)
        self.processes.append(server.process)
        return server

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        for process in self.processes:
            print(f"----- {process.name} (rc={process.proc.returncode}) -----\n{process.output()}")


def json_lines(output: str) -> list[dict]:
    """The JSON objects logged in a process's output, also behind a prefix such as honcho's `12:00:00 web.1 | `."""
    entries = []
    for line in output.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        with contextlib.suppress(ValueError):
            entry = json.loads(line[start:])
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


def expect_json_error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["success"] is False and body["error"] == status, body
    assert isinstance(body["message"], str) and body["message"], body
    return body


class PostgresAdmin:
    """Creates scratch databases next to the test database and drops them again."""

    def __init__(self, admin_url):
        self.admin_url = admin_url
        self.engine = create_engine(config.database_url(admin_url.render_as_string(hide_password=False), "."),
                                    isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        self.created: list[str] = []

    def create_database(self) -> str:
        """A new empty database owned by the admin URL's user; its URL (with password) for the servers."""
        name = f"casting_prod_test_{uuid.uuid4().hex[:12]}"
        self.created.append(name)
        try:
            with self.engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except DBAPIError as exc:
            if getattr(exc.orig, "pgcode", None) != "42501" or not self._create_as_superuser(name):
                raise
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def _create_as_superuser(self, name: str) -> bool:
        """The test database's role may lack CREATEDB (CI's does): as root, create it over the local socket, as
        .ci/postgres.sh does, owned by that role."""
        local = self.admin_url.host in (None, "", "127.0.0.1", "localhost")
        if not local or os.geteuid() != 0 or not shutil.which("runuser") or not shutil.which("psql"):
            return False
        owner = self.admin_url.username or "postgres"
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", "psql", "-p", str(self.admin_url.port or 5432),
             "-v", "ON_ERROR_STOP=1", "-q", "-c", f'CREATE DATABASE "{name}" OWNER "{owner}"'],
            capture_output=True, text=True, timeout=30, cwd="/",
        )
        assert result.returncode == 0, f"creating {name} as postgres failed: {result.stderr}"
        return True

    def engine_for(self, url: str):
        return create_engine(config.database_url(url, "."), connect_args={"connect_timeout": 3})

    def drop_all(self) -> None:
        for name in self.created:
            with self.engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.engine.dispose()


@pytest.fixture(scope="module")
def pg(database_url):
    """PostgreSQL to make scratch databases on: TEST_DATABASE_URL's server, else the local default."""
    candidates = [database_url, os.environ.get("TEST_DATABASE_URL") or "", FALLBACK_ADMIN_URL]
    raw = next(url for url in candidates if url.startswith(("postgres://", "postgresql")))
    url = make_url(config.database_url(raw, "."))
    admin = PostgresAdmin(url.set(database="postgres"))
    try:
        with admin.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        admin.engine.dispose()
        unavailable(f"PostgreSQL at {url.host}:{url.port} is unreachable: {str(exc.orig).strip()}")
    yield admin
    admin.drop_all()


def migrate(database: str, signing_pem: str, revision: str = "head", **settings: str) -> None:
    result = subprocess.run(
        [FLASK, "--app", "app", "db", "upgrade", revision], cwd=ROOT, capture_output=True, text=True, timeout=90,
        env=server_env(DATABASE_URL=database, LOCAL_ISSUER_PRIVATE_KEY=signing_pem, **settings),
    )
    assert result.returncode == 0, f"flask db upgrade failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def local_pem(signing_key) -> str:
    return pem(signing_key)


@pytest.fixture(scope="module")
def local_issuer(local_pem) -> LocalIssuer:
    return LocalIssuer.from_pem(local_pem, LOCAL_AUDIENCE)


@pytest.fixture
def fleet(tmp_path):
    servers = Fleet(tmp_path)
    try:
        yield servers
    finally:
        servers.close()


