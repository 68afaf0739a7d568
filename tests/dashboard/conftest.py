"""Fixtures of the dashboard's tests: Chromium with this folder's patience, the app under gunicorn on the suite's
database, pages that may talk only to it, axe-core, and "someone", another person writing through the API."""

from __future__ import annotations

import os

import pytest

from tests.dashboard.pages import (
    AXE_CORE,
    SOMEONE,
    WAIT_MS,
    Browsing,
    SomeoneElse,
)
from tests.utils.environment import ROOT
from tests.utils.gunicorn import LIVE_SETTINGS, start_gunicorn
from tests.utils.tokens import pem

# --- a real server, a real browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium(chromium):
    """conftest's browser, with this folder's patience for `expect`."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    return chromium


@pytest.fixture
def server(app, gunicorn) -> str:
    """The live server's URL; the `app` fixture empties the tables after each test."""
    return gunicorn.url


@pytest.fixture
def browsing(chromium, server):
    session = Browsing(chromium, server)
    yield session
    session.close()
    assert session.outside == [], "the page tried to reach another origin"
    assert session.page_errors == [], "uncaught errors in the page"


@pytest.fixture(scope="module")
def axe() -> str | None:
    """axe-core's script (npm, pinned in package-lock.json) to run inside the page; None outside CI when
    `npm ci` has not run. CI must have it: .ci/run runs `npm ci` before the suite."""
    if AXE_CORE.exists():
        return AXE_CORE.read_text()
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs {AXE_CORE.relative_to(ROOT)}: .ci/run installs it with `npm ci`")
    return None


@pytest.fixture
def someone(headers) -> dict:
    return headers("executive-producer", sub=SOMEONE)


@pytest.fixture
def someone_api(client, someone):
    """Call the API as `someone`, as the root conftest.py's `api` calls it as the executive producer."""

    def as_someone(method: str, path: str, **kwargs):
        return client.open(path, method=method, headers={**someone, **kwargs.pop("headers", {})}, **kwargs)

    return as_someone


@pytest.fixture(scope="module")
def strict_gunicorn(_schema, database_url, signing_key, tmp_path_factory):
    server = start_gunicorn(tmp_path_factory.mktemp("gunicorn-strict"), "gunicorn-strict", DATABASE_URL=database_url,
                            LOCAL_ISSUER_PRIVATE_KEY=pem(signing_key), REQUIRE_IF_MATCH="true", **LIVE_SETTINGS)
    yield server
    server.process.stop()


@pytest.fixture
def strict(chromium, app, strict_gunicorn):
    """Pages on the REQUIRE_IF_MATCH server; the `app` fixture empties the tables after each test."""
    session = Browsing(chromium, strict_gunicorn.url)
    yield session
    session.close()
    assert session.outside == [], "the page tried to reach another origin"
    assert session.page_errors == [], "uncaught errors in the page"


@pytest.fixture
def someone_else(strict_gunicorn, issuer):
    return SomeoneElse(strict_gunicorn, issuer)
