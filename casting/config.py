"""Settings from the environment only, and the checks that refuse an unsafe production start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MAX_BODY_BYTES = 64 * 1024
# An import over HTTP (POST /imports): bigger files go through `flask import` (docs/import-export.md). 20 MiB
# holds 100,000 rows of any kind with room to spare, and reads, checks and writes well within a request's time.
MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
MAX_TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600  # Auth0's own maximum for access tokens


@dataclass(frozen=True)
class Setting:
    """One environment variable the app or gunicorn reads. SETTINGS is the one description of each: load()
    and gunicorn.conf.py take their defaults from it, and scripts/settings.py writes docs/configuration.md's
    table, setup.sh and app.json's "env" from it."""

    name: str
    meaning: str  # one line; `backticks` are kept in the docs and setup.sh, dropped in app.json
    default: str = ""  # what an unset or blank variable means, as the environment spells it ("": none)
    shown_default: str = ""  # the docs' wording of a default that depends on something else (else `default`)
    # setup.sh: None shows the default; a string is shown instead, a placeholder when `placeholder`.
    # OMIT leaves it out (Heroku's own variables); UNSET writes "# unset NAME" (must stay unset in production).
    setup: str | None = None
    placeholder: bool = False
    # app.json: "default" pre-fills the value (`heroku_value` or the default; an empty one is optional),
    # "required" asks for it with no value, OMIT leaves it out (set by Heroku, an add-on, or only for tests).
    heroku: str = "default"
    heroku_value: str | None = None
    group: str = ""


OMIT, UNSET = "omit", "unset"

_SETTINGS = [
    # -- mode and database
    Setting("APP_ENV", "`development` turns on the local token issuer, `POST /dev/token` and CORS open to any "
            "origin (`make run` and the tests set it); anything else, unset too, is production, with its checks, "
            "and so is every Heroku dyno", shown_default="unset (production)", setup="production",
            heroku_value="production", group="Mode and database"),
    Setting("DYNO", "Heroku's own marker on every dyno (never set it yourself): production whatever `APP_ENV` "
            "says, gunicorn on `0.0.0.0`, one trusted proxy", shown_default="unset (Heroku sets it)", setup=OMIT,
            heroku=OMIT,
            group="Mode and database"),
    Setting("DATABASE_URL", "the database; `postgres://` and `postgresql://` URLs use psycopg2; production needs "
            "PostgreSQL (Heroku Postgres sets it)", shown_default="SQLite file `instance/casting.db`",
            setup="postgresql://USER:PASSWORD@HOST:5432/DBNAME", placeholder=True, heroku=OMIT,
            group="Mode and database"),
    Setting("DATABASE_CONNECTION_POOL_URL", "a connection pooler in transaction mode in front of the database "
            "(Heroku's connection pooling sets it once attached as `DATABASE_CONNECTION_POOL`): the app serves "
            "through it, and the release phase's migrations use `DATABASE_URL`",
            shown_default="unset (connect to `DATABASE_URL`)", heroku=OMIT, group="Mode and database"),
    Setting("DATABASE_POOLED", "`true` when `DATABASE_URL` itself is a pooler in transaction mode (PgBouncer beside "
            "the app): no session setting is sent at connect (set `statement_timeout` on the database role "
            "instead, docs/deployment.md)", "false", group="Mode and database"),
    Setting("DATABASE_FOLLOWER_URLS", "read followers, comma-separated: each a `postgres://` URL or the name of the "
            "config var that holds one (Heroku's `HEROKU_POSTGRESQL_PINK_URL`); reads go to one that has replayed "
            "the reader's own writes", shown_default="none", heroku=OMIT, group="Mode and database"),
    Setting("FOLLOWER_MAX_LAG_SECONDS", "a follower further behind the primary than this (or unreachable, or not "
            "replaying) is taken out of rotation until it catches up", "10", group="Mode and database"),
    Setting("FOLLOWER_CHECK_SECONDS", "how often each process checks its followers' lag and version", "1",
            group="Mode and database"),
    Setting("DB_CONNECT_TIMEOUT_SECONDS", "PostgreSQL connect timeout, in seconds", "2", group="Mode and database"),
    Setting("DB_STATEMENT_TIMEOUT_MS", "PostgreSQL statement timeout of a request, in milliseconds (0: none; "
            "migrations run without it)", "5000", group="Mode and database"),
    # -- tokens
    Setting("AUTH0_DOMAIN", "the Auth0 tenant's domain, without `https://` (e.g. `my-tenant.eu.auth0.com`); "
            "unset, the local issuer signs tokens (development only: production refuses to start without it)",
            setup="your-tenant.eu.auth0.com", placeholder=True,
            heroku="required", group="Tokens"),
    Setting("API_AUDIENCE", "the identifier of the Auth0 API: the `aud` its access tokens carry",
            shown_default="`casting-agency-api` with the local issuer", setup="casting-agency", placeholder=True,
            heroku="required", group="Tokens"),
    Setting("AUTH0_CLIENT_ID", "client id of the dashboard's Auth0 Single Page Application (not a secret; "
            "`make auth0` prints it); unset, the dashboard says signing in is not set up",
            setup="YOUR_SPA_CLIENT_ID", placeholder=True, group="Tokens"),
    Setting("JWKS_URL", "the signing keys' URL; leave it unset: production refuses any other than "
            "`https://AUTH0_DOMAIN/.well-known/jwks.json` unless `ALLOW_TEST_ISSUER=true`",
            shown_default="from `AUTH0_DOMAIN`", heroku=OMIT, group="Tokens"),
    Setting("TOKEN_ISSUER", "the `iss` tokens must carry; leave it unset: production refuses any other than "
            "`https://AUTH0_DOMAIN/` unless `ALLOW_TEST_ISSUER=true`", shown_default="from `AUTH0_DOMAIN`",
            heroku=OMIT, group="Tokens"),
    Setting("ALLOW_TEST_ISSUER", "`true` lets production mode trust a `JWKS_URL` or `TOKEN_ISSUER` other than "
            "Auth0's: only for the benchmark and tests with a stand-in issuer, never on a real deployment", "false",
            heroku=OMIT, group="Tokens"),
    Setting("JWKS_TTL_SECONDS", "seconds fetched signing keys are used before a background refresh", "600",
            group="Tokens"),
    Setting("JWKS_COOLDOWN_SECONDS", "minimum seconds between two key-set fetches caused by unknown `kid`s; after "
            "a failed fetch the next waits 0.5 s, doubling up to this", "30", group="Tokens"),
    Setting("JWKS_TIMEOUT_SECONDS", "timeout of one key-set fetch, in seconds", "3", group="Tokens"),
    Setting("TOKEN_MAX_LIFETIME_SECONDS", "a token meant to live longer (`exp - iat`, in seconds) is refused with a "
            "401, whoever signed it", str(MAX_TOKEN_LIFETIME_SECONDS),
            shown_default=f"`{MAX_TOKEN_LIFETIME_SECONDS}` (30 days, Auth0's maximum)", group="Tokens"),
    Setting("LOCAL_ISSUER_PRIVATE_KEY", "PEM of the local issuer's RSA key (development and tests only; it must "
            "stay unset in production)", shown_default="unset (`instance/local-issuer-key.pem`, made on first use)",
            setup=UNSET, heroku=OMIT, group="Tokens"),
    # -- the API's behaviour
    Setting("PUBLIC_READS", "`true` opens the catalogue's reads (movies and actors) to requests without a token; "
            "the history and every write still need one",
            "false", group="The API"),
    Setting("REQUIRE_IF_MATCH", "`true` makes `If-Match` mandatory on `PATCH`, `DELETE` and the casting "
            "`PUT`/`DELETE` (428 without it), so no client overwrites a change it has not seen", "false",
            group="The API"),
    Setting("CORS_ORIGINS", "comma-separated browser origins allowed by CORS",
            shown_default="development: any; production: none", group="The API"),
    # -- rate limits
    Setting("REDIS_URL", "Redis for the rate limits, shared by every instance (the Heroku Redis add-on sets it; "
            "`rediss://` is TLS without certificate verification); unset, each process counts in memory",
            setup="redis://:PASSWORD@HOST:6379/0", placeholder=True,
            heroku=OMIT, group="Rate limits"),
    Setting("RATE_LIMIT_READS", "read budget per token subject (per client address without a valid token), in "
            "the `limits` library's notation", "300/minute", group="Rate limits"),
    Setting("RATE_LIMIT_WRITES", "write budget per token subject (per client address without a valid token)",
            "60/minute", group="Rate limits"),
    Setting("RATE_LIMIT_DISABLED", "`true` turns rate limiting off (keep it `false` in production)", "false",
            group="Rate limits"),
    # -- serving
    Setting("PORT", "the port `make run` and gunicorn listen on (Heroku sets it)", "5000", heroku=OMIT,
            group="Serving"),
    Setting("BIND_HOST", "gunicorn's listen address (`make run` always listens on 127.0.0.1)",
            shown_default="`127.0.0.1`; `0.0.0.0` on a Heroku dyno", heroku=OMIT, group="Serving"),
    Setting("TRUSTED_PROXY_COUNT", "proxies in front whose `X-Forwarded-For`/`-Proto`/`-Port` entries are "
            "believed: 1 behind one nginx, 0 when clients connect directly", shown_default="`1` on Heroku, `0` "
            "elsewhere", group="Serving"),
    Setting("WEB_CONCURRENCY", "gunicorn worker processes; while Redis is down each counts its share of a rate "
            "limit", "2", group="Serving"),
    Setting("GUNICORN_THREADS", "threads per gunicorn worker: requests each worker serves at once", "4",
            group="Serving"),
    Setting("GUNICORN_TIMEOUT", "seconds a request may take, sent and served, before gunicorn closes its "
            "connection (keep it under Heroku's 30 s router timeout)", "25", group="Serving"),
    Setting("LOG_LEVEL", "gunicorn's own log level; the app's JSON request lines are always written", "info",
            group="Serving"),
]
SETTINGS = {setting.name: setting for setting in _SETTINGS}


def setting(name: str, env: Mapping[str, str] | None = None) -> str:
    """The variable's value, trimmed; the table's default when it is unset or blank."""
    env = os.environ if env is None else env
    return (env.get(name) or "").strip() or SETTINGS[name].default


class ConfigError(RuntimeError):
    """The environment asks for something the app must not run with."""


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def database_url(raw: str | None, instance_path: str) -> str:
    """The SQLAlchemy URL for `DATABASE_URL`, pinned to the psycopg2 driver.

    Heroku hands out `postgres://`, which SQLAlchemy no longer accepts, and
    SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which is not
    installed: both become `postgresql+psycopg2://`.
    """
    if not raw:
        return "sqlite:///" + str(Path(instance_path) / "casting.db")
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg2://" + raw[len(prefix):]
    return raw


def redis_storage_options(url: str | None) -> dict:
    """Keyword arguments the `limits` library's Redis storage hands to `redis.from_url` along with `url`.

    Short socket timeouts: a Redis that hangs must not hang the API. Heroku Redis
    speaks TLS (`rediss://`) with a self-signed certificate, which redis-py would
    reject: certificate verification is off for `rediss://` (the add-on manages
    `REDIS_URL`, so the URL itself is never edited). `ssl_cert_reqs` is only
    valid on TLS connections, so a plain `redis://` URL never gets it.
    """
    if not url:
        return {}
    options: dict = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    if url.startswith("rediss://"):
        options["ssl_cert_reqs"] = None
    return options


AUTH0_SETTINGS = {"AUTH0_DOMAIN": "your Auth0 tenant's domain", "API_AUDIENCE": "the identifier of its Auth0 API"}


def production_error(problem: str, fix: str) -> ConfigError:
    """A refused production start: what is wrong, what to set, and how to get development mode instead."""
    return ConfigError(
        f"production mode {problem}: {fix}, or set APP_ENV=development to run locally with the built-in token"
        " issuer (production is the mode whenever APP_ENV is not development, and always on Heroku)"
    )


def is_production(env: Mapping[str, str]) -> bool:
    """Production unless APP_ENV=development says otherwise, and always on Heroku (DYNO set): a forgotten
    setting must never switch on the local issuer, /dev/token and open CORS."""
    return env.get("APP_ENV", "").strip().lower() != "development" or "DYNO" in env


def _count(env: Mapping[str, str], name: str, minimum: int = 0, default: int | None = None) -> int:
    """A whole number, `default` (else the table's) when unset or blank."""
    raw = (env.get(name) or "").strip()
    if not raw and default is not None:
        return default
    raw = raw or SETTINGS[name].default
    if not raw.isascii() or not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(f"{name} must be a whole number from {minimum} up, not {raw!r}")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str) -> float:
    """A positive number of seconds, the table's default when unset or blank."""
    raw = setting(name, env)
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value


def _optional(env: Mapping[str, str], name: str) -> str | None:
    return setting(name, env) or None


def load(instance_path: str, env: Mapping[str, str] | None = None) -> dict:
    """Every setting the app reads, as Flask config keys (the defaults: SETTINGS)."""
    env = os.environ if env is None else env
    auth0_domain = (setting("AUTH0_DOMAIN", env).rstrip("/")) or None
    redis_url = _optional(env, "REDIS_URL")
    return {
        "PRODUCTION": is_production(env),
        # resolve() makes it a SQLAlchemy URL; a pooler in front of the database serves the app when there is one.
        "SQLALCHEMY_DATABASE_URI": _optional(env, "DATABASE_CONNECTION_POOL_URL") or _optional(env, "DATABASE_URL"),
        "DATABASE_POOLED": (bool(_optional(env, "DATABASE_CONNECTION_POOL_URL"))
                            or _flag(setting("DATABASE_POOLED", env))),
        "DATABASE_FOLLOWER_URLS": follower_urls(setting("DATABASE_FOLLOWER_URLS", env), env),
        "FOLLOWER_MAX_LAG_SECONDS": _seconds(env, "FOLLOWER_MAX_LAG_SECONDS"),
        "FOLLOWER_CHECK_SECONDS": _seconds(env, "FOLLOWER_CHECK_SECONDS"),
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
        "AUTH0_DOMAIN": auth0_domain,
        "API_AUDIENCE": _optional(env, "API_AUDIENCE"),
        "AUTH0_CLIENT_ID": _optional(env, "AUTH0_CLIENT_ID"),  # the dashboard's Auth0 application
        "JWKS_URL": _optional(env, "JWKS_URL") or (
            f"https://{auth0_domain}/.well-known/jwks.json" if auth0_domain else None
        ),
        "TOKEN_ISSUER": _optional(env, "TOKEN_ISSUER") or (
            f"https://{auth0_domain}/" if auth0_domain else None
        ),
        # Lets JWKS_URL/TOKEN_ISSUER point at a stand-in issuer in production mode (bench/run.py, tests).
        "ALLOW_TEST_ISSUER": _flag(setting("ALLOW_TEST_ISSUER", env)),
        "JWKS_TTL_SECONDS": _seconds(env, "JWKS_TTL_SECONDS"),
        "JWKS_COOLDOWN_SECONDS": _seconds(env, "JWKS_COOLDOWN_SECONDS"),
        "JWKS_TIMEOUT_SECONDS": _seconds(env, "JWKS_TIMEOUT_SECONDS"),
        # A token meant to live longer (exp - iat) is refused, whoever signed it.
        "TOKEN_MAX_LIFETIME_SECONDS": _count(env, "TOKEN_MAX_LIFETIME_SECONDS", minimum=1),
        # Proxies in front whose X-Forwarded-For/-Proto/-Port are believed: Heroku's router on a dyno, none elsewhere.
        "TRUSTED_PROXY_COUNT": _count(env, "TRUSTED_PROXY_COUNT", default=1 if "DYNO" in env else 0),
        "LOCAL_ISSUER_PRIVATE_KEY": _optional(env, "LOCAL_ISSUER_PRIVATE_KEY"),
        "PUBLIC_READS": _flag(setting("PUBLIC_READS", env)),
        "REQUIRE_IF_MATCH": _flag(setting("REQUIRE_IF_MATCH", env)),
        "CORS_ORIGINS": setting("CORS_ORIGINS", env),
        "RATE_LIMIT_READS": setting("RATE_LIMIT_READS", env),
        "RATE_LIMIT_WRITES": setting("RATE_LIMIT_WRITES", env),
        "RATELIMIT_ENABLED": not _flag(setting("RATE_LIMIT_DISABLED", env)),
        # Redis through ratelimit.OneTripRedisStorage (its scheme), or this process's memory.
        "RATELIMIT_STORAGE_URI": "onetrip+" + redis_url if redis_url else "memory://",
        "RATELIMIT_STORAGE_OPTIONS": redis_storage_options(redis_url),
        "REDIS_URL": redis_url,  # the followers' memory of each subject's last write (casting/web/followers.py)
        # The dyno's worker processes, which share a budget between them while Redis is down (ratelimit.py).
        "RATELIMIT_PROCESSES": _count(env, "WEB_CONCURRENCY", minimum=1),
        "DB_CONNECT_TIMEOUT_SECONDS": _count(env, "DB_CONNECT_TIMEOUT_SECONDS", minimum=1),
        "DB_STATEMENT_TIMEOUT_MS": _count(env, "DB_STATEMENT_TIMEOUT_MS"),
    }


def follower_urls(raw: str, env: Mapping[str, str]) -> list[str]:
    """DATABASE_FOLLOWER_URLS's followers as URLs: an item that is no URL names the config var that holds one."""
    urls = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        url = item if "://" in item else (env.get(item) or "").strip()
        if not url.startswith(("postgres://", "postgresql://", "postgresql+psycopg2://")):
            raise ConfigError(f"DATABASE_FOLLOWER_URLS: {item!r} is neither a postgres:// URL nor the name of a "
                              "config var that holds one")
        urls.append(database_url(url, "."))
    return urls


def engine_options(url: str, connect_timeout: int, statement_timeout_ms: int, pooled: bool = False) -> dict:
    """Pool settings that notice a dead database fast and recover by themselves when it returns. (No
    pre-ping on every checkout: casting/web/transactions.py pings a connection that sat idle, and retries a request
    whose connection broke under it.) Through a pooler in transaction mode (`pooled`) no session setting is sent
    at connect: PgBouncer refuses the `options` startup parameter, and a session's settings would pass to
    whichever client the pooler hands its server connection next."""
    options: dict = {}
    if url.startswith("postgresql"):
        session = {} if pooled else {"options": f"-c statement_timeout={statement_timeout_ms}"}
        options.update(
            pool_timeout=5,
            pool_recycle=1800,
            connect_args={
                "connect_timeout": connect_timeout,
                **session,
                "application_name": "casting-agency-api",
                # A database cut off by the network (no reset, no answer) must not hold a request until
                # TCP gives up minutes later: a request sent and not acknowledged within the connect
                # timeout fails, and keepalives notice a silent peer on an open connection.
                "tcp_user_timeout": connect_timeout * 1000,
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 2,
                "keepalives_count": 3,
            },
        )
    return options


# A host name and an optional port: what AUTH0_DOMAIN must be (no scheme, no path).
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?")


def resolve(settings: dict, instance_path: str) -> None:
    """The settings as the app runs with them (after any overrides): the database URL made a SQLAlchemy URL,
    every check passed (a ConfigError says what to set), the engine's options chosen."""
    settings["SQLALCHEMY_DATABASE_URI"] = database_url(settings.get("SQLALCHEMY_DATABASE_URI"), instance_path)
    check(settings)
    settings.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(
        settings["SQLALCHEMY_DATABASE_URI"], settings["DB_CONNECT_TIMEOUT_SECONDS"],
        settings["DB_STATEMENT_TIMEOUT_MS"], settings.get("DATABASE_POOLED", False)))


def cors_origins(settings: Mapping) -> list[str]:
    """The origins CORS allows: CORS_ORIGINS, comma-separated; in development, when it is empty, any."""
    origins = [origin.strip() for origin in settings["CORS_ORIGINS"].split(",") if origin.strip()]
    return origins or ([] if settings["PRODUCTION"] else ["*"])


def check(config: Mapping) -> None:
    """Refuse settings the app must not run with, and in production what a safe deployment lacks."""
    domain = config.get("AUTH0_DOMAIN")
    if domain and not _HOSTNAME.fullmatch(domain):
        raise ConfigError("AUTH0_DOMAIN must be a host name such as my-tenant.eu.auth0.com (no scheme, no path)")
    if not config.get("PRODUCTION"):
        if domain and not config.get("API_AUDIENCE"):  # development against a real Auth0 tenant
            raise ConfigError("AUTH0_DOMAIN is set but API_AUDIENCE is not: set the identifier of the Auth0 API")
        return
    missing = [key for key in ("AUTH0_DOMAIN", "API_AUDIENCE") if not config.get(key)]
    if missing:
        named = " and ".join(f"{key} ({AUTH0_SETTINGS[key]})" for key in missing)
        raise production_error(f"needs {named}, as the local token issuer never runs in production",
                               "set " + " and ".join(missing) + " (setup.sh lists every setting)")
    if not config.get("ALLOW_TEST_ISSUER"):
        # The contract fixes the key set and `iss` to the Auth0 tenant: an environment string must not move them.
        domain = config["AUTH0_DOMAIN"]
        derived = {"JWKS_URL": f"https://{domain}/.well-known/jwks.json", "TOKEN_ISSUER": f"https://{domain}/"}
        moved = [f"{key} unset or {value!r} (from AUTH0_DOMAIN), not {config.get(key)!r}"
                 for key, value in derived.items() if config.get(key) != value]
        if moved:
            raise ConfigError(
                "production mode needs " + " and ".join(moved)
                + "; only ALLOW_TEST_ISSUER=true (benchmarks and tests, never a real deployment) permits another issuer"
            )
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        raise production_error("needs PostgreSQL, not SQLite", "set DATABASE_URL to a postgresql:// URL")
