"""the API's writes take the catalogue version's row lock last, at their end, not at their first change

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 19:00:00

Every write bumps catalogue_version's one row, so writes queue on its lock from the moment they take it
until they commit. The API bumps it as a write's last statement (casting/web/transactions.py), so that the queue
holds only COMMITs; 0006's triggers took the lock at a write's first change instead, and held it through
the rest of the write (its other statements, its history, its Idempotency-Key, building its answer).

Inside an API write (the transaction-local setting casting.api_write is on) the triggers now only note,
in casting.catalogue_changed, that the catalogue changed; the write's last statement bumps the version
when it did. Every other change (`flask seed`, a script, psql, a TRUNCATE) bumps it in the trigger, as
before. PostgreSQL only: SQLite has one writer at a time anyway.
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BUMPED_LAST = """
CREATE OR REPLACE FUNCTION catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('casting.api_write', true) = 'on' THEN
        PERFORM set_config('casting.catalogue_changed', 'on', true);
    ELSE
        UPDATE catalogue_version SET version = version + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END $$
"""

BUMPED_AT_ONCE = """
CREATE OR REPLACE FUNCTION catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalogue_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END $$
"""


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(BUMPED_LAST)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(BUMPED_AT_ONCE)
