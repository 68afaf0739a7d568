"""Apps in process built for one test, beyond what the root conftest.py's `make_app` gives by default."""

from __future__ import annotations


def production(make_app, **overrides):
    """An app in production mode, built by `make_app`, that trusts a stand-in issuer (nothing listens at its key set
    or its database: these apps answer what needs neither)."""
    settings = {"PRODUCTION": True, "AUTH0_DOMAIN": "tenant.example", "API_AUDIENCE": "casting",
                "JWKS_URL": "http://127.0.0.1:9/jwks.json", "TOKEN_ISSUER": "https://tenant.example/",
                "ALLOW_TEST_ISSUER": True,  # the JWKS_URL above is a stand-in
                "SQLALCHEMY_DATABASE_URI": "postgresql://u@127.0.0.1:9/db"}
    settings.update(overrides)
    return make_app(**settings)
