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

from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import Column, delete, insert, select, update

from errors import ApiError, not_found
from models import Actor, Movie, db, movie_actors
from schemas import ActorPublic, MoviePublic
from transactions import Restart, changed, reader


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


def _fields(public: type[BaseModel], embedded: str) -> tuple[str, ...]:
    """A record's own fields, in the order its answers show them: what schemas.py's public shape says
    (the one description of a record), less the id and the embedded summaries. Both list paths
    (listing.py) and every single-record read take their columns from here."""
    return tuple(name for name in public.model_fields if name not in ("id", embedded))


MOVIE = Side("movie", Movie, _fields(MoviePublic, "actors"), movie_actors.c.movie_id, movie_actors.c.actor_id,
             "actors", "actor_ids")
ACTOR = Side("actor", Actor, _fields(ActorPublic, "movies"), movie_actors.c.actor_id, movie_actors.c.movie_id,
             "movies", "movie_ids")


def read(side: Side, record_id: int) -> dict | None:
    """The record as the API shows it, with the other side's summaries by id, in one statement; None if absent."""
    return read_many(side, [record_id]).get(record_id)


def exists(side: Side, record_id: int) -> bool:
    return reader().scalar(select(side.model.id).where(side.model.id == record_id)) is not None


def read_many(side: Side, ids) -> dict[int, dict]:
    """Records of `side` as the API shows them, by id, in one statement (those of `ids` that exist)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    other = side.other.model
    rows = reader().execute(
        select(side.model.id, *(getattr(side.model, f) for f in side.fields), other.id,
               getattr(other, side.other.label))
        .select_from(side.model)
        .outerjoin(movie_actors, side.own_fk == side.model.id)
        .outerjoin(other, other.id == side.other_fk)
        .where(side.model.id.in_(ids))
        .order_by(side.model.id, other.id)
    ).all()
    found: dict[int, dict] = {}
    for row in rows:
        record = found.get(row[0])
        if record is None:
            record = found[row[0]] = {"id": row[0]}
            for index, field in enumerate(side.fields, start=1):
                value = row[index]
                record[field] = value.isoformat() if field == "release_date" else value
            record[side.embedded] = []
        if row[-2] is not None:
            record[side.embedded].append({"id": row[-2], side.other.label: row[-1]})
    return found


def cast_ids(side: Side, record_id: int) -> list[int]:
    """The ids of the other side's records cast with this one, ascending."""
    return list(db.session.scalars(select(side.other_fk).where(side.own_fk == record_id).order_by(side.other_fk)))


def lock(side: Side, ids, *, for_delete: bool = False) -> set[int]:
    """Lock the records of `side` named by `ids`, in ascending id order; the ids of those that exist."""
    ids = sorted(set(ids))
    if not ids:
        return set()
    statement = select(side.model.id).where(side.model.id.in_(ids)).order_by(side.model.id)
    statement = statement.with_for_update() if for_delete else statement.with_for_update(key_share=True)
    return set(db.session.scalars(statement))


def lock_with_cast(side: Side, record_id: int, more_others=(), *,
                   for_delete: bool = False) -> tuple[list[int], set[int]]:
    """Lock a record, the other side's records cast with it and `more_others`, in the lock order;
    404 when the record does not exist. Returns the record's cast (the other side's ids, which stays
    true until the transaction ends) and which of `more_others` exist.

    A movie comes before its actors, so the movie is locked first and its cast read under the lock. An
    actor's movies come before the actor, so they are read first, locked, and read again once the actor
    is locked: a movie cast in between that is not among those locked means another run (Restart).
    """
    more = set(more_others)
    if side is MOVIE:
        if not lock(MOVIE, [record_id], for_delete=for_delete):
            raise not_found("movie")
        cast = cast_ids(MOVIE, record_id)
        found = lock(ACTOR, set(cast) | more)
        return cast, found & more
    locked = set(cast_ids(ACTOR, record_id)) | more
    found = lock(MOVIE, locked)
    if not lock(ACTOR, [record_id], for_delete=for_delete):
        raise not_found("actor")
    cast = cast_ids(ACTOR, record_id)
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


def create(side: Side, fields: dict, others: list[int], record_id: int | None = None) -> int:
    """Insert a record cast with `others` (locked, checked to exist, by the caller), with `record_id` when
    it is given (a restore); its id."""
    if record_id is not None:
        fields = {**fields, "id": record_id}
    record_id = db.session.execute(insert(side.model).values(**fields).returning(side.model.id)).scalar_one()
    if others:
        db.session.execute(insert(movie_actors), [{side.own_fk.name: record_id, side.other_fk.name: other}
                                                  for other in others])
    changed()
    return record_id


def update_fields(side: Side, record_id: int, fields: dict) -> None:
    if fields:
        db.session.execute(update(side.model).where(side.model.id == record_id).values(**fields))
        changed()


def replace_cast(side: Side, record_id: int, old: list[int], new: list[int]) -> None:
    """Make the record's cast `new` (every id locked and existing), touching only the castings that change."""
    removed, added = set(old) - set(new), [i for i in new if i not in set(old)]
    if removed:
        db.session.execute(delete(movie_actors).where(side.own_fk == record_id, side.other_fk.in_(removed)))
    if added:
        db.session.execute(insert(movie_actors), [{side.own_fk.name: record_id, side.other_fk.name: other}
                                                  for other in added])
    if removed or added:
        changed()


def remove(side: Side, record_id: int) -> None:
    """Delete a locked record; the database's ON DELETE CASCADE removes its castings, never the other side."""
    db.session.execute(delete(side.model).where(side.model.id == record_id))
    changed()


def cast(movie_id: int, actor_id: int) -> bool:
    """Cast an actor in a movie (both locked); False when they already were."""
    exists = db.session.scalar(select(movie_actors.c.movie_id).where(
        movie_actors.c.movie_id == movie_id, movie_actors.c.actor_id == actor_id))
    if exists is not None:
        return False
    db.session.execute(insert(movie_actors).values(movie_id=movie_id, actor_id=actor_id))
    changed()
    return True


def uncast(movie_id: int, actor_id: int) -> bool:
    """Remove a casting (both records locked); False when there was none."""
    removed = db.session.execute(delete(movie_actors).where(
        movie_actors.c.movie_id == movie_id, movie_actors.c.actor_id == actor_id)).rowcount
    if removed:
        changed()
    return bool(removed)
