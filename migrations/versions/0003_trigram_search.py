"""trigram indexes for q= search on PostgreSQL (pg_trgm)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 16:00:00

`q=` is a case-insensitive substring match (ILIKE '%term%'), which no b-tree index serves: without
these GIN trigram indexes every search, and its exact `total`, reads the whole table. They exist on
PostgreSQL only (SQLite has no pg_trgm) and are not declared in models.py; migrations/env.py keeps
`flask db check` from reporting them.
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

INDEXES = (("ix_movies_title_trgm", "movies", "title"), ("ix_actors_name_trgm", "actors", "name"))


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    # A trusted extension since PostgreSQL 13: the database's owner may create it (so may Heroku's role).
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name, _table, _column in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    # The extension stays: other objects in the database may use it.
