"""A worker's warm-up under gunicorn (gunicorn.conf.py's post_worker_init, casting/api/warmup.py): each worker
runs it before taking a request and fetches the issuer's key set, and it never keeps a worker from starting with
the database down. tests/api/test_warmup.py: what it reads and writes."""

from __future__ import annotations

import socket
import time

from tests.utils.gunicorn import production

DONE = '"warm-up done in'


def warmed(server, workers: int, seconds: float = 60) -> str:
    """The server's output once `workers` warm-ups have ended (one worker may answer /health while another still
    warms up), or as it is after `seconds`."""
    deadline = time.monotonic() + seconds
    while (output := server.process.output()).count("warm-up done") < workers and time.monotonic() < deadline:
        time.sleep(0.1)
    return output


def test_each_worker_warms_up_before_its_first_request(fleet, database, issuer):
    fetches = issuer.fetches
    server = fleet.gunicorn("warm", WEB_CONCURRENCY="2", **production(database, issuer))
    output = warmed(server, 2)
    assert output.count(DONE) == 2, output
    assert "without:" not in output, output
    # The key set was fetched by the warm-ups, before any token came.
    assert issuer.fetches >= fetches + 2
    token = issuer.mint(["get:movies"])
    assert server.request("GET", "/movies?page=1", token).status_code == 200


def test_a_worker_starts_with_the_database_down(fleet, issuer):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: every connect is refused at once
    down = f"postgresql://nobody:nothing@127.0.0.1:{port}/none"
    server = fleet.gunicorn("warm-db-down", WEB_CONCURRENCY="1", **production(down, issuer))
    output = warmed(server, 1)
    assert "warm-up done" in output and "without: /movies?page=1" in output, output
    assert server.request("GET", "/health").status_code == 200
    assert server.request("GET", "/ready").status_code == 503
