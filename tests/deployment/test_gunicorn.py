"""gunicorn as the app runs on it (gunicorn.conf.py, casting/worker.py): what it answers by itself (HTML, as
docs/deployment.md's table says) and the forwarded headers it does not believe, kept-alive clients on two workers,
no control socket to fight over, and request bodies sent in chunks held to the 64 KiB limit."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.utils.asserters import assert_error
from tests.utils.environment import ROOT

# --- what gunicorn answers by itself ---------------------------------------------------------------------

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


def health_on(sock: socket.socket) -> int:
    """GET /health on a connection kept alive, its whole answer read (headers and body may come apart); the status."""
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = http.client.HTTPResponse(sock)
    answer.begin()
    answer.read()
    return answer.status


def test_kept_alive_clients_are_all_served_by_the_workers(fleet, development):
    """Eight clients connecting at once to two workers of four threads, each keeping its connection: every one is
    answered, the two workers hold all eight connections between them, and each connection is answered again.
    Fifteen rounds. How evenly the workers share them (casting/worker.py gives an idler worker a head start) is
    the benchmark's to measure, as /health's rate over eight kept-alive connections (bench/README.md): a test
    judges what the server did, not how evenly a busy machine let it happen."""
    server = fleet.gunicorn("spread", WEB_CONCURRENCY="2", GUNICORN_THREADS="4", **development)
    port = int(server.url.rsplit(":", 1)[1])

    def connect(clients: list[socket.socket]) -> None:
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert health_on(client) == 200
        clients.append(client)

    splits, again = [], []
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
            again.append([health_on(client) for client in clients])
        finally:
            for client in clients:
                client.close()
        time.sleep(0.2)  # the workers see the closes before the next round
    assert all(sum(split) == 8 for split in splits), splits
    assert again == [[200] * 8] * 15, again


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


# --- gunicorn's control socket ------------------------------------------------------------------------------


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



# --- request bodies sent in chunks -----------------------------------------------------------------------

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


# --- Host (issue 21) -------------------------------------------------------------------------------------------


def test_an_http_1_1_request_without_host_is_a_400(fleet, development):
    """RFC 9112, section 3.2: a server must answer 400 to an HTTP/1.1 request without a Host header (gunicorn lets
    it through, and the app answered 200). HTTP/1.0 has no Host to require."""
    server = fleet.gunicorn("host", **development)
    port = int(server.url.rsplit(":", 1)[1])
    missing = raw_exchange(port, b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert missing == (400, "application/json")
    assert raw_exchange(port, b"GET /movies HTTP/1.1\r\nConnection: close\r\n\r\n") == (400, "application/json")
    assert raw_exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == (
        200, "application/json")
    assert raw_exchange(port, b"GET /health HTTP/1.0\r\n\r\n") == (200, "application/json")
