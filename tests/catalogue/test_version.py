"""The catalogue version (casting/catalogue/version.py), which every list's ETag follows: it counts changes, a
write bumps it once and takes its row lock last, and a change the write's bookkeeping missed still bumps it."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from casting.catalogue import records
from models import db, idempotency_keys
from tests.utils.records import new_actor


def test_catalogue_version_counts_changes(api, app):
    def version():
        with app.app_context():
            return db.session.scalar(text("SELECT version FROM catalogue_version"))

    start = version()
    actor = new_actor(api)
    created = version()
    api("PATCH", f"/actors/{actor['id']}", json={"age": 50})
    changed = version()
    api("PATCH", f"/actors/{actor['id']}", json={})
    assert start < created < changed == version()  # the PATCH that changed nothing left it alone
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(idempotency_keys)) == 0


def test_a_write_bumps_the_catalogue_version_once_and_takes_its_lock_last(app, producer):
    """Every write bumps the one version row, so writes queue on its lock: an API write takes it with its
    last statement, after all its changes (migration 0007), so the queue holds only COMMITs. While another
    transaction holds the row, a create runs every statement up to the bump, then waits there."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite has one writer at a time: there is no queue on the row")
        url = db.engine.url
    holder = create_engine(url, poolclass=NullPool)
    # In autocommit each look is a transaction of its own: pg_stat_activity keeps the first look's query texts for
    # the rest of a transaction (wait events are read afresh), which showed a statement the write had finished.
    watcher = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    answers = []
    try:
        with holder.connect() as held:
            start = held.scalar(text("SELECT version FROM catalogue_version WHERE id = 1 FOR UPDATE"))
            writer = threading.Thread(target=lambda: answers.append(app.test_client().post(
                "/actors", headers=producer, json={"name": "Queued", "age": 40, "gender": "female"})))
            writer.start()
            waiting, deadline = None, time.monotonic() + 10
            with watcher.connect() as watch:
                while waiting is None and time.monotonic() < deadline:
                    waiting = watch.scalar(text(
                        "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> :held"
                        " AND datname = current_database()"),
                        {"held": held.scalar(text("SELECT pg_backend_pid()"))})
                    time.sleep(0.02)
            held.rollback()  # lets the write go on
        writer.join(timeout=10)
    finally:
        holder.dispose()
        watcher.dispose()
    assert waiting is not None, "the write never waited for the version row"
    assert waiting.startswith("UPDATE catalogue_version"), waiting  # not its INSERT: the bump is its last step
    assert answers and answers[0].status_code == 201, answers
    with app.app_context():
        assert db.session.scalar(text("SELECT version FROM catalogue_version")) == start + 1


def test_the_version_follows_a_change_the_writes_bookkeeping_missed(api, app, monkeypatch):
    """Should a write change the catalogue without saying so (transactions.changed), the triggers saw it
    and its last statement bumps the version all the same: list ETags never go stale."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("on SQLite the triggers bump the version themselves")
    before = api("GET", "/movies").headers["ETag"]
    monkeypatch.setattr(records, "changed", lambda: None)
    new_actor(api)
    assert api("GET", "/movies", headers={"If-None-Match": before}).status_code == 200
