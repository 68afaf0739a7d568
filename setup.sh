#!/usr/bin/env bash
# A template of the production environment: copy it outside the repository, fill in the
# placeholders, then `source` it (or set the same names as Heroku config vars).
# Never commit real values: no secret belongs in this file.
#
# Written by scripts/settings.py from casting.config.SETTINGS: change the table there and run `make settings`,
# never this file. Every variable the app (casting/config.py) and gunicorn (gunicorn.conf.py) read is here
# (but Heroku's own DYNO); each value shown is the default unless marked as a placeholder.
# docs/configuration.md describes them.

# --- Mode and database
# APP_ENV: `development` turns on the local token issuer, `POST /dev/token` and CORS open to any origin
#   (`make run` and the tests set it); anything else, unset too, is production, with its checks, and so is
#   every Heroku dyno. Default: unset (production).
export APP_ENV=production
# DATABASE_URL: the database; `postgres://` and `postgresql://` URLs use psycopg2; production needs
#   PostgreSQL (Heroku Postgres sets it). Default: SQLite file instance/casting.db. PLACEHOLDER: put your
#   own value.
export DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DBNAME
# DATABASE_CONNECTION_POOL_URL: a connection pooler in transaction mode in front of the database (Heroku's
#   connection pooling sets it once attached as `DATABASE_CONNECTION_POOL`): the app serves through it, and
#   the release phase's migrations use `DATABASE_URL`. Default: unset (connect to DATABASE_URL).
export DATABASE_CONNECTION_POOL_URL=''
# DATABASE_POOLED: `true` when `DATABASE_URL` itself is a pooler in transaction mode (PgBouncer beside the
#   app): no session setting is sent at connect (set `statement_timeout` on the database role instead,
#   docs/deployment.md). Default: false.
export DATABASE_POOLED=false
# DATABASE_FOLLOWER_URLS: read followers, comma-separated: each a `postgres://` URL or the name of the
#   config var that holds one (Heroku's `HEROKU_POSTGRESQL_PINK_URL`); reads go to one that has replayed the
#   reader's own writes. Default: none.
export DATABASE_FOLLOWER_URLS=''
# FOLLOWER_MAX_LAG_SECONDS: a follower further behind the primary than this (or unreachable, or not
#   replaying) is taken out of rotation until it catches up. Default: 10.
export FOLLOWER_MAX_LAG_SECONDS=10
# FOLLOWER_CHECK_SECONDS: how often each process checks its followers' lag and version. Default: 1.
export FOLLOWER_CHECK_SECONDS=1
# DB_CONNECT_TIMEOUT_SECONDS: PostgreSQL connect timeout, in seconds. Default: 2.
export DB_CONNECT_TIMEOUT_SECONDS=2
# DB_STATEMENT_TIMEOUT_MS: PostgreSQL statement timeout of a request, in milliseconds (0: none; migrations
#   run without it). Default: 5000.
export DB_STATEMENT_TIMEOUT_MS=5000

# --- Tokens
# AUTH0_DOMAIN: the Auth0 tenant's domain, without `https://` (e.g. `my-tenant.eu.auth0.com`); unset, the
#   local issuer signs tokens (development only: production refuses to start without it). Default: unset.
#   PLACEHOLDER: put your own value.
export AUTH0_DOMAIN=your-tenant.eu.auth0.com
# API_AUDIENCE: the identifier of the Auth0 API: the `aud` its access tokens carry. Default:
#   casting-agency-api with the local issuer. PLACEHOLDER: put your own value.
export API_AUDIENCE=casting-agency
# AUTH0_CLIENT_ID: client id of the dashboard's Auth0 Single Page Application (not a secret; `make auth0`
#   prints it); unset, the dashboard says signing in is not set up. Default: unset. PLACEHOLDER: put your
#   own value.
export AUTH0_CLIENT_ID=YOUR_SPA_CLIENT_ID
# JWKS_URL: the signing keys' URL; leave it unset: production refuses any other than
#   `https://AUTH0_DOMAIN/.well-known/jwks.json` unless `ALLOW_TEST_ISSUER=true`. Default: from
#   AUTH0_DOMAIN.
export JWKS_URL=''
# TOKEN_ISSUER: the `iss` tokens must carry; leave it unset: production refuses any other than
#   `https://AUTH0_DOMAIN/` unless `ALLOW_TEST_ISSUER=true`. Default: from AUTH0_DOMAIN.
export TOKEN_ISSUER=''
# ALLOW_TEST_ISSUER: `true` lets production mode trust a `JWKS_URL` or `TOKEN_ISSUER` other than Auth0's:
#   only for the benchmark and tests with a stand-in issuer, never on a real deployment. Default: false.
export ALLOW_TEST_ISSUER=false
# JWKS_TTL_SECONDS: seconds fetched signing keys are used before a background refresh. Default: 600.
export JWKS_TTL_SECONDS=600
# JWKS_COOLDOWN_SECONDS: minimum seconds between two key-set fetches caused by unknown `kid`s; after a
#   failed fetch the next waits 0.5 s, doubling up to this. Default: 30.
export JWKS_COOLDOWN_SECONDS=30
# JWKS_TIMEOUT_SECONDS: timeout of one key-set fetch, in seconds. Default: 3.
export JWKS_TIMEOUT_SECONDS=3
# TOKEN_MAX_LIFETIME_SECONDS: a token meant to live longer (`exp - iat`, in seconds) is refused with a 401,
#   whoever signed it. Default: 2592000 (30 days, Auth0's maximum).
export TOKEN_MAX_LIFETIME_SECONDS=2592000
# LOCAL_ISSUER_PRIVATE_KEY: PEM of the local issuer's RSA key (development and tests only; it must stay
#   unset in production). Default: unset (instance/local-issuer-key.pem, made on first use).
# unset LOCAL_ISSUER_PRIVATE_KEY

# --- The API
# PUBLIC_READS: `true` opens the catalogue's reads (movies and actors) to requests without a token; the
#   history and every write still need one. Default: false.
export PUBLIC_READS=false
# REQUIRE_IF_MATCH: `true` makes `If-Match` mandatory on `PATCH`, `DELETE` and the casting `PUT`/`DELETE`
#   (428 without it), so no client overwrites a change it has not seen. Default: false.
export REQUIRE_IF_MATCH=false
# CORS_ORIGINS: comma-separated browser origins allowed by CORS. Default: development: any; production:
#   none.
export CORS_ORIGINS=''

# --- Rate limits
# REDIS_URL: Redis for the rate limits, shared by every instance (the Heroku Redis add-on sets it;
#   `rediss://` is TLS without certificate verification); unset, each process counts in memory. Default:
#   unset. PLACEHOLDER: put your own value.
export REDIS_URL=redis://:PASSWORD@HOST:6379/0
# RATE_LIMIT_READS: read budget per token subject (per client address without a valid token), in the
#   `limits` library's notation. Default: 300/minute.
export RATE_LIMIT_READS=300/minute
# RATE_LIMIT_WRITES: write budget per token subject (per client address without a valid token). Default:
#   60/minute.
export RATE_LIMIT_WRITES=60/minute
# RATE_LIMIT_DISABLED: `true` turns rate limiting off (keep it `false` in production). Default: false.
export RATE_LIMIT_DISABLED=false

# --- Serving
# PORT: the port `make run` and gunicorn listen on (Heroku sets it). Default: 5000.
export PORT=5000
# BIND_HOST: gunicorn's listen address (`make run` always listens on 127.0.0.1). Default: 127.0.0.1; 0.0.0.0
#   on a Heroku dyno.
export BIND_HOST=''
# TRUSTED_PROXY_COUNT: proxies in front whose `X-Forwarded-For`/`-Proto`/`-Port` entries are believed: 1
#   behind one nginx, 0 when clients connect directly. Default: 1 on Heroku, 0 elsewhere.
export TRUSTED_PROXY_COUNT=''
# WEB_CONCURRENCY: gunicorn worker processes; while Redis is down each counts its share of a rate limit.
#   Default: 2.
export WEB_CONCURRENCY=2
# GUNICORN_THREADS: threads per gunicorn worker: requests each worker serves at once. Default: 4.
export GUNICORN_THREADS=4
# GUNICORN_TIMEOUT: seconds a request may take, sent and served, before gunicorn closes its connection (keep
#   it under Heroku's 30 s router timeout). Default: 25.
export GUNICORN_TIMEOUT=25
# LOG_LEVEL: gunicorn's own log level; the app's JSON request lines are always written. Default: info.
export LOG_LEVEL=info
