"""Settings from the environment only, and the checks that refuse an unsafe production start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

MAX_BODY_BYTES = 64 * 1024
MAX_TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600  # Auth0's own maximum for access tokens


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
    """Keyword arguments Flask-Limiter's Redis storage hands to `redis.from_url` along with `url`.

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


def _count(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(f"{name} must be a whole number from {minimum} up, not {raw!r}")
    return int(raw)


def load(instance_path: str, env: Mapping[str, str] | None = None) -> dict:
    """Every setting the app reads, as Flask config keys."""
    env = os.environ if env is None else env
    auth0_domain = env.get("AUTH0_DOMAIN", "").strip().rstrip("/") or None
    return {
        "PRODUCTION": is_production(env),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or None,  # resolve() makes it a SQLAlchemy URL
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
        "AUTH0_DOMAIN": auth0_domain,
        "API_AUDIENCE": env.get("API_AUDIENCE", "").strip() or None,
        "AUTH0_CLIENT_ID": env.get("AUTH0_CLIENT_ID", "").strip() or None,  # the dashboard's Auth0 application
        "JWKS_URL": env.get("JWKS_URL") or (
            f"https://{auth0_domain}/.well-known/jwks.json" if auth0_domain else None
        ),
        "TOKEN_ISSUER": env.get("TOKEN_ISSUER") or (
            f"https://{auth0_domain}/" if auth0_domain else None
        ),
        # Lets JWKS_URL/TOKEN_ISSUER point at a stand-in issuer in production mode (bench/run.py, tests).
        "ALLOW_TEST_ISSUER": _flag(env.get("ALLOW_TEST_ISSUER")),
        "JWKS_TTL_SECONDS": float(env.get("JWKS_TTL_SECONDS", "600")),
        "JWKS_COOLDOWN_SECONDS": float(env.get("JWKS_COOLDOWN_SECONDS", "30")),
        "JWKS_TIMEOUT_SECONDS": float(env.get("JWKS_TIMEOUT_SECONDS", "3")),
        # A token meant to live longer (exp - iat) is refused, whoever signed it.
        "TOKEN_MAX_LIFETIME_SECONDS": _count(env, "TOKEN_MAX_LIFETIME_SECONDS", MAX_TOKEN_LIFETIME_SECONDS,
                                             minimum=1),
        # Proxies in front whose X-Forwarded-For/-Proto/-Port are believed: Heroku's router on a dyno, none elsewhere.
        "TRUSTED_PROXY_COUNT": _count(env, "TRUSTED_PROXY_COUNT", 1 if "DYNO" in env else 0),
        "LOCAL_ISSUER_PRIVATE_KEY": env.get("LOCAL_ISSUER_PRIVATE_KEY") or None,
        "PUBLIC_READS": _flag(env.get("PUBLIC_READS")),
        "REQUIRE_IF_MATCH": _flag(env.get("REQUIRE_IF_MATCH")),
        "CORS_ORIGINS": env.get("CORS_ORIGINS", "").strip(),
        "RATE_LIMIT_READS": env.get("RATE_LIMIT_READS", "300/minute"),
        "RATE_LIMIT_WRITES": env.get("RATE_LIMIT_WRITES", "60/minute"),
        "RATELIMIT_ENABLED": not _flag(env.get("RATE_LIMIT_DISABLED")),
        # Redis through ratelimit.OneTripRedisStorage (its scheme), or this process's memory.
        "RATELIMIT_STORAGE_URI": "onetrip+" + env["REDIS_URL"] if env.get("REDIS_URL") else "memory://",
        "RATELIMIT_STORAGE_OPTIONS": redis_storage_options(env.get("REDIS_URL")),
        "DB_CONNECT_TIMEOUT_SECONDS": int(env.get("DB_CONNECT_TIMEOUT_SECONDS", "2")),
        "DB_STATEMENT_TIMEOUT_MS": int(env.get("DB_STATEMENT_TIMEOUT_MS", "5000")),
    }


def engine_options(url: str, connect_timeout: int, statement_timeout_ms: int) -> dict:
    """Pool settings that notice a dead database fast and recover by themselves when it returns. (No
    pre-ping on every checkout: transactions.py pings a connection that sat idle, and retries a request
    whose connection broke under it.)"""
    options: dict = {}
    if url.startswith("postgresql"):
        options.update(
            pool_timeout=5,
            pool_recycle=1800,
            connect_args={
                "connect_timeout": connect_timeout,
                "options": f"-c statement_timeout={statement_timeout_ms}",
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
        settings["DB_STATEMENT_TIMEOUT_MS"]))


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
