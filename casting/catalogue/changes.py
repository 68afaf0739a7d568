"""The changes a write makes to the catalogue, each in the order that keeps writes honest: lock what it
touches (records.py's lock order), check the preconditions against the record as it is now, change it, and
record the change in the history, all inside the write's transaction (casting.api.writes.safe_write). Each
returns what the answer shows; casting/api/answers.py shapes the answer.

A cast is given either as ids (`actor_ids`, `movie_ids`: who is in it; castings that stay keep their
character and billing, new ones have none) or, on a movie, as `cast` (each casting with its character and
billing: the whole cast, roles included, replaced at once, so billings can trade places in one request).
"""

from __future__ import annotations

from casting.catalogue import history, records
from casting.catalogue.records import ACTOR, BARE, MOVIE, Cast, Role, Side
from casting.errors import ApiError, not_found
from casting.web import conditional


def _requested_cast(side: Side, body, now: Cast) -> Cast | None:
    """The cast a body asks for (None: it leaves the cast alone), from the cast as it is `now`."""
    members = getattr(body, "cast", None) if "cast" in body.model_fields_set else None
    if members is not None:
        return {member.actor_id: records.role_of(member) for member in members}
    ids = getattr(body, side.cast_field) if side.cast_field in body.model_fields_set else None
    if ids is None:
        return None
    return {other: now.get(other, BARE) for other in ids}


def _cast_field(body, side: Side) -> str:
    """The body's field that named the cast, for errors about the records it names."""
    return "cast" if "cast" in body.model_fields_set else side.cast_field


def create(side: Side, body) -> dict:
    """POST: the other side's records it is cast with are locked first, so none can vanish meanwhile."""
    conditional.check_write(None)
    fields = body.model_dump(exclude={side.cast_field, "cast"})
    cast = _requested_cast(side, body, {}) or {}
    records.require_existing(side.other, list(cast), records.lock(side.other, cast), _cast_field(body, side))
    others_before = records.read_many(side.other, cast)
    record = records.read(side, records.create(side, fields, cast))
    others_after = records.read_many(side.other, cast)
    history.write([history.entry("created", side, record["id"], None, record),
                   *history.castings(side.other, others_before, others_after, side, record, "created")])
    return record


def update(side: Side, record_id: int, body, *, cast_only: bool = False) -> dict:
    """PATCH (and a movie's cast PUT, `cast_only`: its precondition covers the cast alone): fields change in
    place; a new cast locks every record whose cast changes, in the lock order."""
    changes = body.model_dump(exclude_unset=True, exclude={side.cast_field, "cast"})
    asks_cast = bool({side.cast_field, "cast"} & body.model_fields_set)
    if asks_cast:
        named = [member.actor_id for member in body.cast] if "cast" in body.model_fields_set \
            else getattr(body, side.cast_field)
        old_cast, found = records.lock_with_cast(side, record_id, named)
    elif side is ACTOR and side.label in changes:
        # A rename changes the actor's movies too (their versions: migration 0011): they are locked first, in
        # the lock order, as when the cast changes.
        records.lock_with_cast(side, record_id)
    else:
        records.lock_one(side, record_id)
    before = records.read(side, record_id)
    conditional.check_write(before.etag, cast_only=cast_only)
    entries = []
    if asks_cast:
        new_cast = _requested_cast(side, body, old_cast)
        records.require_existing(side.other, list(new_cast), found, _cast_field(body, side))
        touched = {other for other in old_cast.keys() | new_cast.keys() if old_cast.get(other) != new_cast.get(other)}
        others_before = records.read_many(side.other, touched)
        records.replace_cast(side, record_id, old_cast, new_cast)
    records.update_fields(side, record_id, changes)
    after = records.read(side, record_id)
    if asks_cast:
        entries += history.castings(side.other, others_before, records.read_many(side.other, touched), side, after)
    if history.snapshot(side, after) != history.snapshot(side, before):
        entries.insert(0, history.entry("updated", side, record_id, before, after))
    history.write(entries)
    return after


def delete(side: Side, record_id: int) -> None:
    """DELETE: the record and its castings go (ON DELETE CASCADE); the other side's records stay."""
    cast, _ = records.lock_with_cast(side, record_id, for_delete=True)
    before = records.read(side, record_id)
    conditional.check_write(before.etag)
    others_before = records.read_many(side.other, cast)
    records.remove(side, record_id)
    others_after = records.read_many(side.other, cast)
    history.write([history.entry("deleted", side, record_id, before, None),
                   *history.castings(side.other, others_before, others_after, side, before, "deleted")])


def restore(side: Side, record_id: int) -> tuple[dict, list[int], list[int]]:
    """Undo a delete: the record as its `deleted` entry kept it, with its id, cast with those of its
    records of the other side that still exist (locked first, as for a create), with the characters and
    billings they had. Returns the record, the others it could not be cast with again, and those it was
    cast with again without its billing, which another actor holds now.

    Two restores of one record race: the loser either finds the record (409), or, having read the
    history before the winner committed, collides with its insert and runs again (409 then). When the
    newest entry is not a delete, the record may have been restored a moment ago: it is looked for again
    (a new statement sees what committed since), so a loser never answers 404 for a record that exists."""
    conditional.check_write(None)
    if records.lock(side, [record_id]):
        raise _exists(side, record_id)
    last = history.last_entry(side, record_id)
    if last is None or last.action != "deleted":
        if records.exists(side, record_id):
            raise _exists(side, record_id)
        raise ApiError(404, f"no deleted {side.noun} with id {record_id} in the history")
    fields, kept = history.fields(side, last.before), history.cast(side, last.before)
    found = records.lock(side.other, kept)
    back = {other: role for other, role in kept.items() if other in found}
    unbilled = []
    if side is ACTOR:  # (a restored movie's castings are all its own: none can hold its billings meanwhile)
        wanted = {movie: role.billing for movie, role in back.items() if role.billing is not None}
        unbilled = sorted(records.held_billings(record_id, wanted))
        back.update({movie: back[movie].without_billing() for movie in unbilled})
    others_before = records.read_many(side.other, back)
    records.create(side, fields, back, record_id=record_id)
    record = records.read(side, record_id)
    others_after = records.read_many(side.other, back)
    history.write([history.entry("restored", side, record_id, None, record),
                   *history.castings(side.other, others_before, others_after, side, record, "restored")])
    return record, sorted(set(kept) - found), unbilled


def _exists(side: Side, record_id: int) -> ApiError:
    return ApiError(409, f"{side.noun} {record_id} exists: there is no delete to undo")


def cast(movie_id: int, actor_id: int, role: Role | None = None) -> dict:
    """PUT of a casting: cast the actor (with `role` as the casting's character and billing, when a body gave
    one; without, a casting that exists stays as it is). Sending it again changes nothing. The movie as it
    is after."""
    return _change_casting(movie_id, actor_id, role, uncast=False)


def uncast(movie_id: int, actor_id: int) -> dict:
    """DELETE of a casting (404 when there is none); the movie as it is after."""
    return _change_casting(movie_id, actor_id, None, uncast=True)


def _change_casting(movie_id: int, actor_id: int, role: Role | None, *, uncast: bool) -> dict:
    """The movie, then the actor, locked; If-Match is compared with the cast part of the movie's ETag (a
    change to the movie's own fields does not refuse a cast or an uncast; a change to its cast does)."""
    records.lock_one(MOVIE, movie_id)
    records.lock_one(ACTOR, actor_id)
    movie_before = records.read(MOVIE, movie_id)
    conditional.check_write(movie_before.etag, cast_only=True)
    actor_before = records.read(ACTOR, actor_id)
    now = records.casting(movie_id, actor_id)
    if uncast:
        if now is None:
            raise not_found("casting")
        records.remove_casting(movie_id, actor_id)
        action = "uncast"
    else:
        if role is not None and role.billing is not None:
            holder = records.billing_holder(movie_id, role.billing, actor_id)
            if holder is not None:
                problem = (f"{role.billing} is held by actor {holder} in this movie: to reorder the cast, "
                           f"send the whole of it with PUT /movies/{movie_id}/cast")
                raise ApiError(422, f"billing {problem}", {"billing": [problem]})
        if not records.set_casting(movie_id, actor_id, role, now):
            return movie_before  # cast already, as asked: nothing changed
        action = "cast" if now is None else "updated"
    movie = records.read(MOVIE, movie_id)
    actor_after = records.read_many(ACTOR, [actor_id])
    history.write([history.entry(action, MOVIE, movie_id, movie_before, movie),
                   *history.castings(ACTOR, {actor_id: actor_before}, actor_after, MOVIE, movie)])
    return movie
