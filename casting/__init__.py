"""The Casting Agency API's package; `app.py` (the factory), `models.py` (the tables) and `auth.py` (tokens
and `requires_auth`) stay at the repository's root. From the top layer down, each importing only below it:

- `api/`        the HTTP routes, one module per resource, and how answers are shaped (`answers`, `writes`,
                `files`)
- `dashboard/`  the staff's web page: its blueprint, static files and template
- `openapi/`    the OpenAPI document, built from the routes and the schemas
- `catalogue/`  movies, actors and castings: records, changes, lists and cursors, history, catalogue version,
                imports and exports
- `web/`        request plumbing: transactions, conditional requests, idempotency, parsing, rate limits, logs
- `tokens/`     the issuer's key set, development's local issuer, the roles and their permissions
- `schemas/`    the validation table and answer shapes (pydantic)
- `config.py`, `errors.py`, `lru.py`   settings, the JSON error shape, a small bounded cache
- `cli.py`, `worker.py`   the `flask` commands; gunicorn's worker class
"""
