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
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask_migrate import upgrade
from sqlalchemy import event, text

from app import create_app
from models import Actor, Movie, db, movie_actors

# The tests decide the configuration; nothing from the developer's shell leaks in.
APP_SETTINGS = ("DATABASE_URL", "AUTH0_DOMAIN", "API_AUDIENCE", "JWKS_URL", "TOKEN_ISSUER", "APP_ENV", "DYNO",
                "PUBLIC_READS", "CORS_ORIGINS", "LOCAL_ISSUER_PRIVATE_KEY", "REDIS_URL", "ALLOW_TEST_ISSUER",
                "AUTH0_CLIENT_ID")
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
            db.session.execute(text("TRUNCATE movie_actors, movies, actors RESTART IDENTITY CASCADE"))
        else:
            # SQLite reuses ids from max(id) + 1, so emptying the tables resets them too.
            for table in (movie_actors, Movie.__table__, Actor.__table__):
                db.session.execute(table.delete())
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
    127.0.0.1, counting the fetches. test_auth.py has a scriptable one for the fetch's failure modes."""

    PATH = "/.well-known/jwks.json"

    def __init__(self, document: dict):
        payload = json.dumps(document).encode()
        self.hits = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                if self.path != JwksEndpoint.PATH:
                    self.send_error(404)
                    return
                endpoint.hits += 1
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


def server_env(**settings: str) -> dict[str, str]:
    """os.environ without any app setting, with the virtualenv first on PATH, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED and not k.startswith(SCRUBBED_PREFIXES)}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
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


def start_gunicorn(directory: Path, name: str, **settings: str) -> Server:
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
