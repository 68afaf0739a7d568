"""Fixtures of the app in process: on PostgreSQL (TEST_DATABASE_URL, a database of its own for each pytest-xdist
worker) or SQLite, real RS256 tokens from the local issuer, a clean database per test. tests/conftest.py has those
that start servers and browsers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask_migrate import upgrade
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from app import create_app
from casting.cli import migrations
from models import Actor, Movie, db, history, idempotency_keys, movie_actors
from tests.utils.environment import APP_SETTINGS
from tests.utils.postgres import database_of_worker
from tests.utils.records import api_as
from tests.utils.tokens import Minter, pem

for _name in APP_SETTINGS:
    os.environ.pop(_name, None)


# The files that take longest, first. Under `make test` (pytest-xdist, --dist loadfile) each worker takes the next
# file in collection order as it gets free, and a run would otherwise end waiting on one of these, started last.
SLOW_FILES_FIRST = (
    "tests/auth0/test_deploy.py",  # two runs of Auth0's Deploy CLI, one after the other
    "tests/deployment/test_concurrency.py",
    "tests/auth0/test_deploy_refusals.py",
    "tests/dashboard/test_layout_and_accessibility.py",
    "tests/dashboard/test_history_and_deleted.py",
    "tests/deployment/test_gunicorn.py",
    "tests/dashboard/test_safe_writes.py",
    "tests/test_docs.py",
    "tests/deployment/test_procfile.py",
    "tests/deployment/test_production_by_default.py",
    "tests/test_bench.py",
    "test_app.py",
)


def pytest_collection_modifyitems(config, items):
    """In a parallel run SLOW_FILES_FIRST go first; the other files, and the tests in each file, keep their order."""
    if config.getoption("dist", "no") == "no":
        return
    rank = {path: number for number, path in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """TEST_DATABASE_URL; under pytest-xdist (`make test`), a database of each worker's own next to it, dropped at the
    end. Without TEST_DATABASE_URL, SQLite in the run's (the worker's) temporary folder."""
    url = os.environ.get("TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url:
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")
    elif worker:
        with database_of_worker(url, worker) as own:
            yield own
    else:
        yield url


@pytest.fixture(scope="session")
def make_app(database_url, signing_key, tmp_path_factory):
    """Build an app on the test database; keyword overrides go into its config."""
    instance = tmp_path_factory.mktemp("instance")

    def build(**overrides):
        settings = {
            "TESTING": True,
            "PRODUCTION": False,  # development mode, as APP_ENV=development gives; tests of production say so
            "RATELIMIT_ENABLED": False,  # the rate-limit tests turn it on where it is the subject
            "SQLALCHEMY_DATABASE_URI": database_url,
            "LOCAL_ISSUER_PRIVATE_KEY": pem(signing_key),
        }
        settings.update(overrides)
        app = create_app(settings)
        app.instance_path = str(instance)
        return app

    return build


@pytest.fixture(scope="session")
def _schema(make_app):
    """The schema, built once per run by the committed migrations (never create_all)."""
    app = make_app()
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        migrations(app)
        upgrade()
    return app


@pytest.fixture
def app(_schema):
    yield _schema
    with _schema.app_context():
        if db.engine.dialect.name == "postgresql":
            # A live server may still be answering a page's last request (a list read across the tables): a
            # deadlock between it and TRUNCATE is PostgreSQL's to break, and the emptying runs again.
            for attempt in range(1, 6):
                try:
                    db.session.execute(text("TRUNCATE movie_actors, movies, actors, idempotency_keys, history "
                                            "RESTART IDENTITY CASCADE"))
                    break
                except OperationalError as exc:
                    if getattr(exc.orig, "pgcode", None) != "40P01" or attempt == 5:
                        raise
                    db.session.rollback()
        else:
            # SQLite reuses ids from max(id) + 1, so emptying the tables resets them too.
            for table in (movie_actors, Movie.__table__, Actor.__table__, idempotency_keys, history):
                db.session.execute(table.delete())
            # AUTOINCREMENT (migration 0005) remembers the highest id ever given: forget it too.
            db.session.execute(text("DELETE FROM sqlite_sequence"))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def issuer(app):
    return app.extensions["local_issuer"]


@pytest.fixture
def headers(issuer):
    """headers(role) -> the Authorization header of a fresh token for that role."""

    def for_role(role: str, **claims) -> dict:
        return {"Authorization": f"Bearer {issuer.mint(role, **claims)}"}

    return for_role


@pytest.fixture
def minter(issuer, signing_key) -> Minter:
    """Tokens the app's local issuer would accept, minted independently of LocalIssuer.mint."""
    return Minter(signing_key, issuer.kid, issuer.issuer, issuer.audience)


@pytest.fixture
def built_apps(app):
    """Apps built in a test with make_app; their pools are closed before `app` empties the tables."""
    apps = []
    yield apps
    for built in apps:
        with built.app_context():
            db.engine.dispose()


@pytest.fixture
def producer(headers) -> dict:
    return headers("executive-producer")


@pytest.fixture
def api(client, producer):
    """Call the API as an executive producer: api("POST", "/movies", json=...) -> response."""
    return api_as(client, producer)


@pytest.fixture
def count_statements(app):
    """with count_statements() as n: ...; n() is the number of SQL statements run inside."""
    @contextmanager
    def counting():
        seen: list[str] = []

        def record(conn, cursor, statement, *args):
            seen.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield lambda: len(seen)
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting
