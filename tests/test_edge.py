"""The edge, against real servers on 127.0.0.1: the mode a start gets without settings, client addresses
behind proxies, slow clients, what gunicorn answers by itself, its control socket, and the issuer's key set
coming back after an outage.

Servers in production mode run on a scratch PostgreSQL database (as in test_production.py) and trust a
stand-in issuer's key set; the rate-limit test also needs Redis. Without them those tests skip, except under
CI=true, where they fail. Every wait is bounded, and every server is stopped in teardown.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

import roles
from tests.helpers import (
    PROD_AUDIENCE,
    PROD_DOMAIN,
    PROD_ISSUER,
    ROOT,
    JwksServer,
    Process,
    Server,
    assert_error,
    free_port,
    json_lines,
    migrate,
    server_env,
)

GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
FLASK = str(ROOT / ".venv" / "bin" / "flask")
READER = roles.ROLE_PERMISSIONS["casting-assistant"]
PRODUCER = roles.ROLE_PERMISSIONS["executive-producer"]


@pytest.fixture(scope="module")
def issuer(jwks):
    """The stand-in Auth0 tenant that production-mode servers here trust (tests/conftest.py's `jwks`)."""
    return jwks


@pytest.fixture(scope="module")
def database(pg, local_pem) -> str:
    created = pg.create_database()
    migrate(created, local_pem)
    return created


@pytest.fixture
def development(database_url, local_pem) -> dict[str, str]:
    """Settings of a development server on the suite's database (these tests write nothing) and test key."""
    return {"DATABASE_URL": database_url, "LOCAL_ISSUER_PRIVATE_KEY": local_pem}


def production(database: str, issuer: JwksServer, **settings: str | None) -> dict[str, str | None]:
    """A production deployment's settings with a stand-in issuer, and no APP_ENV at all: production is the
    default."""
    return {"APP_ENV": None, "DATABASE_URL": database, "AUTH0_DOMAIN": PROD_DOMAIN, "API_AUDIENCE": PROD_AUDIENCE,
            "JWKS_URL": issuer.url, "TOKEN_ISSUER": PROD_ISSUER, "ALLOW_TEST_ISSUER": "true", **settings}




# --- 1. development is opt-in -------------------------------------------------------------------------------


def test_a_start_without_settings_refuses_and_says_what_to_set_or_how_to_develop(tmp_path):
    """No APP_ENV, no Auth0, no database: gunicorn and the release phase's migration both refuse to start,
    naming the settings and development mode. Nothing listens."""
    port = free_port()
    env = server_env(APP_ENV=None, PORT=str(port), BIND_HOST="127.0.0.1")
    server = Process("bare-gunicorn", [GUNICORN, "--config", "gunicorn.conf.py", "app:create_app()"], env,
                     tmp_path / "gunicorn.log")
    try:
        assert server.wait(30) != 0
    finally:
        server.stop()
    release = Process("bare-release", [FLASK, "--app", "app", "db", "upgrade"], env, tmp_path / "release.log")
    try:
        assert release.wait(60) != 0
    finally:
        release.stop()
    for output in (server.output(), release.output()):
        assert "production mode needs AUTH0_DOMAIN (your Auth0 tenant's domain) and API_AUDIENCE" in output, output
        assert "or set APP_ENV=development to run locally with the built-in token issuer" in output, output
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=2)


def test_make_run_serves_development_mode_without_app_env(tmp_path, local_pem):
    """`make run` from a shell without APP_ENV: migrated, seeded, the local issuer on. (A database and a key of
    its own, so that the test leaves nothing in the repository's instance/.)"""
    port = free_port()
    env = server_env(APP_ENV=None, DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}", LOCAL_ISSUER_PRIVATE_KEY=local_pem)
    # -o: never reinstall from here (the suite's own run installed the requirements).
    make = Process("make-run", ["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"PORT={port}"],
                   env, tmp_path / "make-run.log")
    try:
        server = Server(make, port)
        server.wait_healthy(60)
        assert server.request("GET", "/dashboard/config.json").json()["mode"] == "local"
        token = server.request("POST", "/dev/token", json={"role": "casting-assistant"})
        assert token.status_code == 200, token.text
        movies = server.request("GET", "/movies", token.json()["access_token"])
        assert movies.status_code == 200 and movies.json()["total"] >= 12  # the demo catalogue
        assert "APP_ENV=development .venv/bin/flask --app app token casting-assistant" in make.output()
    finally:
        make.stop()


def test_without_app_env_a_configured_server_is_in_production(fleet, database, issuer):
    server = fleet.gunicorn("no-app-env", **production(database, issuer))
    health = server.request("GET", "/health", headers={"Origin": "https://elsewhere.example"})
    assert health.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Access-Control-Allow-Origin" not in health.headers  # CORS closed: no CORS_ORIGINS
    assert server.request("GET", "/dashboard/config.json").json()["mode"] == "auth0"
    assert_error(server.request("POST", "/dev/token", json={"role": "executive-producer"}), 404)
    assert server.request("GET", "/movies", issuer.mint(READER)).status_code == 200

    # Tokens: at most 30 days from iat to exp, and a subject.
    for claims, message in [({"exp": int(time.time()) + 100 * 365 * 86400},
                             "token lifetime (exp - iat) is longer than the 30 days allowed"),
                            ({"sub": ""}, "token sub claim must be a non-empty string")]:
        refused = assert_error(server.request("GET", "/movies", issuer.mint(READER, **claims)), 401)
        assert refused["message"] == message

    # Strict input, through gunicorn as a client sends it.
    producer = issuer.mint(PRODUCER)
    body = json.dumps({"title": "Edge", "release_date": "2020-01-01"})
    sent = {"Authorization": f"Bearer {producer}", "Content-Type": "application/json"}
    encoded = requests.post(server.url + "/movies", data=gzip.compress(body.encode()), timeout=10,
                            headers={**sent, "Content-Encoding": "gzip"})
    assert_error(encoded, 415)
    assert encoded.headers["Accept-Encoding"] == "identity"
    assert_error(requests.post(server.url + "/movies", data=body.encode("utf-16"), headers=sent, timeout=10),
                      400)
    twice = '{"title": "A", "title": "B", "release_date": "2020-01-01"}'
    assert_error(requests.post(server.url + "/movies", data=twice, headers=sent, timeout=10), 400)
    assert server.request("GET", "/movies", producer).json()["total"] == 0


# --- 2. client addresses --------------------------------------------------------------------------------------


def limiter_addresses(client) -> list[str]:
    """The client addresses in the rate limiter's Redis keys (`LIMITER/ip:<address>/...`)."""
    keys = [key.decode() for key in client.scan_iter(count=1000)]
    return sorted({match for key in keys for match in re.findall(r"ip:([^/]*)", key)})


def test_x_forwarded_for_counts_only_through_trusted_proxies(fleet, database, issuer, redis_url):  # noqa: F811
    url, client = redis_url
    # No proxy (the default off Heroku): rotating X-Forwarded-For buys no fresh budget, and no value of it
    # reaches Redis. Without a valid token, reads are counted per address before the token is looked at.
    direct = fleet.gunicorn("no-proxy", **production(database, issuer, REDIS_URL=url, RATE_LIMIT_READS="3/hour"))
    statuses = [direct.request("GET", "/movies", headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
                for n in range(1, 6)]
    assert statuses == [401, 401, 401, 429, 429], statuses
    made_up = direct.request("GET", "/movies", headers={"X-Forwarded-For": "a/b:c*d{e}"})
    assert_error(made_up, 429)
    assert limiter_addresses(client) == ["127.0.0.1"]

    # One proxy (as on Heroku): its entry is the client; each gets its own budget, and what a client made
    # up instead of an address counts as the proxy's own (here 127.0.0.1).
    proxied = fleet.gunicorn("one-proxy", **production(database, issuer, REDIS_URL=url, RATE_LIMIT_READS="4/hour",
                                                         TRUSTED_PROXY_COUNT="1"))
    statuses = [proxied.request("GET", "/movies", headers={"X-Forwarded-For": f"6.6.6.6, 203.0.113.{n}"}).status_code
                for n in range(1, 6)]
    assert statuses == [401] * 5, statuses
    made_up = [proxied.request("GET", "/movies", headers={"X-Forwarded-For": "a/b:c*d{e}"}).status_code
               for _ in range(5)]
    assert made_up == [401, 401, 401, 401, 429], made_up
    addresses = limiter_addresses(client)
    assert addresses == sorted(["127.0.0.1", *(f"203.0.113.{n}" for n in range(1, 6))]), addresses
    logged = {line.get("remote_addr") for line in json_lines(proxied.process.output()) if line.get("path")}
    assert logged == {"127.0.0.1", *(f"203.0.113.{n}" for n in range(1, 6))}, logged


# --- 3. slow clients ------------------------------------------------------------------------------------------


class SlowClient:
    """A connection sending `lines` one at a time, `every` seconds apart, until closed (or the server closes)."""

    def __init__(self, port: int, lines: list[bytes], every: float):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.lines = lines
        self.every = every
        self.stop = threading.Event()
        self.closed_by_server_after: float | None = None
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def _send(self) -> None:
        for line in self.lines:
            try:
                self.sock.sendall(line)
            except OSError:
                self.closed_by_server_after = time.monotonic() - self.started
                return
            if self.stop.wait(self.every):
                return

    def server_closed(self, within: float) -> bool:
        """Whether the server closed the connection within `within` seconds from now (reads what it sent)."""
        self.sock.settimeout(within)
        with contextlib.suppress(OSError):
            while self.sock.recv(4096):
                pass
            return True
        return self.closed_by_server_after is not None

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def still_open(sock: socket.socket) -> bool:
    """Whether the server has left this connection alone: neither closed it nor answered it."""
    sock.setblocking(False)
    try:
        sock.recv(1)  # b"" (closed) or an answer: either way the server dealt with it
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def slow_headers(port: int, every: float = 2.0) -> SlowClient:
    """The request head one header line at a time, never finished within a test."""
    return SlowClient(port, [b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                             *(f"X-Slow-{n}: {n}\r\n".encode() for n in range(100))], every)


def slow_body(port: int, token: str, every: float = 0.5) -> SlowClient:
    """A producer's POST whose head arrives at once and whose 200-byte body a byte at a time."""
    head = (f"POST /actors HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n").encode()
    return SlowClient(port, [head, *([b" "] * 199)], every)


def test_a_few_slow_clients_do_not_hold_up_the_others(fleet, database, issuer):
    """gunicorn as the Procfile runs it (WEB_CONCURRENCY and GUNICORN_THREADS at their defaults): three
    clients sending a header line every 2 s and one sending a valid producer's body a byte every 0.5 s are
    held open for 8 s, while /health and an authenticated list keep answering. (Held up, a request would
    wait for a slow one to finish, minutes, or to be cut after GUNICORN_TIMEOUT, 25 s: the 10 s timeout of
    each request tells them apart with room for a busy machine.)"""
    server = fleet.gunicorn("slow-clients", **production(database, issuer))
    port = int(server.url.rsplit(":", 1)[1])
    reader = issuer.mint(READER)
    slow = [slow_headers(port) for _ in range(3)] + [slow_body(port, issuer.mint(PRODUCER))]
    try:
        time.sleep(1)  # the slow ones are in, each holding what it holds
        answered, deadline = 0, time.monotonic() + 8
        while answered < 10 or time.monotonic() < deadline:
            for path, token in (("/health", None), ("/movies", reader)):
                response = server.request("GET", path, token, timeout=10)
                assert response.status_code == 200, (path, response.status_code, response.text[:200])
                answered += 1
            time.sleep(0.2)
        assert all(client.closed_by_server_after is None for client in slow), "a slow client was let go early"
    finally:
        for client in slow:
            client.close()
    assert server.request("GET", "/movies", reader).json()["total"] == 0  # the slow body never became a write


def test_silent_and_trickling_clients_cannot_keep_a_thread(fleet, development):
    """One worker with one thread and GUNICORN_TIMEOUT=2: connections that send nothing take no thread, and
    one that trickles its head is cut off after the timeout, so /health is answered again."""
    server = fleet.gunicorn("one-thread", WEB_CONCURRENCY="1", GUNICORN_THREADS="1", GUNICORN_TIMEOUT="2",
                            **development)
    port = int(server.url.rsplit(":", 1)[1])
    silent = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(5)]
    try:
        time.sleep(0.5)
        assert server.request("GET", "/health", timeout=10).status_code == 200
        # Had one of them held the only thread, /health would have waited for it to be cut off (after 2 s):
        # answered while all five are still open, none did.
        assert [still_open(sock) for sock in silent] == [True] * 5, "a silent connection held the only thread"
    finally:
        for sock in silent:
            sock.close()

    trickling = slow_headers(port, every=0.5)
    try:
        time.sleep(0.5)  # it holds the only thread now
        # Answered once the trickling request is cut off after 2 s (never, were it not).
        assert server.request("GET", "/health", timeout=10).status_code == 200
        assert trickling.server_closed(within=5), "the trickling connection was never cut off"
    finally:
        trickling.close()
    assert "its request took more than 2 s" in server.process.output()


# --- 4. what gunicorn answers by itself ---------------------------------------------------------------------

DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"
# (what is wrong, the raw request, gunicorn's status): answered by gunicorn in HTML before the app sees them.
GUNICORN_ANSWERS = [
    ("a request line that is not `METHOD /path HTTP/1.x`", b"GARBAGE\r\n\r\n", 400),
    ("an HTTP version other than 1.0 and 1.1", b"GET /health HTTP/2.5\r\nHost: x\r\n\r\n", 400),
    ("a NUL or a space in the path", b"GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("lines ended by LF alone", b"GET /health HTTP/1.1\nHost: x\n\n", 400),
    ("a header line without a colon, or with a space before it", b"GET /health HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ("a control character in a header value", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400),
    ("a folded header line (obs-fold)", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400),
    ("two Host or two Content-Length headers", b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("a Content-Length that is not a number", b"POST /actors HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
    ("both Content-Length and Transfer-Encoding",
     b"POST /actors HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("a Transfer-Encoding that does not end in chunked",
     b"POST /actors HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    ("a request line over 4094 bytes", b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("a header line over 32 KiB", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n", 431),
    ("more than 100 header lines",
     b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % n for n in range(120)) + b"\r\n", 431),
]


def raw_exchange(port: int, request: bytes) -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(OSError):  # gunicorn may answer and close before reading all of it
            sock.sendall(request)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status = int(head.split(" ", 2)[1])
    content_type = re.search(r"(?im)^content-type:\s*(.+?)\s*$", head)
    return status, content_type.group(1) if content_type else ""


def documented_gunicorn_answers() -> list[tuple[str, int]]:
    """The rows of docs/deployment.md's table of what gunicorn answers itself."""
    section = DEPLOYMENT_DOC.read_text().split("## What gunicorn answers itself", 1)[1].split("\n## ", 1)[0]
    return [(what.strip(), int(status)) for what, status in
            re.findall(r"^\| (.+?) \| (\d{3}) [^|]*\|$", section, re.M)]


def connections_per_worker(master_pid: int, port: int) -> list[int]:
    """How many established connections to `port` each worker of a gunicorn master holds (Linux's /proc: the
    sockets each worker has open, matched with the established ones of /proc/net/tcp)."""
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "01":
            established.add(fields[9])
    counts = []
    for worker in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split():
        sockets = set()
        for fd in Path(f"/proc/{worker}/fd").iterdir():
            with contextlib.suppress(OSError):
                if (link := os.readlink(fd)).startswith("socket:["):
                    sockets.add(link[len("socket:["):-1])
        counts.append(len(sockets & established))
    return sorted(counts)


def test_kept_alive_clients_spread_over_the_workers(fleet, development):
    """Eight clients connecting at once to two workers of four threads, each keeping its connection: the
    workers share them (four and four, at worst five and three), where whichever worker woke first used to
    take most of them (six, seven or all eight), leaving one worker to serve them. Fifteen rounds."""
    server = fleet.gunicorn("spread", WEB_CONCURRENCY="2", GUNICORN_THREADS="4", **development)
    port = int(server.url.rsplit(":", 1)[1])
    def connect(clients: list[socket.socket]) -> None:
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        client.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert client.recv(4096).startswith(b"HTTP/1.1 200")
        clients.append(client)

    splits = []
    time.sleep(1)  # /health answered by one worker: the other may still be loading the app
    for _ in range(15):
        clients: list[socket.socket] = []
        threads = [threading.Thread(target=connect, args=(clients,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=15)
        try:
            assert len(clients) == 8
            splits.append(connections_per_worker(server.process.pid, port))
        finally:
            for client in clients:
                client.close()
        time.sleep(0.2)  # the workers see the closes before the next round
    assert all(sum(split) == 8 for split in splits), splits
    # Spread evenly most of the time (four and four in about one round in four before), never worse than 5-3.
    assert all(split[0] >= 3 for split in splits) and splits.count([4, 4]) >= 8, splits


def test_gunicorn_answers_malformed_requests_itself_in_html_as_documented(fleet, development):
    server = fleet.gunicorn("malformed", **development)
    port = int(server.url.rsplit(":", 1)[1])
    for what, request, expected in GUNICORN_ANSWERS:
        status, content_type = raw_exchange(port, request)
        assert (status, content_type) == (expected, "text/html"), what
    assert documented_gunicorn_answers() == [(what, status) for what, _, status in GUNICORN_ANSWERS]
    assert "(docs/deployment.md)" in (ROOT / "README.md").read_text(), "the README links the table"
    # Anything gunicorn lets through is the app's: JSON, as every error of the API.
    status, content_type = raw_exchange(port, b"TRACE /health HTTP/1.1\r\nHost: x\r\nX_Under: 1\r\n\r\n")
    assert (status, content_type) == (405, "application/json")


def test_gunicorn_believes_no_forwarded_scheme_header_by_itself(fleet, development):
    """gunicorn's default trusts X-Forwarded-Proto from 127.0.0.1 (and answers contradicting scheme headers
    with an HTML 400): here the app alone decides, through TRUSTED_PROXY_COUNT."""
    server = fleet.gunicorn("scheme", **development)
    port = int(server.url.rsplit(":", 1)[1])
    status, content_type = raw_exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: http\r\n"
                                              b"X-Forwarded-Ssl: on\r\nConnection: close\r\n\r\n")
    assert (status, content_type) == (200, "application/json")


# --- 5. gunicorn's control socket ------------------------------------------------------------------------------


def test_instances_side_by_side_have_no_control_socket_to_fight_over(fleet, tmp_path, development):
    """gunicorn 27 would put one per user at $XDG_RUNTIME_DIR/gunicorn.ctl (or ~/.gunicorn/gunicorn.ctl)."""
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir()
    first = fleet.gunicorn("instance-a", HOME=str(home), XDG_RUNTIME_DIR=str(runtime), **development)
    second = fleet.gunicorn("instance-b", HOME=str(home), XDG_RUNTIME_DIR=str(runtime), **development)
    assert [path for path in tmp_path.rglob("*") if path.name.endswith(".ctl") or path.is_socket()] == []
    for server in (first, second):
        assert server.request("GET", "/health").status_code == 200
        assert "control socket" not in server.process.output().lower()


# --- 6. the key set after an outage of the issuer ----------------------------------------------------------


def test_a_recovered_issuer_is_used_again_within_seconds(fleet, database):
    """The issuer's key set is down when the first token comes (503), then back: the same worker uses it
    again within seconds, not after the 30 s cool-down."""
    issuer = JwksServer.tenant()
    try:
        issuer.status = 503  # the issuer is down
        server = fleet.gunicorn("issuer-outage", WEB_CONCURRENCY="1", **production(database, issuer))
        token = issuer.mint(READER)
        assert_error(server.request("GET", "/movies", token), 503)
        issuer.status = 200
        # Retried 0.5 s after the failure: well within 20 s even on a busy machine, where the cool-down
        # would make it 30 s.
        recovered_at, started = None, time.monotonic()
        while time.monotonic() - started < 20:
            if server.request("GET", "/movies", token).status_code == 200:
                recovered_at = time.monotonic() - started
                break
            time.sleep(0.1)
        assert recovered_at is not None, "not used again within 20 s"
    finally:
        issuer.stop()



# --- 7. request bodies sent in chunks -----------------------------------------------------------------------

LIMIT = 64 * 1024


def in_chunks(body: bytes, size: int = 4096):
    """A generator body: requests sends it with Transfer-Encoding: chunked and no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


@pytest.mark.parametrize("size,status", [(LIMIT, 201), (LIMIT + 1, 413), (80_000, 413)],
                         ids=["64KiB", "64KiB+1", "80000B"])
def test_a_chunked_body_is_taken_up_to_the_limit_and_refused_one_byte_past_it(app, gunicorn, local_issuer, size,
                                                                               status):
    """gunicorn hands the app a chunked body without a Content-Length: read to one byte past the limit, it is
    a 413 there, where a body cut at the limit would still be a valid movie (trailing spaces are JSON)."""
    body = json.dumps({"title": f"Chunked {size}", "release_date": "2020-01-01"}).encode()
    body += b" " * (size - len(body))
    producer = local_issuer.mint("executive-producer")
    response = requests.post(gunicorn.url + "/movies", data=in_chunks(body), timeout=30, headers={
        "Authorization": f"Bearer {producer}", "Content-Type": "application/json"})
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in response.request.headers
    listed = gunicorn.request("GET", "/movies", producer).json()
    if status == 201:
        assert response.status_code == 201, response.text
        assert response.json()["movie"]["title"] == f"Chunked {size}"
        assert [movie["title"] for movie in listed["movies"]] == [f"Chunked {size}"]
    else:
        assert_error(response, 413)
        assert listed["total"] == 0
