"""Fixtures of the app in process: on PostgreSQL (TEST_DATABASE_URL) or SQLite, real RS256 tokens from the
local issuer, a clean database per test. tests/conftest.py has those that start servers and browsers."""

from __future__ import annotations

import os
from contextlib import contextmanager

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask_migrate import upgrade
from sqlalchemy import event, text

from app import create_app
from models import Actor, Movie, db, history, idempotency_keys, movie_actors
from tests.helpers import APP_SETTINGS, pem

for _name in APP_SETTINGS:
    os.environ.pop(_name, None)





@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


@pytest.fixture(scope="session")
def make_app(database_url, signing_key, tmp_path_factory):
    """Build an app on the test database; keyword overrides go into its config."""
    instance = tmp_path_factory.mktemp("instance")

    def build(**overrides):
        settings = {
            "TESTING": True,
            "PRODUCTION": False,  # development mode, as APP_ENV=development gives; tests of production say so
            "RATELIMIT_ENABLED": False,  # test_production.py turns it on where it is the subject
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
        upgrade()
    return app


@pytest.fixture
def app(_schema):
    yield _schema
    with _schema.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("TRUNCATE movie_actors, movies, actors, idempotency_keys, history "
                                    "RESTART IDENTITY CASCADE"))
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
def producer(headers) -> dict:
    return headers("executive-producer")


@pytest.fixture
def api(client, producer):
    """Call the API as an executive producer: api("POST", "/movies", json=...) -> response."""

    def call(method: str, path: str, **kwargs):
        return client.open(path, method=method, headers={**producer, **kwargs.pop("headers", {})}, **kwargs)

    return call


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
