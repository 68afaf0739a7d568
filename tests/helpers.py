"""What the tests share: paths, the settings they scrub, keys and a stand-in Auth0 key set, builders and
asserters, real processes and servers on 127.0.0.1, and scratch PostgreSQL databases. Fixtures live in the
conftest.py files (the root one: the app in process; tests/conftest.py: servers and browsers)."""

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

import config
from models import Actor, Movie, db, movie_actors

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
GUNICORN = str(VENV_BIN / "gunicorn")
FLASK = str(VENV_BIN / "flask")
ON_CI = os.environ.get("CI") == "true"
ROLES = ["casting-assistant", "casting-director", "executive-producer"]

# The tests decide the configuration; nothing from the developer's shell leaks in (conftest.py pops these).
APP_SETTINGS = ("DATABASE_URL", "AUTH0_DOMAIN", "API_AUDIENCE", "JWKS_URL", "TOKEN_ISSUER", "APP_ENV", "DYNO",
                "PUBLIC_READS", "CORS_ORIGINS", "LOCAL_ISSUER_PRIVATE_KEY", "REDIS_URL", "ALLOW_TEST_ISSUER",
                "AUTH0_CLIENT_ID", "TRUSTED_PROXY_COUNT", "TOKEN_MAX_LIFETIME_SECONDS", "FORWARDED_ALLOW_IPS")

PROD_DOMAIN = "issuer.test"
PROD_ISSUER = f"https://{PROD_DOMAIN}/"
PROD_AUDIENCE = "https://casting-agency.test/api"


def unavailable(reason: str):
    """Skip locally, fail under CI: what CI must run may not be skipped there."""
    if ON_CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


# --- keys, and a stand-in for Auth0's key set ------------------------------------------------------------------


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


JWKS_PATH = "/.well-known/jwks.json"


def jwks_document(keys: dict[str, rsa.RSAPrivateKey]) -> dict:
    return {"keys": [{**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "RS256", "use": "sig"}
                     for kid, key in keys.items()]}


class JwksServer:
    """A stand-in for an issuer's key set: a real HTTP server on 127.0.0.1 serving `/.well-known/jwks.json`
    as Auth0 does, counting the fetches. What it serves is the test's: the JWKS of `keys` (or a fixed
    `document`), or a status, a body, a redirect, bytes dripped one at a time. `tenant()` is an Auth0
    tenant's: one signing key, and `mint()` signs tokens with it."""

    def __init__(self, port: int = 0, *, document: dict | None = None):
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fixed_document = document
        self.status = 200
        self.body: bytes | None = None  # None: serve the JWKS of self.keys
        self.location: str | None = None  # a Location header (with status 302, a redirect)
        self.content_length = True  # False: no Content-Length, the body ends when the connection closes
        self.drip: float | None = None  # send the body one byte every `drip` seconds
        self.drip_headers = False  # drip the status line and headers too
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server dispatches to
                if self.path != JWKS_PATH:
                    self.send_error(404)
                    return
                server.fetches += 1
                body = server.body if server.body is not None else json.dumps(server.document()).encode()
                if server.drip_headers:
                    head = (f"HTTP/1.0 {server.status} OK\r\nContent-Type: application/json\r\n"
                            f"Content-Length: {len(body)}\r\n\r\n").encode()
                    server.trickle(self.wfile, head + body)
                    return
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                if server.content_length:
                    self.send_header("Content-Length", str(len(body)))
                if server.location:
                    self.send_header("Location", server.location)
                self.end_headers()
                if server.drip:
                    server.trickle(self.wfile, body)
                else:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{JWKS_PATH}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.running = True

    @classmethod
    def tenant(cls) -> JwksServer:
        server = cls()
        server.kid = f"test-{uuid.uuid4().hex[:8]}"
        server.key = server.keys[server.kid] = new_rsa_key()
        return server

    def mint(self, permissions: list[str], issuer: str = PROD_ISSUER, audience: str = PROD_AUDIENCE,
             **claims) -> str:
        """A token of the tenant (`tenant()`), valid for 10 minutes, for a new subject."""
        now = int(time.time())
        payload = {"iss": issuer, "aud": audience, "sub": f"auth0|{uuid.uuid4().hex}", "iat": now,
                   "exp": now + 600, "permissions": permissions, **claims}
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": self.kid})

    def document(self) -> dict:
        return self.fixed_document if self.fixed_document is not None else jwks_document(self.keys)

    def trickle(self, out, data: bytes) -> None:
        """Send `data` a byte at a time, until it is all sent, the client hangs up or the server stops."""
        for i in range(len(data)):
            if not self.running:
                return
            try:
                out.write(data[i:i + 1])
            except OSError:
                return
            time.sleep(self.drip)

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=5)


# --- builders and asserters ------------------------------------------------------------------------------------


def new_movie(api, title="Raids of the Ice", release_date="2017-04-29", **extra) -> dict:
    response = api("POST", "/movies", json={"title": title, "release_date": release_date, **extra})
    assert response.status_code == 201, response.json
    return response.json["movie"]


def new_actor(api, name="Chris Pine", age=45, gender="male", **extra) -> dict:
    response = api("POST", "/actors", json={"name": name, "age": age, "gender": gender, **extra})
    assert response.status_code == 201, response.json
    return response.json["actor"]


def assert_error(response, status: int, field: str | None = None) -> dict:
    """The one error shape, from Flask's test client or from requests: the status, JSON, `success` false,
    `error` the status, a message, and `field` in `details` when given. Returns the body."""
    body_text = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
    assert response.status_code == status, (response.status_code, body_text[:500])
    assert response.headers.get("Content-Type", "").startswith("application/json"), (response.headers, body_text[:300])
    body = json.loads(body_text)
    assert body["success"] is False and body["error"] == status, body
    assert isinstance(body["message"], str) and body["message"], body
    if field is not None:
        assert field in body["details"], body
    return body


def row_counts(app) -> tuple[int, int, int]:
    """(movies, actors, castings) in the database, read outside any request."""
    with app.app_context():
        counts = tuple(
            db.session.scalar(select(func.count()).select_from(table))
            for table in (Movie.__table__, Actor.__table__, movie_actors)
        )
        db.session.remove()
    return counts


def etag_of(response) -> str:
    etag = response.headers.get("ETag")
    assert etag and etag.startswith('"') and etag.endswith('"') and len(etag) > 10, etag
    return etag


def actor_body(name: str) -> dict:
    return {"name": name, "age": 40, "gender": "female"}


def retry_after(response) -> int:
    value = response.headers.get("Retry-After")
    assert value is not None, f"no Retry-After on {response.status_code}: {dict(response.headers)}"
    assert value.isdigit() and int(value) >= 1, value
    return int(value)


# --- real processes and servers on 127.0.0.1 -------------------------------------------------------------------

STARTUP_SECONDS = 20
STOP_SECONDS = 25
# Settings of the servers that come only from each test, never from the shell running the suite.
SCRUBBED = {*APP_SETTINGS, "TEST_DATABASE_URL", "PORT", "BIND_HOST", "WEB_CONCURRENCY", "LOG_LEVEL", "PROCFILE"}
SCRUBBED_PREFIXES = ("RATE_LIMIT_", "JWKS_", "DB_", "GUNICORN", "FLASK_")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


# Debian's chromium package (.ci/run installs it): Playwright drives it, and its own browser download is not used.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


# What the browser and client tests' servers run with: no rate limits, room for a page's parallel requests.
LIVE_SETTINGS = {"RATE_LIMIT_DISABLED": "true", "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"}


# --- scratch PostgreSQL databases and fleets of gunicorn servers (test_production.py, test_concurrency.py) ---------

FALLBACK_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"




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


def migrate(database: str, signing_pem: str, revision: str = "head", **settings: str) -> None:
    result = subprocess.run(
        [FLASK, "--app", "app", "db", "upgrade", revision], cwd=ROOT, capture_output=True, text=True, timeout=90,
        env=server_env(DATABASE_URL=database, LOCAL_ISSUER_PRIVATE_KEY=signing_pem, **settings),
    )
    assert result.returncode == 0, f"flask db upgrade failed:\n{result.stdout}\n{result.stderr}"


