"""A worker's warm-up in process (casting/api/warmup.py): it reads through the busiest routes without a token and
writes nothing, and a database that takes connections and never answers does not hold it past its bound.
tests/deployment/test_warmup.py: the warm-up of gunicorn's workers."""

from __future__ import annotations

import socket

from casting.api import warmup
from tests.utils.records import row_counts


def test_warming_up_reads_through_the_routes_and_writes_nothing(app, api, count_statements):
    created = api("POST", "/movies", json={"title": "Warm Night", "release_date": "2020-02-02"})
    assert created.status_code == 201
    before = row_counts(app)
    with count_statements() as statements:
        assert warmup.warm(app) is True
    assert statements() >= len(warmup.READS)  # every route's read ran
    assert row_counts(app) == before
    assert api("GET", "/movies").get_json()["total"] == 1


def test_a_database_that_never_answers_does_not_hold_the_worker(make_app, built_apps):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # takes connections (the kernel's backlog) and never says a word
    port = silent.getsockname()[1]
    app = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql://nobody:nothing@127.0.0.1:{port}/none",
                   SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 30}})
    built_apps.append(app)
    try:
        assert warmup.warm(app, timeout=1.0) is False
    finally:
        silent.close()
