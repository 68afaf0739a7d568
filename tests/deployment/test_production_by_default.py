"""Development is opt-in: a start without settings (gunicorn, or the release phase) refuses and says what to set or how
to develop, `make run` serves development mode without APP_ENV, and a configured start without APP_ENV is in
production."""

from __future__ import annotations

import gzip
import json
import time

import pytest
import requests

from casting.tokens import roles
from tests.utils.asserters import assert_error
from tests.utils.environment import FLASK, GUNICORN
from tests.utils.gunicorn import production
from tests.utils.processes import Process, Server, free_port, server_env

READER = roles.ROLE_PERMISSIONS["casting-assistant"]
PRODUCER = roles.ROLE_PERMISSIONS["executive-producer"]





# --- development is opt-in -------------------------------------------------------------------------------


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
