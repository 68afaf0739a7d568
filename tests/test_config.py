"""Configuration (casting/config.py): settings from the environment, development and production modes and what
production refuses (among them a key set or issuer moved away from AUTH0_DOMAIN), the database engine's timeouts, and
the settings' table against the code and the files written from it (setup.sh, app.json, docs/configuration.md)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import runpy
import ssl
import subprocess
import sys

import pytest
import redis
from limits.storage import storage_from_string
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app import create_app
from casting import config
from models import db
from tests.utils.apps import production
from tests.utils.environment import AUTH_ENV, ROOT
from tests.utils.tokens import pem


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
    ("DB_CONNECT_TIMEOUT_SECONDS", "0"), ("DB_CONNECT_TIMEOUT_SECONDS", "2s"), ("DB_STATEMENT_TIMEOUT_MS", "-5"),
])
def test_whole_number_settings_refuse_anything_else(name, value):
    with pytest.raises(config.ConfigError, match=name):
        config.load("/srv/instance", {name: value})


@pytest.mark.parametrize("name", ["JWKS_TTL_SECONDS", "JWKS_COOLDOWN_SECONDS", "JWKS_TIMEOUT_SECONDS"])
@pytest.mark.parametrize("value", ["ten", "0", "-1", "inf", "nan"])
def test_durations_refuse_what_is_not_a_positive_number_of_seconds(name, value):
    with pytest.raises(config.ConfigError, match=f"{name} must be a positive number of seconds"):
        config.load("/srv/instance", {name: value})


def test_durations_take_fractions_and_a_statement_timeout_may_be_off():
    settings = config.load("/srv/instance", {"JWKS_TIMEOUT_SECONDS": "0.5", "DB_STATEMENT_TIMEOUT_MS": "0"})
    assert (settings["JWKS_TIMEOUT_SECONDS"], settings["DB_STATEMENT_TIMEOUT_MS"]) == (0.5, 0)


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
    # What the limits library builds from them (no connection is opened): redis-py accepts the options, and a
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



@pytest.mark.parametrize("overrides,missing", [
    ({"AUTH0_DOMAIN": None}, "AUTH0_DOMAIN"), ({"API_AUDIENCE": None}, "API_AUDIENCE"),
    ({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.db"}, "SQLite"),
])
def test_production_refuses_unsafe_settings(make_app, overrides, missing):
    with pytest.raises(config.ConfigError, match=missing):
        production(make_app, **overrides)


def test_engine_options_are_short_timeouts_without_a_ping_per_checkout():
    options = config.engine_options("postgresql+psycopg2://x", 2, 5000)
    assert "pool_pre_ping" not in options  # transactions.py pings idle connections only
    assert options["connect_args"]["connect_timeout"] == 2
    assert "statement_timeout=5000" in options["connect_args"]["options"]


def test_postgresql_connections_really_carry_the_timeouts(make_app, database_url):
    """On a real connection: the statement timeout cancels a long statement, and libpq took the TCP settings."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's settings (the suite runs on PostgreSQL in CI)")
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS=config.engine_options(database_url, 2, 300))
    with app.app_context():
        assert db.session.scalar(text("SHOW statement_timeout")) == "300ms"
        with pytest.raises(OperationalError, match="statement timeout"):
            db.session.execute(text("SELECT pg_sleep(2)"))
        db.session.rollback()
        connection = db.engine.raw_connection()
        try:
            dsn = connection.driver_connection.get_dsn_parameters()
        finally:
            connection.close()
        db.engine.dispose()
    assert {key: dsn.get(key) for key in ("tcp_user_timeout", "keepalives", "keepalives_idle")} == {
        "tcp_user_timeout": "2000", "keepalives": "1", "keepalives_idle": "10"}


# --- the production guard of the token settings ----------------------------------------------



@pytest.mark.parametrize("overrides,missing", [
    ({}, "set AUTH0_DOMAIN and API_AUDIENCE"),
    ({"AUTH0_DOMAIN": "casting.eu.auth0.com"}, "set API_AUDIENCE ("),
    ({"API_AUDIENCE": "https://casting-api"}, "set AUTH0_DOMAIN ("),
])
def test_production_without_auth0_refuses_to_start(make_app, overrides, missing):
    with pytest.raises(config.ConfigError, match=re.escape(missing)):
        make_app(PRODUCTION=True, **overrides)


@pytest.mark.parametrize("name,value", [("APP_ENV", "production"), ("DYNO", "web.1")])
def test_production_from_the_environment_refuses_the_local_issuer(monkeypatch, signing_key, database_url, name,
                                                                    value):
    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match="AUTH0_DOMAIN and API_AUDIENCE"):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                    "LOCAL_ISSUER_PRIVATE_KEY": pem(signing_key)})


def test_production_with_auth0_settings_starts_without_a_local_issuer(make_app, built_apps):
    """The guard is not a blanket refusal: a complete production configuration builds."""
    built = make_app(PRODUCTION=True, AUTH0_DOMAIN="casting.eu.auth0.com", API_AUDIENCE="https://casting-api",
                     JWKS_URL="https://casting.eu.auth0.com/.well-known/jwks.json",
                     TOKEN_ISSUER="https://casting.eu.auth0.com/",
                     SQLALCHEMY_DATABASE_URI="postgresql://nobody@127.0.0.1:1/nowhere")
    built_apps.append(built)
    assert built.extensions["local_issuer"] is None
    assert built.extensions["token_verifier"].issuer == "https://casting.eu.auth0.com/"


AUTH0_ENV = {"AUTH0_DOMAIN": "casting.eu.auth0.com", "API_AUDIENCE": "https://casting-api",
             "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere"}


@pytest.mark.parametrize("name,value", [
    ("JWKS_URL", "http://127.0.0.1:8080/.well-known/jwks.json"),
    ("JWKS_URL", "https://evil.example/.well-known/jwks.json"),
    ("TOKEN_ISSUER", "https://evil.example/"),
    ("TOKEN_ISSUER", "https://casting.eu.auth0.com"),  # Auth0's iss ends with a slash
])
@pytest.mark.parametrize("production", [{"APP_ENV": "production"}, {"DYNO": "web.1"}], ids=["APP_ENV", "DYNO"])
@pytest.mark.parametrize("opt_in", [None, "", "false"], ids=["unset", "empty", "false"])
def test_production_refuses_a_key_set_or_issuer_moved_from_auth0_domain(name, value, production, opt_in):
    env = {**AUTH0_ENV, **production, name: value}
    if opt_in is not None:
        env["ALLOW_TEST_ISSUER"] = opt_in
    with pytest.raises(config.ConfigError, match=rf"production .* needs {name} unset or .*{re.escape(repr(value))}"):
        config.resolve(config.load("/srv/instance", env), "/srv/instance")


@pytest.mark.parametrize("overrides", [
    {},
    {"JWKS_URL": "", "TOKEN_ISSUER": ""},  # setup.sh's empty placeholders
    {"JWKS_URL": "https://casting.eu.auth0.com/.well-known/jwks.json", "TOKEN_ISSUER": "https://casting.eu.auth0.com/"},
], ids=["unset", "empty", "the-derived-values"])
def test_production_accepts_the_key_set_and_issuer_of_auth0_domain(overrides):
    """Unset, empty (setup.sh's placeholders) or written out as derived, the key set and the issuer are AUTH0_DOMAIN's:
    production starts with them, without the opt-in a stand-in issuer needs."""
    settings = config.load("/srv/instance", {**AUTH0_ENV, "APP_ENV": "production", **overrides})
    config.resolve(settings, "/srv/instance")  # a refusal would raise ConfigError
    assert settings["PRODUCTION"] is True and settings["ALLOW_TEST_ISSUER"] is False
    assert (settings["JWKS_URL"], settings["TOKEN_ISSUER"]) == (
        "https://casting.eu.auth0.com/.well-known/jwks.json", "https://casting.eu.auth0.com/")


def test_production_trusts_a_stand_in_issuer_only_with_allow_test_issuer(monkeypatch, built_apps):
    """What bench/run.py and the production-mode tests do: the whole app refuses, then starts with the opt-in."""
    for name in AUTH_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**AUTH0_ENV, "APP_ENV": "production", "JWKS_URL": "http://127.0.0.1:9/.well-known/jwks.json",
                        "TOKEN_ISSUER": "https://stand-in.test/"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ALLOW_TEST_ISSUER", raising=False)
    both = r"needs JWKS_URL unset or .* and TOKEN_ISSUER unset or .*ALLOW_TEST_ISSUER=true"
    with pytest.raises(config.ConfigError, match=both):
        create_app({"TESTING": True})

    monkeypatch.setenv("ALLOW_TEST_ISSUER", "true")
    built = create_app({"TESTING": True})
    built_apps.append(built)
    assert built.config["PRODUCTION"] is True
    assert built.extensions["token_verifier"].issuer == "https://stand-in.test/"


# --- the settings: one table (config.SETTINGS); the code reads no other, and every file about them is written ---
# --- from it (docs/configuration.md's table, setup.sh, app.json's "env": scripts/settings.py) -------------------

def load_settings_script():
    spec = importlib.util.spec_from_file_location("settings_script", ROOT / "scripts" / "settings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Recording(dict):
    """An environment that notes every variable asked for, whichever way."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


def gunicorn_settings(monkeypatch, env: dict[str, str]) -> tuple[dict, set[str]]:
    """gunicorn.conf.py's module-level settings under `env`, and the variables it asked for."""
    recording = Recording(env)
    monkeypatch.setattr(os, "environ", recording)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py")), recording.asked


# The ways casting/config.py and gunicorn.conf.py read a variable; the test below also records what they really ask.
READ_FROM_ENV = re.compile(r"""(?:(?:env|environ)(?:\.get\(|\[)|(?:setting|_optional)\(|(?:_count|_seconds)\(env, )"""
                           r"""["']([A-Z][A-Z0-9_]+)["']|["']([A-Z][A-Z0-9_]+)["'] in (?:os\.environ|env)\b""")


def test_every_variable_the_code_reads_is_in_the_table_and_every_one_there_is_read(monkeypatch):
    written = set()
    for name in ("casting/config.py", "gunicorn.conf.py"):
        for groups in READ_FROM_ENV.findall((ROOT / name).read_text()):
            written |= {group for group in groups if group}
    assert {"AUTH0_DOMAIN", "DB_STATEMENT_TIMEOUT_MS", "DYNO", "GUNICORN_TIMEOUT", "PORT"} <= written
    assert written - set(config.SETTINGS) == set(), "read by the code but not in config.SETTINGS"

    recording = Recording()
    config.load("/srv/instance", recording)
    _, asked_by_gunicorn = gunicorn_settings(monkeypatch, {})
    asked = recording.asked | asked_by_gunicorn
    assert asked - set(config.SETTINGS) == set(), "asked for at run time but not in config.SETTINGS"
    assert set(config.SETTINGS) - asked == set(), "in config.SETTINGS but read by nothing"


def test_load_and_gunicorn_take_their_defaults_from_the_table(monkeypatch):
    settings = config.load("/srv/instance", {})
    for name, key in [("JWKS_TTL_SECONDS", "JWKS_TTL_SECONDS"), ("JWKS_TIMEOUT_SECONDS", "JWKS_TIMEOUT_SECONDS")]:
        assert settings[key] == float(config.SETTINGS[name].default)
    assert settings["RATE_LIMIT_READS"] == config.SETTINGS["RATE_LIMIT_READS"].default == "300/minute"
    assert settings["DB_STATEMENT_TIMEOUT_MS"] == int(config.SETTINGS["DB_STATEMENT_TIMEOUT_MS"].default)

    # Another default in the table is another default for the app and for gunicorn.
    for name, value in [("RATE_LIMIT_WRITES", "7/minute"), ("JWKS_COOLDOWN_SECONDS", "4"), ("PORT", "5999"),
                        ("GUNICORN_THREADS", "3"), ("LOG_LEVEL", "warning")]:
        monkeypatch.setitem(config.SETTINGS, name, dataclasses.replace(config.SETTINGS[name], default=value))
    settings = config.load("/srv/instance", {})
    assert (settings["RATE_LIMIT_WRITES"], settings["JWKS_COOLDOWN_SECONDS"]) == ("7/minute", 4.0)
    gunicorn, _ = gunicorn_settings(monkeypatch, {})
    assert (gunicorn["bind"], gunicorn["threads"], gunicorn["loglevel"]) == ("127.0.0.1:5999", 3, "warning")


def test_gunicorn_listens_where_make_run_does_unless_told(monkeypatch):
    """One default port: 5000 for `make run` and gunicorn alike; Heroku's PORT and DYNO move it."""
    makefile_port = re.search(r"^PORT\s*\?=\s*(\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert makefile_port == config.SETTINGS["PORT"].default == "5000"
    assert gunicorn_settings(monkeypatch, {})[0]["bind"] == "127.0.0.1:5000"
    assert gunicorn_settings(monkeypatch, {"DYNO": "web.1", "PORT": "31337"})[0]["bind"] == "0.0.0.0:31337"
    assert gunicorn_settings(monkeypatch, {"PORT": " ", "BIND_HOST": ""})[0]["bind"] == "127.0.0.1:5000"


def test_a_blank_variable_means_its_default():
    blank = {name: " " for name in config.SETTINGS if name != "DYNO"}
    assert config.load("/srv/instance", blank) == config.load("/srv/instance", {})


def test_the_files_about_the_settings_are_what_the_table_makes():
    result = subprocess.run([sys.executable, "scripts/settings.py", "--check"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr + "\nrun `make settings` and commit the files it writes"


def test_the_check_names_the_files_the_table_no_longer_makes(tmp_path, monkeypatch):
    script = load_settings_script()
    assert script.stale() == []
    edited = tmp_path / "setup.sh"
    edited.write_text((ROOT / "setup.sh").read_text().replace("export WEB_CONCURRENCY=2", "export WEB_CONCURRENCY=3"))
    monkeypatch.setattr(script, "SETUP_SH", edited)
    assert script.stale() == [str(edited)]
    # Another default in the table: every file is out of date until written again.
    monkeypatch.setitem(config.SETTINGS, "WEB_CONCURRENCY",
                        dataclasses.replace(config.SETTINGS["WEB_CONCURRENCY"], default="3"))
    assert script.stale() == ["docs/configuration.md", str(edited), "app.json"]
    edited.write_text(script.render_setup())
    assert "export WEB_CONCURRENCY=3" in edited.read_text()
    assert script.stale() == ["docs/configuration.md", "app.json"]
    assert "| `WEB_CONCURRENCY` | `3` | gunicorn worker processes;" in script.render_table()
    assert script.app_json_env()["WEB_CONCURRENCY"]["value"] == "3"


def test_the_configuration_doc_lists_every_setting():
    doc = (ROOT / "docs" / "configuration.md").read_text()
    script = load_settings_script()
    table = doc.split(script.TABLE_BEGIN, 1)[1].split(script.TABLE_END, 1)[0]
    assert set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, re.M)) == set(config.SETTINGS)


def test_setup_sh_is_a_safe_template_the_app_accepts(tmp_path):
    """Sourced by bash, setup.sh is a production environment that passes the production checks with its
    placeholders (so its quoting and values are ones the app reads), shows the defaults, holds no secret, and
    keeps the local issuer's key unset."""
    text = (ROOT / "setup.sh").read_text()
    assert "Never commit real values: no secret belongs in this file." in text
    assert re.search(r"^# unset LOCAL_ISSUER_PRIVATE_KEY$", text, re.M)
    assert "PRIVATE KEY-----" not in text
    dump = f"{sys.executable} -c 'import json, os; print(json.dumps(dict(os.environ)))'"
    out = subprocess.run(["bash", "-c", f"set -eu; source ./setup.sh; {dump}"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30, env={"PATH": os.environ["PATH"]})
    assert out.returncode == 0, out.stderr
    env = json.loads(out.stdout)
    assert {name for name in config.SETTINGS if name in env} == set(config.SETTINGS) - {"DYNO",
                                                                                      "LOCAL_ISSUER_PRIVATE_KEY"}
    for name, setting in config.SETTINGS.items():
        if name in env and setting.setup is None:
            assert env[name] == setting.default, name
    assert env["APP_ENV"] == "production" and "PASSWORD" in env["DATABASE_URL"] and "PASSWORD" in env["REDIS_URL"]
    settings = config.load(str(tmp_path), env)
    config.resolve(settings, str(tmp_path))
    assert settings["PRODUCTION"] and settings["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg2://")
    assert settings["JWKS_URL"] == "https://your-tenant.eu.auth0.com/.well-known/jwks.json"


def test_app_json_is_a_valid_heroku_manifest():
    app_json = json.loads((ROOT / "app.json").read_text())
    env = app_json["env"]
    # Heroku requires every variable unless "required": false, so each has a value or is asked for.
    for name, spec in env.items():
        assert set(spec) <= {"description", "required", "value"} and spec["description"], name
        if spec.get("required", True) and "value" not in spec:
            assert name in ("AUTH0_DOMAIN", "API_AUDIENCE"), f"{name} would block an app's creation"
        if "value" in spec:
            assert isinstance(spec["value"], str)
            assert spec["value"] or spec["required"] is False, f"{name}: an empty value must be optional"
    assert env["APP_ENV"]["value"] == "production"
    # Set by Heroku or its add-ons, or only for development, tests and the benchmark: not app.json's to ask for.
    assert not {"DATABASE_URL", "REDIS_URL", "PORT", "DYNO", "BIND_HOST", "JWKS_URL", "TOKEN_ISSUER",
                "ALLOW_TEST_ISSUER", "LOCAL_ISSUER_PRIVATE_KEY"} & set(env)
    assert {addon["plan"].split(":")[0] for addon in app_json["addons"]} == {"heroku-postgresql", "heroku-redis"}
    # Demo data goes into review apps only, never into an agency's real deployment.
    assert "scripts" not in app_json
    assert app_json["environments"]["review"]["scripts"]["postdeploy"] == "flask --app app seed"
