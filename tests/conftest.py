"""Fixtures of the tests that start real things: gunicorn servers, Chromium, scratch PostgreSQL databases,
Redis, and a stand-in for an Auth0 tenant's key set. The app in process is the root conftest.py's.

When a test fails, its report ends with the last lines of the log of every server that wrote to it while the test
ran (tests.utils.processes.LogFile); nothing of them is printed for a test that passes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from casting import config
from casting.tokens.local_issuer import LOCAL_AUDIENCE, LocalIssuer
from tests.utils.browser import CHROMIUM, CHROMIUM_ARGS
from tests.utils.environment import unavailable
from tests.utils.gunicorn import LIVE_SETTINGS, Fleet, start_gunicorn
from tests.utils.jwks_server import JwksServer
from tests.utils.postgres import FALLBACK_ADMIN_URL, PostgresAdmin
from tests.utils.processes import REPORT_LINES, LogFile
from tests.utils.tokens import pem


def redis_db() -> int:
    """The Redis database of this run's process: 7, or under pytest-xdist 7 plus the worker's number, within 7..15.
    A flock (`exclusive`) keeps any two users of one database apart, across workers and across runs."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    number = int(worker[2:]) if worker[:2] == "gw" and worker[2:].isdigit() else 0
    return 7 + number % 9


REDIS_DB = redis_db()
TEST_STARTED = pytest.StashKey[tuple[float, float]]()
LOGS_SHOWN = pytest.StashKey[set]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    now = time.monotonic()
    item.stash[TEST_STARTED] = now, time.time()
    LogFile.forget_closed_before(now)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report (setup, call or teardown) gets the last lines of each log written while it ran."""
    report = yield
    if report.failed:
        shown = item.stash.setdefault(LOGS_SHOWN, set())
        started, started_at = item.stash.get(TEST_STARTED, (0.0, 0.0))
        for log in LogFile.open_during(started, time.monotonic()):
            if log.path not in shown and log.written_since(started_at):
                shown.add(log.path)
                report.sections.append((f"{log.name}: the last {REPORT_LINES} lines of {log.path}", log.last_lines()))
    return report


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium under Playwright, one per test process (each pytest-xdist worker), started by the first
    test that asks for it; CI must have it (.ci/run installs it)."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Debian's chromium (.ci/run installs it)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def gunicorn(_schema, database_url, signing_key, tmp_path_factory):
    """The app under gunicorn on the suite's database (the schema it migrated), trusting the suite's
    local-issuer key; one server per test process (each pytest-xdist worker), started by the first test that asks
    for it. The `app` fixture empties the tables after each test."""
    server = start_gunicorn(tmp_path_factory.mktemp("gunicorn"), "gunicorn", DATABASE_URL=database_url,
                            LOCAL_ISSUER_PRIVATE_KEY=pem(signing_key), **LIVE_SETTINGS)
    yield server
    server.process.stop()


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


@contextlib.contextmanager
def exclusive(path: Path, seconds: float):
    """An flock held for the block: two runs of this file on one machine must not FLUSHDB each other's Redis."""
    with open(path, "a") as handle:
        deadline = time.monotonic() + seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another test run held {path} for over {seconds} s")
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def redis_url():
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        unavailable(f"Redis at 127.0.0.1:6379 is unreachable: {exc}")
    try:
        with exclusive(Path(tempfile.gettempdir()) / f"casting-agency-tests-redis-{REDIS_DB}.lock", 120):
            client.flushdb()
            try:
                yield f"redis://127.0.0.1:6379/{REDIS_DB}", client
            finally:
                client.flushdb()
    finally:
        client.close()


@pytest.fixture(scope="module")
def jwks():
    """An Auth0 tenant's stand-in: its key set on 127.0.0.1 and tokens signed with its key."""
    server = JwksServer.tenant()
    try:
        yield server
    finally:
        server.stop()
