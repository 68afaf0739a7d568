#!/usr/bin/env bash
# A template of the production environment: copy it outside the repository, fill in the
# placeholders, then `source` it (or set the same names as Heroku config vars).
# Never commit real values: no secret belongs in this file.
# Every variable the app (config.py) and gunicorn (gunicorn.conf.py) read is here; the values
# shown are the defaults unless marked as a placeholder. See README.md, "Configuration".

# Anything but "development" is production (unset too); a production start without the settings below
# refuses, saying which. APP_ENV=development is for a local run only (the built-in token issuer, open CORS).
export APP_ENV=production
# PostgreSQL; Heroku sets DATABASE_URL itself (postgres:// is accepted).
export DATABASE_URL="postgresql://USER:PASSWORD@HOST:5432/DBNAME"
# Auth0 tenant domain, without https:// (e.g. my-tenant.eu.auth0.com)
export AUTH0_DOMAIN="YOUR_TENANT.auth0.com"
# The Identifier of the Auth0 API (the `aud` of its tokens)
export API_AUDIENCE="casting-agency"
# Client ID of the dashboard's Auth0 Single Page Application (not a secret; `make auth0` makes it
# and prints it, docs/auth0.md)
export AUTH0_CLIENT_ID="YOUR_SPA_CLIENT_ID"
# Comma-separated browser origins allowed by CORS (empty: none)
export CORS_ORIGINS=""
# true: anyone may read movies and actors; writes still need a token
export PUBLIC_READS=false
# true: PATCH/DELETE and the casting PUT/DELETE must carry If-Match (428 without it), so no client can
# overwrite a change it has not seen.
export REQUIRE_IF_MATCH=false

# Signing keys (JWKS). The URL and the expected `iss` derive from AUTH0_DOMAIN: leave these two
# empty. In production the app refuses other values unless ALLOW_TEST_ISSUER=true, which is for
# the benchmark and tests with a stand-in issuer, never for a real deployment.
export JWKS_URL=""        # empty: https://$AUTH0_DOMAIN/.well-known/jwks.json
export TOKEN_ISSUER=""    # empty: https://$AUTH0_DOMAIN/
export ALLOW_TEST_ISSUER=false
# Seconds: keys cached before a background refresh; minimum gap between two fetches; one fetch's timeout
export JWKS_TTL_SECONDS=600
export JWKS_COOLDOWN_SECONDS=30
export JWKS_TIMEOUT_SECONDS=3
# Longest token lifetime accepted (exp - iat), in seconds: 30 days, Auth0's own maximum
export TOKEN_MAX_LIFETIME_SECONDS=2592000
# The local token issuer's PEM key is for development only and must stay unset in production:
# unset LOCAL_ISSUER_PRIVATE_KEY

# Rate limits. Redis shared by every instance; the Heroku Redis add-on sets REDIS_URL itself
# (rediss://, TLS with a self-signed certificate, which the app accepts). Unset or empty: each
# process counts in memory.
export REDIS_URL="redis://:PASSWORD@HOST:6379/0"
# Budgets per token subject (per client address without a token), in Flask-Limiter's notation
export RATE_LIMIT_READS=300/minute
export RATE_LIMIT_WRITES=60/minute
# true turns rate limiting off (keep false in production)
export RATE_LIMIT_DISABLED=false

# Proxies in front whose X-Forwarded-For/-Proto/-Port entries are believed: 1 behind one nginx (or on
# Heroku, where an empty value means 1), 0 when clients connect directly (empty elsewhere). docs/deployment.md
export TRUSTED_PROXY_COUNT=""

# PostgreSQL timeouts: connect (seconds) and per statement (milliseconds)
export DB_CONNECT_TIMEOUT_SECONDS=2
export DB_STATEMENT_TIMEOUT_MS=5000

# gunicorn (gunicorn.conf.py, gunicorn_worker.py): worker processes, threads per worker, seconds a
# request may take before its connection is closed (keep it under Heroku's 30 s router timeout),
# gunicorn's own log level
export WEB_CONCURRENCY=2
export GUNICORN_THREADS=4
export GUNICORN_TIMEOUT=25
export LOG_LEVEL=info
# Listen port and address. Heroku sets PORT (and DYNO, which binds 0.0.0.0); elsewhere gunicorn
# listens on 127.0.0.1:8000 unless told otherwise.
export PORT=8000
export BIND_HOST=""       # empty: 127.0.0.1, or 0.0.0.0 on a Heroku dyno
