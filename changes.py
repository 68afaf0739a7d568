"""The changes a write makes to the catalogue, each in the order that keeps writes honest: lock what it
touches (records.py's lock order), check If-Match against the record as it is now, change it, and record
the change in the history, all inside the write's transaction (transactions.safe_write). Each returns
what the answer shows; api.py shapes the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import conditional
import history
import records
from errors import ApiError, not_found
from records import ACTOR, MOVIE, Side


def create(side: Side, body) -> dict:
    """POST: the other side's records it is cast with are locked first, so none can vanish meanwhile."""
    fields = body.model_dump(exclude={side.cast_field})
    others = getattr(body, side.cast_field)
    records.require_existing(side.other, others, records.lock(side.other, others), side.cast_field)
    others_before = records.read_many(side.other, others)
    record = records.read(side, records.create(side, fields, others))
    history.write([history.entry("created", side, record["id"], None, record),
                   *history.castings(side.other, others_before, record["id"], cast=True)])
    return record


def update(side: Side, record_id: int, body) -> dict:
    """PATCH: fields change in place; a new cast locks every record whose cast changes, in the lock order."""
    changes = body.model_dump(exclude_unset=True)
    new_cast = changes.pop(side.cast_field, None)
    if new_cast is None:
        records.lock_one(side, record_id)
    else:
        old_cast, found = records.lock_with_cast(side, record_id, new_cast)
    before = records.read(side, record_id)
    conditional.require_match(conditional.record_etag(before))
    entries = []
    if new_cast is not None:
        records.require_existing(side.other, new_cast, found, side.cast_field)
        added, removed = set(new_cast) - set(old_cast), set(old_cast) - set(new_cast)
        others_before = records.read_many(side.other, added | removed)
        records.replace_cast(side, record_id, old_cast, new_cast)
        entries += history.castings(side.other, {i: others_before[i] for i in added}, record_id, cast=True)
        entries += history.castings(side.other, {i: others_before[i] for i in removed}, record_id, cast=False)
    records.update_fields(side, record_id, changes)
    after = records.read(side, record_id)
    if history.snapshot(side, after) != history.snapshot(side, before):
        entries.insert(0, history.entry("updated", side, record_id, before, after))
    history.write(entries)
    return after


def delete(side: Side, record_id: int) -> None:
    """DELETE: the record and its castings go (ON DELETE CASCADE); the other side's records stay."""
    cast, _ = records.lock_with_cast(side, record_id, for_delete=True)
    before = records.read(side, record_id)
    conditional.require_match(conditional.record_etag(before))
    others_before = records.read_many(side.other, cast)
    records.remove(side, record_id)
    history.write([history.entry("deleted", side, record_id, before, None),
                   *history.castings(side.other, others_before, record_id, cast=False)])


def restore(side: Side, record_id: int) -> tuple[dict, list[int]]:
    """Undo a delete: the record as its `deleted` entry kept it, with its id, cast with those of its
    records of the other side that still exist (locked first, as for a create). Returns the record and
    the others it could not be cast with again."""
    if records.lock(side, [record_id]):
        raise ApiError(409, f"{side.noun} {record_id} exists: there is no delete to undo")
    last = history.last_entry(side, record_id)
    if last is None or last.action != "deleted":
        raise ApiError(404, f"no deleted {side.noun} with id {record_id} in the history")
    fields, others = history.fields(side, last.before), last.before[side.cast_field]
    found = records.lock(side.other, others)
    back = [i for i in others if i in found]
    others_before = records.read_many(side.other, back)
    records.create(side, fields, back, record_id=record_id)
    record = records.read(side, record_id)
    history.write([history.entry("restored", side, record_id, None, record),
                   *history.castings(side.other, others_before, record_id, cast=True)])
    return record, sorted(set(others) - found)


def cast(movie_id: int, actor_id: int) -> dict:
    """PUT of a casting (casting again changes nothing); the movie as it is after."""
    return _change_casting(movie_id, actor_id, records.cast, uncast=False)


def uncast(movie_id: int, actor_id: int) -> dict:
    """DELETE of a casting (404 when there is none); the movie as it is after."""
    return _change_casting(movie_id, actor_id, records.uncast, uncast=True)


def _change_casting(movie_id: int, actor_id: int, change: Callable[[int, int], bool], *, uncast: bool) -> dict:
    """The movie, then the actor, locked; If-Match is compared with the movie's ETag."""
    records.lock_one(MOVIE, movie_id)
    records.lock_one(ACTOR, actor_id)
    movie_before = records.read(MOVIE, movie_id)
    conditional.require_match(conditional.record_etag(movie_before))
    actor_before = records.read(ACTOR, actor_id)
    if not change(movie_id, actor_id):
        if uncast:
            raise not_found("casting")
        return movie_before  # already cast: nothing changed
    movie = records.read(MOVIE, movie_id)
    history.write([history.entry("uncast" if uncast else "cast", MOVIE, movie_id, movie_before, movie),
                   *history.castings(ACTOR, {actor_id: actor_before}, movie_id, cast=not uncast)])
    return movie
