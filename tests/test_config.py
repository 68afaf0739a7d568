"""Configuration from the environment, and the CLI's demo catalogue."""

from __future__ import annotations

import json
import re
import ssl

import pytest
import redis
from limits.storage import storage_from_string
from sqlalchemy import func, select

import config
from cli import DEMO_ACTORS, DEMO_MOVIES, seed_demo
from models import Movie, db, movie_actors
from tests.helpers import ROOT


@pytest.mark.parametrize("raw,expected", [
    ("postgres://u:p@h:5432/d", "postgresql+psycopg2://u:p@h:5432/d"),
    ("postgresql://u:p@h/d", "postgresql+psycopg2://u:p@h/d"),
    ("postgresql+psycopg2://u@h/d", "postgresql+psycopg2://u@h/d"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
])
def test_database_url_pins_psycopg2(raw, expected):
    assert config.database_url(raw, "/srv/instance") == expected


def test_default_database_is_sqlite_under_instance():
    assert config.database_url(None, "/srv/instance") == "sqlite:////srv/instance/casting.db"
    settings = config.load("/srv/instance", {"APP_ENV": "development"})
    config.resolve(settings, "/srv/instance")
    assert settings["SQLALCHEMY_DATABASE_URI"] == "sqlite:////srv/instance/casting.db"


def test_heroku_url_reaches_the_engine_as_psycopg2(make_app):
    app = make_app(SQLALCHEMY_DATABASE_URI="postgres://user:pw@127.0.0.1:5432/nowhere")
    with app.app_context():
        assert db.engine.dialect.driver == "psycopg2"


@pytest.mark.parametrize("env,production", [
    ({}, True), ({"APP_ENV": ""}, True), ({"APP_ENV": "production"}, True), ({"APP_ENV": "Production "}, True),
    ({"APP_ENV": "staging"}, True), ({"APP_ENV": "develop"}, True), ({"DYNO": "web.1"}, True),
    ({"APP_ENV": "development"}, False), ({"APP_ENV": " Development "}, False),
    ({"APP_ENV": "development", "DYNO": "web.1"}, True),
])
def test_development_is_opt_in_and_never_on_heroku(env, production):
    """Only APP_ENV=development turns the local issuer, /dev/token and open CORS on: a forgotten or
    mistyped setting means production, with its checks."""
    assert config.is_production(env) is production
    assert config.load("/srv/instance", env)["PRODUCTION"] is production


@pytest.mark.parametrize("env,missing", [
    ({}, "AUTH0_DOMAIN (your Auth0 tenant's domain) and API_AUDIENCE"),
    ({"AUTH0_DOMAIN": "t.auth0.com"}, "API_AUDIENCE (the identifier of its Auth0 API)"),
    ({"AUTH0_DOMAIN": "t.auth0.com", "API_AUDIENCE": "casting"}, "PostgreSQL, not SQLite"),
])
def test_a_production_start_without_its_settings_says_what_to_set_or_how_to_develop(env, missing):
    with pytest.raises(config.ConfigError) as refused:
        config.resolve(config.load("/srv/instance", env), "/srv/instance")
    message = str(refused.value)
    assert f"production mode needs {missing}" in message
    assert "set APP_ENV=development to run locally" in message
    assert "whenever APP_ENV is not development" in message


@pytest.mark.parametrize("env,proxies", [
    ({}, 0), ({"DYNO": "web.1"}, 1), ({"TRUSTED_PROXY_COUNT": "2"}, 2),
    ({"DYNO": "web.1", "TRUSTED_PROXY_COUNT": "0"}, 0), ({"TRUSTED_PROXY_COUNT": " "}, 0),
])
def test_trusted_proxies_are_none_unless_on_heroku_or_set(env, proxies):
    assert config.load("/srv/instance", env)["TRUSTED_PROXY_COUNT"] == proxies


@pytest.mark.parametrize("name,value", [
    ("TRUSTED_PROXY_COUNT", "-1"), ("TRUSTED_PROXY_COUNT", "one"), ("TRUSTED_PROXY_COUNT", "\u0663"),
    ("TOKEN_MAX_LIFETIME_SECONDS", "0"), ("TOKEN_MAX_LIFETIME_SECONDS", "1.5"), ("TOKEN_MAX_LIFETIME_SECONDS", "30d"),
])
def test_whole_number_settings_refuse_anything_else(name, value):
    with pytest.raises(config.ConfigError, match=name):
        config.load("/srv/instance", {name: value})


def test_tokens_live_at_most_30_days_unless_set():
    assert config.load("/srv/instance", {})["TOKEN_MAX_LIFETIME_SECONDS"] == 30 * 24 * 3600
    assert config.load("/srv/instance", {"TOKEN_MAX_LIFETIME_SECONDS": "3600"})["TOKEN_MAX_LIFETIME_SECONDS"] == 3600


@pytest.mark.parametrize("url,tls", [
    ("redis://127.0.0.1:6379/0", False),
    ("rediss://:secret@ec2-1-2-3-4.compute-1.amazonaws.com:12345", True),  # Heroku Redis: TLS, self-signed
])
def test_redis_storage_options(url, tls):
    settings = config.load("/srv/instance", {"REDIS_URL": url})
    assert settings["RATELIMIT_STORAGE_URI"] == "onetrip+" + url  # ratelimit.OneTripRedisStorage
    expected = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    if tls:
        expected["ssl_cert_reqs"] = None
    assert settings["RATELIMIT_STORAGE_OPTIONS"] == expected
    # What Flask-Limiter builds from them (no connection is opened): redis-py accepts the options, and a
    # rediss:// URL gets a TLS connection that does not verify the certificate.
    connection = storage_from_string(url, **expected).storage.connection_pool.make_connection()
    assert isinstance(connection, redis.SSLConnection) is tls
    if tls:
        assert connection.cert_reqs == ssl.CERT_NONE
    assert connection.socket_timeout == connection.socket_connect_timeout == 0.5


def test_no_redis_url_counts_in_memory_without_options():
    settings = config.load("/srv/instance", {})
    assert settings["RATELIMIT_STORAGE_URI"] == "memory://"
    assert settings["RATELIMIT_STORAGE_OPTIONS"] == {}


def test_body_limit_is_64_kib():
    assert config.load("/srv/instance", {})["MAX_CONTENT_LENGTH"] == 64 * 1024


def test_seed_loads_a_dozen_of_each_and_is_idempotent(app):
    with app.app_context():
        assert seed_demo() == (len(DEMO_MOVIES), len(DEMO_ACTORS))
        castings = db.session.scalar(select(func.count()).select_from(movie_actors))
        assert seed_demo() == (0, 0)
        assert db.session.scalar(select(func.count()).select_from(Movie)) == len(DEMO_MOVIES) >= 12
        assert db.session.scalar(select(func.count()).select_from(movie_actors)) == castings > 0


def test_seed_command(app):
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0 and "seeded 12 movies and 12 actors" in result.output
    assert "seeded 0 movies and 0 actors" in app.test_cli_runner().invoke(args=["seed"]).output


# --- the settings' documentation: setup.sh, the README's table and app.json name every one ---------------

READ_FROM_ENV = re.compile(r"""(?:(?:env|environ)(?:\.get\(|\[)|_count\(env, )["']([A-Z][A-Z0-9_]+)["']""")
# Set by Heroku or its add-ons, or only for development, tests and the benchmark: not app.json's to ask for.
NOT_FOR_APP_JSON = {"DATABASE_URL", "REDIS_URL", "PORT", "BIND_HOST", "JWKS_URL", "TOKEN_ISSUER",
                    "ALLOW_TEST_ISSUER", "LOCAL_ISSUER_PRIVATE_KEY"}


def test_every_setting_is_in_setup_sh_the_readme_and_app_json():
    read = set()
    for name in ("config.py", "gunicorn.conf.py"):
        read |= set(READ_FROM_ENV.findall((ROOT / name).read_text()))
    read -= {"DYNO"}  # Heroku's own marker
    assert {"AUTH0_DOMAIN", "DB_STATEMENT_TIMEOUT_MS", "GUNICORN_TIMEOUT", "PORT", "TRUSTED_PROXY_COUNT"} <= read

    setup = (ROOT / "setup.sh").read_text()
    in_setup = set(re.findall(r"^export ([A-Z][A-Z0-9_]+)=", setup, re.M))
    in_setup |= set(re.findall(r"^# unset ([A-Z][A-Z0-9_]+)", setup, re.M))  # documented as "leave unset"
    assert read - in_setup == set(), "setup.sh does not list these"

    table = re.search(r"^## Configuration\n(.*?)^## ", (ROOT / "README.md").read_text(), re.M | re.S).group(1)
    in_readme = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    assert read - in_readme == set(), "the README's configuration table does not list these"

    app_json = json.loads((ROOT / "app.json").read_text())
    assert read - NOT_FOR_APP_JSON - set(app_json["env"]) == set(), "app.json does not describe these"
    assert all(spec.get("description") for spec in app_json["env"].values())
    # Demo data goes into review apps only, never into an agency's real deployment.
    assert "scripts" not in app_json
    assert app_json["environments"]["review"]["scripts"]["postdeploy"] == "flask --app app seed"
