"""castings say who plays whom: a character and a billing order per casting; history entries keep who made
the change (name, email) and the record on the other side as it was

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 13:00:00

Every existing casting stays, with no character and no billing. Billing is unique within a movie (a unique
index on movie_id, billing: castings without a billing never collide). PostgreSQL indexes characters for
`character=` searches with a trigram index, as titles and names are (0003).
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    # Plain ADD COLUMN on both databases (SQLite takes column CHECKs so): a batch copy of the table would drop
    # SQLite's catalogue-version triggers on it (0006).
    op.execute("ALTER TABLE movie_actors ADD COLUMN character VARCHAR(200) "
               "CONSTRAINT ck_movie_actors_character_length CHECK (length(character) BETWEEN 1 AND 200)")
    op.execute("ALTER TABLE movie_actors ADD COLUMN billing SMALLINT "
               "CONSTRAINT ck_movie_actors_billing_range CHECK (billing BETWEEN 1 AND 1000)")
    op.create_index('uq_movie_actors_movie_id_billing', 'movie_actors', ['movie_id', 'billing'], unique=True)
    if postgresql:
        op.execute("CREATE INDEX ix_movie_actors_character_trgm ON movie_actors USING gin (character gin_trgm_ops)")
    with op.batch_alter_table('history', schema=None) as batch_op:
        batch_op.add_column(sa.Column('editor_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('editor_email', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('other', sa.JSON(), nullable=True))


def downgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    with op.batch_alter_table('history', schema=None) as batch_op:
        batch_op.drop_column('other')
        batch_op.drop_column('editor_email')
        batch_op.drop_column('editor_name')
    if postgresql:
        op.execute("DROP INDEX IF EXISTS ix_movie_actors_character_trgm")
    op.drop_index('uq_movie_actors_movie_id_billing', table_name='movie_actors')
    if postgresql:
        op.execute("ALTER TABLE movie_actors DROP COLUMN billing, DROP COLUMN character")
    else:  # SQLite drops a column only without a CHECK on it: rebuild the table, then its triggers (0006)
        op.execute("CREATE TABLE movie_actors_old (movie_id INTEGER NOT NULL, actor_id INTEGER NOT NULL, "
                   "CONSTRAINT pk_movie_actors PRIMARY KEY (movie_id, actor_id), "
                   "CONSTRAINT fk_movie_actors_movie_id_movies FOREIGN KEY(movie_id) REFERENCES movies (id) "
                   "ON DELETE CASCADE, "
                   "CONSTRAINT fk_movie_actors_actor_id_actors FOREIGN KEY(actor_id) REFERENCES actors (id) "
                   "ON DELETE CASCADE)")
        op.execute("INSERT INTO movie_actors_old (movie_id, actor_id) SELECT movie_id, actor_id FROM movie_actors")
        op.execute("DROP TABLE movie_actors")
        op.execute("ALTER TABLE movie_actors_old RENAME TO movie_actors")
        op.execute("CREATE INDEX ix_movie_actors_actor_id ON movie_actors (actor_id)")
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER movie_actors_catalogue_{event.lower()} AFTER {event} ON movie_actors BEGIN "
                       "UPDATE catalogue_version SET version = version + 1 WHERE id = 1; END")
