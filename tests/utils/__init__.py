"""What the tests share, by what it is. Fixtures live in the conftest.py files (the root one: the app in
process; tests/conftest.py: servers, browsers, scratch databases, Redis; tests/dashboard/conftest.py: the pages).

Builders, in process:
- `environment`  the repository's paths, the settings the suite scrubs, `unavailable` (skip, or fail under CI)
- `records`      movies and actors made through the API, request bodies, row counts
- `tokens`       keys, key sets (JWKS) and tokens minted by hand, so that any header or claim can be bent
- `asserters`    the one error shape, ETags, Retry-After
- `apps`         apps in process built for one test: production mode with a stand-in issuer

Servers, real processes on 127.0.0.1:
- `processes`    a child process logging to a file, the app served over HTTP, free ports, JSON log lines
- `gunicorn`     the app under gunicorn, and fleets of gunicorn instances
- `jwks_server`  a stand-in for an Auth0 tenant's key set
- `postgres`     scratch PostgreSQL databases, migrations run as the release phase runs them
- `browser`      Debian's Chromium, as Playwright drives it
"""
