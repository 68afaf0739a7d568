"""A worker's first-request costs, paid before it takes a request: gunicorn calls `warm` in each worker once the
app is built (`post_worker_init` in gunicorn.conf.py), so that a worker just started (a deploy, a restart, a
dyno added) answers its first clients as fast as its later ones.

A fresh worker's first list page took 73-120 ms where the next ones took 7-15 ms (8 requests at once on a
worker just started, 100k movies): SQLAlchemy building each statement's SQL for the first time, the first
Redis command of the rate limiter, the issuer's key set fetched, a database connection opened. `warm` runs
the reads of the busiest routes once, through the routes' own code (a list page, a page further on, each
search, a record, the 304s' reads), so each of those is built and cached before a client asks.

What it does not do: authenticate (it has no token; the routes' code is called beneath their token check and
rate limit, `inspect.unwrap`, with nothing from outside), write, or keep anything of what it read (a search
for text no title holds). It reads on one connection, so it adds none to what the worker would open anyway,
and it never stops a worker from starting: it gives up after WARM_SECONDS, and a failure (the database or
Redis not up yet) is logged and the worker starts as it would have, its first requests paying as before."""

from __future__ import annotations

import inspect
import logging
import threading
import time

from flask import Flask, request

from casting.errors import ApiError
from casting.web.ratelimit import Limiter

log = logging.getLogger(__name__)

WARM_SECONDS = 10.0
UNKNOWN_ID = 2**31 - 1  # the largest id a record can have: a read that finds nothing, or one record
NOWHERE = "qxzj"  # text that no title, name or character of a real catalogue holds: a search that matches nothing
ANY_TAG = '"warm-up"'  # an If-None-Match no answer has: the 304 check's read, then the answer's

# The reads a worker meets first, as a client sends them (path, headers).
READS = (
    ("/movies?page=1", {}),
    ("/movies?page=2", {}),
    (f"/movies?q={NOWHERE}", {}),
    (f"/movies?character={NOWHERE}", {}),
    ("/actors?page=1", {}),
    (f"/actors?q={NOWHERE}", {}),
    ("/movies?page=1", {"If-None-Match": ANY_TAG}),
    (f"/movies/{UNKNOWN_ID}", {}),
    (f"/actors/{UNKNOWN_ID}", {}),
    (f"/movies/{UNKNOWN_ID}", {"If-None-Match": ANY_TAG}),
)


def warm(app: Flask, timeout: float = WARM_SECONDS) -> bool:
    """Pay this process's first-request costs now; whether it finished within `timeout` (never raises)."""
    started = time.monotonic()
    done = threading.Event()
    outcome: dict = {"failed": []}

    def work() -> None:
        try:
            _keys(app, outcome)
            _limiter(app, outcome)
            for path, headers in READS:
                _read(app, path, headers, outcome)
        finally:
            done.set()

    # A thread of its own, so that a database that does not answer cannot hold the worker past `timeout`.
    threading.Thread(target=work, name="warm-up", daemon=True).start()
    finished = done.wait(timeout)
    took = round((time.monotonic() - started) * 1000, 1)
    if not finished:
        log.warning("warm-up still running after %g s: the worker starts without it", timeout)
    elif outcome["failed"]:
        log.warning("warm-up done in %s ms, without: %s", took, "; ".join(outcome["failed"]))
    else:
        log.info("warm-up done in %s ms", took)
    return finished


def _keys(app: Flask, outcome: dict) -> None:
    """The issuer's key set, fetched now rather than by the first token."""
    with app.app_context():
        if not app.extensions["token_verifier"].keys.prefetch():
            outcome["failed"].append("the issuer's key set")


def _limiter(app: Flask, outcome: dict) -> None:
    limiter: Limiter = app.extensions["ratelimit"]
    try:
        limiter.warm()
    except Exception as exc:  # Redis not up (yet): the limiter falls back as it does for any outage
        outcome["failed"].append(f"the rate limiter's storage ({exc})")


def _read(app: Flask, path: str, headers: dict, outcome: dict) -> None:
    """The route of `path` run as for a client, beneath its token check and rate limit; the answer dropped."""
    with app.test_request_context(path, headers=headers):
        try:
            rule = request.url_rule
            view = inspect.unwrap(app.view_functions[rule.endpoint])
            view(**request.view_args)
        except ApiError:
            pass  # a 404 of the unknown record: its read ran
        except Exception as exc:
            outcome["failed"].append(f"{path} ({type(exc).__name__}: {exc})")
