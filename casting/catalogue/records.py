"""One movie or one actor: its representation, the locks a change to it takes, and the change itself.

The lock order keeps any two writes from deadlocking: a write first locks the movies it touches, by
ascending id, then the actors it touches, by ascending id. A write that changes whether a movie and an
actor are cast together locks both, so while a write holds a record's lock nobody else can change that
record's cast. Rows are locked `FOR NO KEY UPDATE`, which leaves free the `FOR KEY SHARE` lock that a
foreign-key check takes on the other side (`FOR UPDATE` there was what made two castings deadlock), and
`FOR UPDATE` only when the row is about to be deleted.

Writes use explicit statements, never the ORM's unit of work, so a row that another write removed first
is a matter of counting rows, not a StaleDataError.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from pydantic import BaseModel
from sqlalchemy import Column, bindparam, delete, insert, select, tuple_, update

from casting.catalogue import bulk, version
from casting.errors import ApiError, not_found
from casting.schemas.responses import ActorPublic, MoviePublic
from casting.web import conditional
from casting.web.transactions import Restart, changed, fetch_row, reader
from models import ID_MAX, Actor, Movie, db, movie_actors


@dataclass(frozen=True)
class Side:
    """One side of the casting: how to read, lock and change its records."""

    noun: str  # "movie" / "actor"
    model: type
    fields: tuple[str, ...]  # the record's own fields, after its id
    own_fk: Column  # the movie_actors column naming this side
    other_fk: Column  # the movie_actors column naming the other side
    embedded: str  # "actors" / "movies": the other side's summaries in this side's records
    cast_field: str  # "actor_ids" / "movie_ids": the request field that replaces them

    @property
    def other(self) -> Side:
        return ACTOR if self is MOVIE else MOVIE

    @property
    def embedded_by_other(self) -> str:
        """This side's name in the other side's records, and as a list: "movies" / "actors"."""
        return self.other.embedded

    @property
    def label(self) -> str:
        """The field that names a record of this side in the other side's summaries."""
        return self.fields[0]


@dataclass(frozen=True)
class Role:
    """What a casting says besides who is in what: the character played and the place in the credits."""

    character: str | None = None
    billing: int | None = None

    def shown(self) -> dict:
        """As a summary shows it: only what is set."""
        return {name: value for name, value in (("character", self.character), ("billing", self.billing))
                if value is not None}

    def row(self) -> dict:
        return {"character": self.character, "billing": self.billing}

    def without_billing(self) -> Role:
        return replace(self, billing=None)


BARE = Role()


def role_of(body) -> Role:
    """The role a validated body (casting.schemas.bodies.Role) asks for."""
    return Role(body.character, body.billing)
# A cast: the other side's records by id, each with its casting's role.
Cast = dict[int, Role]


def _fields(public: type[BaseModel], embedded: str) -> tuple[str, ...]:
    """A record's own fields, in the order its answers show them: what its public shape says
    (casting/schemas/responses.py, the one description of a record), less the id and the embedded summaries.
    Both list paths (casting/catalogue/listing.py) and every single-record read take their columns from here."""
    return tuple(name for name in public.model_fields if name not in ("id", embedded, *Role().row()))


MOVIE = Side("movie", Movie, _fields(MoviePublic, "actors"), movie_actors.c.movie_id, movie_actors.c.actor_id,
             "actors", "actor_ids")
ACTOR = Side("actor", Actor, _fields(ActorPublic, "movies"), movie_actors.c.actor_id, movie_actors.c.movie_id,
             "movies", "movie_ids")


class Record(dict):
    """A record as the API shows it (its JSON), and its ETag beside, not in it."""

    __slots__ = ("etag",)


def read(side: Side, record_id: int) -> Record | None:
    """The record as the API shows it, with the other side's summaries by id, in one statement; None if absent."""
    return read_many(side, [record_id]).get(record_id)


def read_at_version(side: Side, record_id: int) -> tuple[Record | None, int]:
    """The record as `read` gives it, and the catalogue version of the snapshot it was read in: one statement."""
    found = read_many(side, [record_id], with_version=True)
    return found.get(record_id), found.get("version", 0)


def current_etag(side: Side, record_id: int) -> tuple[str | None, int]:
    """The record's ETag as it is now (None: there is none) and the catalogue version of the snapshot: one row
    read by primary key (a record's 304), never the record itself."""
    if not 0 < record_id <= ID_MAX:  # no record has it (the path takes up to ten digits), nor does the prepared
        return None, 0               # read's integer parameter: PostgreSQL would refuse it, "out of range"
    # PostgreSQL's autocommit read: the SQL as is on the pooled connection's cursor (transactions.fetch_row).
    row = fetch_row(_ETAG_SQL[side.noun], {"id": record_id}, _etag_statement(side), f"casting_{side.noun}_etag")
    if row is None:
        return None, 0
    return conditional.record_etag(side.noun, record_id, row[0], row[1]), row[2]


# `_etag_statement` as psycopg2 takes it: PostgreSQL reads run it as is, with nothing compiled on the hot path.
_ETAG_SQL = {
    "movie": "SELECT version, cast_version, (SELECT version FROM catalogue_version WHERE id = 1) FROM movies "
             "WHERE id = %(id)s",
    "actor": "SELECT version, cast_version, (SELECT version FROM catalogue_version WHERE id = 1) FROM actors "
             "WHERE id = %(id)s",
}


@functools.cache
def _etag_statement(side: Side):
    model = side.model
    return select(model.version, model.cast_version, version.column()).where(model.id == bindparam("id"))


def exists(side: Side, record_id: int) -> bool:
    return reader().scalar(select(side.model.id).where(side.model.id == record_id)) is not None


def cast_order(side: Side) -> list:
    """How a record's embedded summaries are ordered: a movie's cast by billing (unbilled last), then by id;
    an actor's movies by id."""
    if side is MOVIE:
        return [movie_actors.c.billing.asc().nulls_last(), side.other_fk]
    return [side.other_fk]


def read_many(side: Side, ids, *, with_version: bool = False) -> dict:
    """Records of `side` as the API shows them, with their ETags, by id, in one statement (those of `ids` that
    exist); with the catalogue version of that statement's snapshot under "version" when asked."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    other = side.other.model
    at_version = [version.column()] if with_version else []
    own = len(side.fields)
    rows = reader().execute(
        select(side.model.id, *(getattr(side.model, f) for f in side.fields), side.model.version,
               side.model.cast_version, *at_version, movie_actors.c.character, movie_actors.c.billing, other.id,
               getattr(other, side.other.label))
        .select_from(side.model)
        .outerjoin(movie_actors, side.own_fk == side.model.id)
        .outerjoin(other, other.id == side.other_fk)
        .where(ids_in(side.model.id, ids))
        .order_by(side.model.id, *cast_order(side))
    ).all()
    found: dict = {}
    for row in rows:
        if with_version:
            found["version"] = row[own + 3]
        record = found.get(row[0])
        if record is None:
            record = found[row[0]] = Record(id=row[0])
            for index, field in enumerate(side.fields, start=1):
                value = row[index]
                record[field] = value.isoformat() if field == "release_date" else value
            record[side.embedded] = []
            record.etag = conditional.record_etag(side.noun, row[0], row[own + 1], row[own + 2])
        if row[-2] is not None:
            record[side.embedded].append({"id": row[-2], side.other.label: row[-1], **Role(*row[-4:-2]).shown()})
    return found


def ids_in(column, ids: list[int]):
    """`column IN ids`: a list of parameters for a write's few records, one parameter for an import's many
    (SQLite takes at most 32,766 parameters a statement)."""
    return column.in_(ids) if len(ids) <= 100 else bulk.among(column, ids)


def cast_of(side: Side, record_id: int) -> Cast:
    """The other side's records cast with this one, by ascending id, with their castings' roles."""
    rows = db.session.execute(select(side.other_fk, movie_actors.c.character, movie_actors.c.billing)
                              .where(side.own_fk == record_id).order_by(side.other_fk))
    return {other: Role(character, billing) for other, character, billing in rows}


def lock(side: Side, ids, *, for_delete: bool = False) -> set[int]:
    """Lock the records of `side` named by `ids`, in ascending id order; the ids of those that exist."""
    ids = sorted(set(ids))
    if not ids:
        return set()
    statement = select(side.model.id).where(ids_in(side.model.id, ids)).order_by(side.model.id)
    statement = statement.with_for_update() if for_delete else statement.with_for_update(key_share=True)
    return set(db.session.scalars(statement))


def lock_with_cast(side: Side, record_id: int, more_others=(), *,
                   for_delete: bool = False) -> tuple[Cast, set[int]]:
    """Lock a record, the other side's records cast with it and `more_others`, in the lock order;
    404 when the record does not exist. Returns the record's cast (which stays true until the transaction
    ends) and which of `more_others` exist.

    A movie comes before its actors, so the movie is locked first and its cast read under the lock. An
    actor's movies come before the actor, so they are read first, locked, and read again once the actor
    is locked: a movie cast in between that is not among those locked means another run (Restart).
    """
    more = set(more_others)
    if side is MOVIE:
        if not lock(MOVIE, [record_id], for_delete=for_delete):
            raise not_found("movie")
        cast = cast_of(MOVIE, record_id)
        found = lock(ACTOR, set(cast) | more)
        return cast, found & more
    locked = set(cast_of(ACTOR, record_id)) | more
    found = lock(MOVIE, locked)
    if not lock(ACTOR, [record_id], for_delete=for_delete):
        raise not_found("actor")
    cast = cast_of(ACTOR, record_id)
    if not set(cast) <= locked:
        raise Restart(f"actor {record_id} was cast in another movie while its movies were being locked")
    return cast, found & more


def lock_one(side: Side, record_id: int) -> None:
    """Lock one record whose cast this write leaves alone; 404 when it does not exist."""
    if not lock(side, [record_id]):
        raise not_found(side.noun)


def require_existing(side: Side, ids: list[int], found: set[int], field: str) -> None:
    """422 naming `field` when any of `ids` is not among the `found` records of `side` (what `lock` returned)."""
    missing = [i for i in ids if i not in found]
    if missing:
        message = f"no {side.noun} with id " + ", ".join(map(str, missing))
        raise ApiError(422, f"{field} {message}", {field: [message]})


def _rows(side: Side, record_id: int, cast: Cast) -> list[dict]:
    return [{side.own_fk.name: record_id, side.other_fk.name: other, **role.row()} for other, role in cast.items()]


def create(side: Side, fields: dict, cast: Cast, record_id: int | None = None) -> int:
    """Insert a record with its cast (the other side's records locked and checked to exist by the caller),
    with `record_id` when it is given (a restore); its id."""
    if record_id is not None:
        fields = {**fields, "id": record_id}
    record_id = db.session.execute(insert(side.model).values(**fields).returning(side.model.id)).scalar_one()
    if cast:
        db.session.execute(insert(movie_actors), _rows(side, record_id, cast))
    changed()
    return record_id


def update_fields(side: Side, record_id: int, fields: dict) -> None:
    if fields:
        db.session.execute(update(side.model).where(side.model.id == record_id).values(**fields))
        changed()


def replace_cast(side: Side, record_id: int, old: Cast, new: Cast) -> None:
    """Make the record's cast `new` (every id locked and existing, billings unique among them), touching only
    the castings that change: two statements at most, whatever the size of the cast. A casting whose role
    changes is written again, so that billings can trade places within the one request."""
    gone = [other for other, role in old.items() if new.get(other) != role]
    written = {other: role for other, role in new.items() if old.get(other) != role}
    if gone:
        db.session.execute(delete(movie_actors).where(side.own_fk == record_id, side.other_fk.in_(gone)))
    if written:
        db.session.execute(insert(movie_actors), _rows(side, record_id, written))
    if gone or written:
        changed()


def remove(side: Side, record_id: int) -> None:
    """Delete a locked record; the database's ON DELETE CASCADE removes its castings, never the other side."""
    db.session.execute(delete(side.model).where(side.model.id == record_id))
    changed()


def billing_holder(movie_id: int, billing: int, actor_id: int) -> int | None:
    """Another actor cast in the movie at that billing (the movie locked), or None."""
    return db.session.scalar(select(movie_actors.c.actor_id).where(
        movie_actors.c.movie_id == movie_id, movie_actors.c.billing == billing, movie_actors.c.actor_id != actor_id))


def held_billings(actor_id: int, wanted: dict[int, int]) -> set[int]:
    """Of the movies in `wanted` (movie id: billing), those where another actor holds that billing now: one
    statement, however many."""
    if not wanted:
        return set()
    pairs = tuple_(movie_actors.c.movie_id, movie_actors.c.billing).in_(list(wanted.items()))
    return set(db.session.scalars(select(movie_actors.c.movie_id).where(pairs, movie_actors.c.actor_id != actor_id)))


def set_casting(movie_id: int, actor_id: int, role: Role | None, now: Role | None) -> bool:
    """Cast an actor in a movie (both locked) as `role`, or keep the casting as it is (`role` None); `now` is
    the casting as it is (None: not cast). Whether anything changed."""
    if now is None:
        db.session.execute(insert(movie_actors).values(movie_id=movie_id, actor_id=actor_id, **(role or BARE).row()))
    elif role is not None and role != now:
        db.session.execute(update(movie_actors).where(movie_actors.c.movie_id == movie_id,
                                                      movie_actors.c.actor_id == actor_id).values(**role.row()))
    else:
        return False
    changed()
    return True


def casting(movie_id: int, actor_id: int) -> Role | None:
    """The casting of an actor in a movie, or None."""
    row = db.session.execute(select(movie_actors.c.character, movie_actors.c.billing).where(
        movie_actors.c.movie_id == movie_id, movie_actors.c.actor_id == actor_id)).one_or_none()
    return None if row is None else Role(*row)


def remove_casting(movie_id: int, actor_id: int) -> bool:
    """Remove a casting (both records locked); False when there was none."""
    removed = db.session.execute(delete(movie_actors).where(
        movie_actors.c.movie_id == movie_id, movie_actors.c.actor_id == actor_id)).rowcount
    if removed:
        changed()
    return bool(removed)
