"""The history: every change made through the API, who made it, when, and the record before and after.

A write adds its entries in its own transaction, in one statement however many there are, so a change
without its entry (or the other way round) cannot exist, and an idempotent replay (which runs no write)
adds none. An entry keeps a record as a snapshot of its fields and its cast as ids: a movie as
`{"title", "release_date", "actor_ids"}`, an actor as `{"name", "age", "gender", "movie_ids"}`.

- `created`, `updated`, `deleted`, `restored`: the record's own change (`before` is null for `created`
  and `restored`, `after` null for `deleted`).
- `cast`, `uncast`: a casting made or removed, as seen from one record: one entry on the movie and one
  on the actor. Creating, changing, deleting or restoring a record writes one on each record of the
  other side whose cast it changed, so every record's history explains every change to it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, g, jsonify, request
from sqlalchemy import Select, delete, func, insert, select

import conditional
import cursors
import listing
import records
import transactions
from errors import not_found
from models import db, history
from records import Side


def snapshot(side: Side, record: dict | None) -> dict | None:
    """A record as its history keeps it: its fields and its cast as ids."""
    if record is None:
        return None
    kept: dict[str, Any] = {field: record[field] for field in side.fields}
    kept[side.cast_field] = [other["id"] for other in record[side.embedded]]
    return kept


def fields(side: Side, kept: dict) -> dict:
    """The record's own fields from a snapshot, as the database takes them (a restore)."""
    values = {field: kept[field] for field in side.fields}
    if "release_date" in values:
        values["release_date"] = dt.date.fromisoformat(values["release_date"])
    return values


def entry(action: str, side: Side, record_id: int, before: dict | None, after: dict | None) -> dict:
    """An entry about one record, from its representations (as records.read gives them) before and after."""
    return {"action": action, "record_type": side.noun, "record_id": record_id,
            "before": snapshot(side, before), "after": snapshot(side, after)}


def castings(side: Side, records_before: dict[int, dict], other_id: int, *, cast: bool) -> list[dict]:
    """`cast` (or `uncast`) entries on records of `side`, each of which gained (or lost) `other_id`."""
    entries = []
    for record_id, record in sorted(records_before.items()):
        before = snapshot(side, record)
        others = set(before[side.cast_field])
        others = others | {other_id} if cast else others - {other_id}
        after = {**before, side.cast_field: sorted(others)}
        entries.append({"action": "cast" if cast else "uncast", "record_type": side.noun,
                        "record_id": record_id, "before": before, "after": after})
    return entries


def write(entries: list[dict]) -> None:
    """Add the entries of the current write, stamped with its token's subject, the request id and the time."""
    if not entries:
        return
    now = dt.datetime.now(dt.UTC)
    # To the millisecond, as entries show it, so that `since`/`until` taken from an entry include it.
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    stamp = {"at": now, "subject": g.claims["sub"], "request_id": g.request_id}
    db.session.execute(insert(history), [{**stamp, **e} for e in entries])


def last_entry(side: Side, record_id: int):
    """The newest entry about a record (or None)."""
    return db.session.execute(
        select(history).where(history.c.record_type == side.noun, history.c.record_id == record_id)
        .order_by(history.c.id.desc()).limit(1)
    ).one_or_none()


def query(filters: dict) -> Select:
    """The entries matching `filters` (type, record_id, action, subject, since, until), newest first."""
    columns = {"type": history.c.record_type, "record_id": history.c.record_id, "action": history.c.action,
               "subject": history.c.subject}
    statement = select(history)
    for name, value in filters.items():
        if name == "since":
            statement = statement.where(history.c.at >= value)
        elif name == "until":
            statement = statement.where(history.c.at <= value)
        else:
            statement = statement.where(columns[name] == value)
    return statement.order_by(history.c.id.desc())


def count(statement: Select) -> Select:
    return select(func.count()).select_from(statement.order_by(None).subquery())


def as_json(row) -> dict:
    return {
        "id": row.id,
        "at": _instant(row.at),
        "subject": row.subject,
        "action": row.action,
        "record": {"type": row.record_type, "id": row.record_id},
        "before": row.before,
        "after": row.after,
        "request_id": row.request_id,
    }


def _instant(moment: dt.datetime) -> str:
    """2026-11-28T13:05:09.123Z: UTC, to the millisecond."""
    moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def respond(params, filters: dict, parent_id: int | None = None) -> Response:
    """A page of history entries, newest first, with the list's ETag, cursors and Link header (or a 304)."""
    if request.headers.get("If-None-Match") is not None:
        etag = conditional.list_etag(listing.version())
        if conditional.none_match(etag):
            return conditional.not_modified(etag)
    filters = {**{k: v for k, v in params.model_dump(include={"type", "action", "subject", "since", "until"}).items()
                  if v is not None}, **filters}
    window = cursors.window(params, parent_id, (int,))
    statement = query(filters)
    total, at_version = db.session.execute(count(statement).add_columns(listing.version_column())).one()
    if window.after is not None:
        statement = statement.where(history.c.id < window.after[0])
    elif window.before is not None:  # read upwards from the cursor, then turned round
        statement = statement.where(history.c.id > window.before[0]).order_by(None).order_by(history.c.id.asc())
    rows = db.session.execute(statement.limit(window.per_page + 1).offset(window.offset)).all()
    more, rows = len(rows) > window.per_page, rows[: window.per_page]
    if window.before is not None:
        rows.reverse()
    first, last = ([rows[0].id], [rows[-1].id]) if rows else (None, None)
    number, next_cursor, prev_cursor = cursors.neighbours(params, parent_id, window, more, first, last)
    response = jsonify({"success": True, "history": [as_json(row) for row in rows], "total": total, "page": number,
                        "per_page": params.per_page, "next_cursor": next_cursor, "prev_cursor": prev_cursor})
    response.headers["ETag"] = conditional.list_etag(at_version)
    link = cursors.links(next_cursor, prev_cursor)
    if link:
        response.headers["Link"] = link
    return response


def respond_for_record(side: Side, record_id: int, params) -> Response:
    """One record's history; 404 only for an id that no record has, or ever had, in the history."""
    if records.read(side, record_id) is None and last_entry(side, record_id) is None:
        raise not_found(side.noun)
    return respond(params, {"type": side.noun, "record_id": record_id}, record_id)


def purge(before: dt.datetime) -> int:
    """Delete the entries older than `before` (for deployments that must not keep them); how many."""
    deleted = db.session.execute(delete(history).where(history.c.at < before)).rowcount
    db.session.execute(transactions.BUMP_VERSION)  # the history lists changed: their ETags must too
    db.session.commit()
    return deleted
