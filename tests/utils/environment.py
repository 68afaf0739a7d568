"""The repository's paths, the settings the suite scrubs from the environment, and `unavailable`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
GUNICORN = str(VENV_BIN / "gunicorn")
FLASK = str(VENV_BIN / "flask")
ON_CI = os.environ.get("CI") == "true"

# The tests decide the configuration; nothing from the developer's shell leaks in (conftest.py pops these).
APP_SETTINGS = ("DATABASE_URL", "AUTH0_DOMAIN", "API_AUDIENCE", "JWKS_URL", "TOKEN_ISSUER", "APP_ENV", "DYNO",
                "PUBLIC_READS", "CORS_ORIGINS", "LOCAL_ISSUER_PRIVATE_KEY", "REDIS_URL", "ALLOW_TEST_ISSUER",
                "AUTH0_CLIENT_ID", "TRUSTED_PROXY_COUNT", "TOKEN_MAX_LIFETIME_SECONDS", "FORWARDED_ALLOW_IPS",
                "DATABASE_CONNECTION_POOL_URL", "DATABASE_POOLED", "DATABASE_FOLLOWER_URLS", "FOLLOWER_MAX_LAG_SECONDS",
                "FOLLOWER_CHECK_SECONDS")


def unavailable(reason: str):
    """Skip locally, fail under CI: what CI must run may not be skipped there."""
    if ON_CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)

# The token settings a developer's shell may hold, scrubbed where a test runs the app as that shell would.
AUTH_ENV = ("AUTH0_DOMAIN", "API_AUDIENCE", "JWKS_URL", "TOKEN_ISSUER", "APP_ENV", "DYNO", "PUBLIC_READS",
            "LOCAL_ISSUER_PRIVATE_KEY", "DATABASE_URL")
