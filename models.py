"""The database: movies, actors, and the movie_actors association between them."""

from __future__ import annotations

import datetime as dt

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

TITLE_MAX = 200
CHARACTER_MAX = 200
BILLING_MIN, BILLING_MAX = 1, 1000
NAME_MAX = 100
GENDER_MAX = 50
AGE_MIN, AGE_MAX = 0, 150
# A token's subject, as the history and the idempotency keys store it (auth.py refuses a longer one).
SUBJECT_MAX = 255
# Ids are PostgreSQL `integer`s: anything larger can never name a row.
ID_MAX = 2**31 - 1

# Named constraints, so migrations name them the same on every database.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=naming_convention)


db = SQLAlchemy(model_class=Base)

# A casting: who plays in which movie, as whom (`character`) and where in the credits (`billing`, unique
# within a movie; castings without one come after those with one). Both optional.
movie_actors = Table(
    "movie_actors",
    Base.metadata,
    Column("movie_id", ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True),
    Column("actor_id", ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True),
    Column("character", String(CHARACTER_MAX),
           CheckConstraint(f"length(character) BETWEEN 1 AND {CHARACTER_MAX}", name="character_length")),
    Column("billing", SmallInteger,
           CheckConstraint(f"billing BETWEEN {BILLING_MIN} AND {BILLING_MAX}", name="billing_range")),
    Index("ix_movie_actors_actor_id", "actor_id"),
    Index("uq_movie_actors_movie_id_billing", "movie_id", "billing", unique=True),
)


# Exact row counts of the big tables, kept by triggers (migration 0002), so an unfiltered
# list's `total` costs one indexed read instead of a COUNT(*) that grows with the table.
table_counts = Table(
    "table_counts",
    Base.metadata,
    Column("table_name", String(50), primary_key=True),
    Column("row_count", BigInteger, nullable=False),
)


# One number that grows with every committed change to movies, actors or castings, bumped by the last
# statement of each write transaction (casting/web/transactions.py). A list's ETag is derived from it: a list
# revalidates with one indexed read, exactly, on every instance.
catalogue_version = Table(
    "catalogue_version",
    Base.metadata,
    Column("id", SmallInteger, CheckConstraint("id = 1", name="single_row"), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

# Secrets the server makes for itself, one row each, made by a migration and shared by every instance on the
# database: `cursors` signs list cursors (casting/catalogue/cursors.py).
server_keys = Table(
    "server_keys",
    Base.metadata,
    Column("name", String(32), primary_key=True),
    Column("secret", LargeBinary, nullable=False),
)

IDEMPOTENCY_KEY_MAX = 255

# The first outcome of each write sent with an Idempotency-Key, per token subject (casting/web/idempotency.py),
# committed in the same transaction as the write.
idempotency_keys = Table(
    "idempotency_keys",
    Base.metadata,
    Column("subject", String(SUBJECT_MAX), primary_key=True),
    Column("key", String(IDEMPOTENCY_KEY_MAX), primary_key=True),
    Column("request_fingerprint", String(64), nullable=False),  # sha256 of method, path, query and body
    Column("status", Integer, nullable=False),
    Column("headers", Text, nullable=False),  # JSON object of the response headers a replay repeats
    Column("body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)


EDITOR_NAME_MAX = 200
EDITOR_EMAIL_MAX = 320
HISTORY_ACTIONS = ("created", "updated", "deleted", "cast", "uncast", "restored")
RECORD_TYPES = ("movie", "actor")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


# Every change made through the API, written in the same transaction as the change (casting/catalogue/history.py). No
# foreign key to the record: its history outlives it.
history = Table(
    "history",
    Base.metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),  # SQLite: the rowid
    Column("at", DateTime(timezone=True), nullable=False),
    Column("subject", String(SUBJECT_MAX), nullable=False),
    Column("action", String(16), CheckConstraint(_one_of("action", HISTORY_ACTIONS), name="action"), nullable=False),
    Column("record_type", String(8), CheckConstraint(_one_of("record_type", RECORD_TYPES), name="record_type"),
           nullable=False),
    Column("record_id", Integer, nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Column("request_id", String(128), nullable=False),
    # Who made the change, as the token named them then (its name and email claims), when it did.
    Column("editor_name", String(EDITOR_NAME_MAX), nullable=True),
    Column("editor_email", String(EDITOR_EMAIL_MAX), nullable=True),
    # An entry written because of a record on the other side (a cast, an uncast, a change to a casting): that
    # record as it was then, and whether it was itself created, deleted or restored by the change.
    Column("other", JSON, nullable=True),
    Index("ix_history_record", "record_type", "record_id", "id"),
    Index("ix_history_subject", "subject", "id"),
    Index("ix_history_at", "at"),
    Index("ix_history_request_id", "request_id", "id"),  # an import's entries (migration 0010)
)

# SQLite would otherwise give the id of the newest record, once deleted, to the next one: a restored
# record's id must never have been handed to another (PostgreSQL's sequences never reuse one).
_NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class Movie(db.Model):
    __tablename__ = "movies"
    __table_args__ = (
        CheckConstraint(f"length(title) BETWEEN 1 AND {TITLE_MAX}", name="title_length"),
        _NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX), index=True)
    release_date: Mapped[dt.date] = mapped_column(index=True)
    # What its ETag is made of, kept by triggers (migration 0011): never written by the app.
    version: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue(), server_onupdate=FetchedValue())
    cast_version: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue(),
                                              server_onupdate=FetchedValue())

    actors: Mapped[list[Actor]] = relationship(
        secondary=movie_actors,
        back_populates="movies",
        order_by="Actor.id",
        passive_deletes=True,
    )


class Actor(db.Model):
    __tablename__ = "actors"
    __table_args__ = (
        CheckConstraint(f"length(name) BETWEEN 1 AND {NAME_MAX}", name="name_length"),
        CheckConstraint(f"length(gender) BETWEEN 1 AND {GENDER_MAX}", name="gender_length"),
        CheckConstraint(f"age BETWEEN {AGE_MIN} AND {AGE_MAX}", name="age_range"),
        _NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), index=True)
    age: Mapped[int] = mapped_column(index=True)
    gender: Mapped[str] = mapped_column(String(GENDER_MAX))
    version: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue(), server_onupdate=FetchedValue())
    cast_version: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue(),
                                              server_onupdate=FetchedValue())

    movies: Mapped[list[Movie]] = relationship(
        secondary=movie_actors,
        back_populates="actors",
        order_by="Movie.id",
        passive_deletes=True,
    )


@event.listens_for(Engine, "connect")
def _sqlite_connection(dbapi_connection, _record):
    if type(dbapi_connection).__module__ == "sqlite3":
        # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless asked per connection.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # The driver would begin a transaction only before the first write, leaving earlier reads
        # outside it: SQLAlchemy begins every transaction instead (below).
        dbapi_connection.isolation_level = None


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    if connection.dialect.name == "sqlite":
        # `BEGIN IMMEDIATE` for writes (casting/web/transactions.py asks for it): the write lock is taken up front,
        # so what a write read stays true until it commits.
        connection.exec_driver_sql(f"BEGIN {connection.get_execution_options().get('sqlite_begin', '')}".strip())
