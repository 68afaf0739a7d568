"""Slow clients against gunicorn's worker (casting/worker.py): a few slow ones do not hold up the others, and silent
or trickling connections cannot keep a thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from casting.tokens import roles
from tests.utils.gunicorn import production

READER = roles.ROLE_PERMISSIONS["casting-assistant"]
PRODUCER = roles.ROLE_PERMISSIONS["executive-producer"]



# --- slow clients ------------------------------------------------------------------------------------------


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
