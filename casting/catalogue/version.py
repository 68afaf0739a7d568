"""The catalogue version: one number that grows with every committed change to movies, actors or castings
(models.catalogue_version). Every list's ETag, the history's included, is made from it, so a list
revalidates with one indexed read, exactly, on every instance.

- An API write bumps it as its last statement (`finish_write`), so that its row lock is the last lock
  every write takes and writes queue on it only for their COMMIT.
- Changes made outside the API (psql, a migration) bump it through triggers (migrations 0006 and 0007);
  inside an API write the triggers only note the change (`casting.catalogue_changed`), and the write's
  last statement bumps it when either the write or a trigger says the catalogue changed.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select, text, update

from casting.web.transactions import fetch_row
from models import catalogue_version, db

BUMP = update(catalogue_version).where(catalogue_version.c.id == 1).values(version=catalogue_version.c.version + 1)
_CURRENT = select(catalogue_version.c.version).where(catalogue_version.c.id == 1)
CURRENT_SQL = "SELECT version FROM catalogue_version WHERE id = 1"
# PostgreSQL: a write's first statement tells the catalogue triggers (migration 0007) that this write bumps
# the version itself, last; its last statement bumps it when the write, or a trigger, says the catalogue
# changed, and learns the transaction id in the same round trip.
# Through a pooler in transaction mode no statement timeout is set at connect: a write sets its own, for its
# transaction only (NULL keeps the connection's).
_API_WRITE = text("SELECT set_config('casting.api_write', 'on', true), "
                  "set_config('statement_timeout', coalesce(:timeout, current_setting('statement_timeout')), true)")
_BUMP_IF_CHANGED = text(
    "UPDATE catalogue_version SET version = version + 1 "
    "WHERE id = 1 AND (:changed OR current_setting('casting.catalogue_changed', true) = 'on') "
    "RETURNING pg_current_xact_id()::text, version")


def _local_timeout() -> str | None:
    config = current_app.config
    return str(config["DB_STATEMENT_TIMEOUT_MS"]) if config.get("DATABASE_POOLED") else None


def current(connection=None) -> int:
    """The catalogue version now (a list 304's whole read), or in `connection`'s snapshot (an export's)."""
    if connection is not None:
        return connection.scalar(_CURRENT)
    # PostgreSQL's autocommit read (a 304): the SQL as is on the pooled connection's cursor (transactions.fetch_row).
    return fetch_row(CURRENT_SQL, None, _CURRENT, "casting_catalogue_version")[0]


def column():
    """The catalogue version as a column of a statement that reads a list (the same snapshot)."""
    return _CURRENT.scalar_subquery()


def begin_write() -> None:
    """A write's first statement (transactions.run's `begin`)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(_API_WRITE, {"timeout": _local_timeout()})


def finish_write(changed: bool) -> tuple[bool, str | None, int | None]:
    """A write's last statement (transactions.run's `finish`): bump the version when the catalogue changed.
    Returns whether it did, on PostgreSQL the transaction id, and the version it made, learnt in the same
    round trip."""
    if db.engine.dialect.name == "postgresql":
        # Also when the write did not say it changed anything but a trigger saw a change: the version
        # follows the catalogue whatever the bookkeeping says.
        row = db.session.execute(_BUMP_IF_CHANGED, {"changed": changed}).one_or_none()
        return (False, None, None) if row is None else (True, row[0], row[1])
    if not changed:
        return False, None, None
    return True, None, db.session.execute(BUMP.returning(catalogue_version.c.version)).scalar_one()


def bump() -> None:
    """Bump the version in the current transaction (the history's purge: its lists changed)."""
    db.session.execute(BUMP)
