"""The history: every change made through the API, who made it, when, and the record before and after.

A write adds its entries in its own transaction, in one statement however many there are, so a change
without its entry (or the other way round) cannot exist, and an idempotent replay (which runs no write)
adds none. An entry keeps a record as a snapshot: its fields, its cast as ids, and its cast as it was shown
(names, titles, characters and billing as they were then): a movie as `{"title", "release_date",
"actor_ids", "actors"}`, an actor as `{"name", "age", "gender", "movie_ids", "movies"}`. Each entry keeps who
made the change: the token's subject, and its name and email when the token carried them.

- `created`, `updated`, `deleted`, `restored`: the record's own change (`before` is null for `created`
  and `restored`, `after` null for `deleted`); `updated` also when only a casting's character or
  billing changed.
- `cast`, `uncast`: a casting made or removed, as seen from one record: one entry on the movie and one
  on the actor. Creating, changing, deleting or restoring a record writes one (or an `updated`, for a
  changed character or billing) on each record of the other side whose cast it changed, so every record's
  history explains every change to it; such an entry names that record as it was (`other`), and says when
  it was itself created, deleted or restored.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import g
from sqlalchemy import Select, delete, func, insert, literal, literal_column, null, select

from casting.catalogue import bulk, cursors, version
from casting.catalogue.cursors import Page
from casting.catalogue.records import Cast, Role, Side
from casting.tokens.claims import editor
from models import db, history


def snapshot(side: Side, record: dict | None) -> dict | None:
    """A record as its history keeps it: its fields, its cast as ids, and its cast as it was shown."""
    if record is None:
        return None
    kept: dict[str, Any] = {field: record[field] for field in side.fields}
    kept[side.cast_field] = sorted(other["id"] for other in record[side.embedded])
    kept[side.embedded] = record[side.embedded]
    return kept


def cast(side: Side, kept: dict) -> Cast:
    """The cast of a snapshot, with the roles it kept (none for entries older than roles)."""
    shown = {other["id"]: other for other in kept.get(side.embedded, [])}
    return {other: Role(shown.get(other, {}).get("character"), shown.get(other, {}).get("billing"))
            for other in kept[side.cast_field]}


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


def created(side: Side, record_id: int, fields: dict) -> dict:
    """The `created` entry of a record made with no cast (an import makes 100,000), from its fields as shown: the
    entry `entry` would make, without looking for a cast it does not have."""
    return {"action": "created", "record_type": side.noun, "record_id": record_id, "before": None,
            "after": {**fields, side.cast_field: [], side.embedded: []}}


def castings(side: Side, before: dict[int, dict], after: dict[int, dict], changed: Side, record: dict,
             happened: str | None = None) -> list[dict]:
    """The entries on records of `side` whose casting with `record` (of the other side, `changed`) a write
    made, removed or changed: `before` and `after` are those records as shown before and after the write.
    `cast`, `uncast`, or `updated` for a changed character or billing; each names `record` as shown, and
    what `happened` to it when it was itself created, deleted or restored."""
    other = {"type": changed.noun, "id": record["id"], changed.label: record[changed.label]}
    if happened:
        other["action"] = happened
    entries = []
    for record_id in sorted(before.keys() | after.keys()):
        was, now = (_casting_with(shown.get(record_id), side, record["id"]) for shown in (before, after))
        if was == now:
            continue
        action = "cast" if was is None else "uncast" if now is None else "updated"
        entries.append({"action": action, "record_type": side.noun, "record_id": record_id, "other": other,
                        "before": snapshot(side, before.get(record_id)), "after": snapshot(side, after.get(record_id))})
    return sorted(entries, key=lambda entry: _ORDER[entry["action"]])  # casts, then uncasts, then role changes


_ORDER = {"cast": 0, "uncast": 1, "updated": 2}


def _casting_with(shown: dict | None, side: Side, other_id: int) -> dict | None:
    if shown is None:
        return None
    return next(({k: v for k, v in item.items() if k != side.other.label} for item in shown[side.embedded]
                 if item["id"] == other_id), None)


# Past this many entries a write adds them with one statement (casting/catalogue/bulk.py), not one per batch.
BULK_FROM = 100


def stamp() -> dict:
    """What every entry of the current write says of it: its token's subject (and the name and email it
    carried), the request id and the time."""
    now = dt.datetime.now(dt.UTC)
    # To the millisecond, as entries show it, so that `since`/`until` taken from an entry include it.
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    name, email = editor(g.claims)
    return {"at": now, "subject": g.claims["sub"], "editor_name": name, "editor_email": email,
            "request_id": g.request_id}


def write(entries: list[dict]) -> None:
    """Add the entries of the current write, with its stamp."""
    if not entries:
        return
    stamped = stamp()
    if len(entries) > BULK_FROM:  # an import's: one statement however many, the stamp sent once
        bulk.insert_rows(history, [{"other": None, **e} for e in entries], constants=stamped)
    else:
        db.session.execute(insert(history), [{"other": None, **stamped, **e} for e in entries])


def created_in_sql(side: Side, columns) -> dict:
    """PostgreSQL: the columns of the `created` entries of records made with no cast, from a statement's columns
    of their fields (an import's, which makes records and entries in one statement): `created` above, in SQL."""
    shown = []
    for field in side.fields:
        value = columns[field]
        shown += [field, func.to_char(value, "YYYY-MM-DD") if field == "release_date" else value]
    empty = literal_column("'[]'::json")
    return {"action": literal("created"), "record_type": literal(side.noun), "record_id": columns["id"],
            "before": null(), "after": func.json_build_object(*shown, side.cast_field, empty, side.embedded, empty),
            "other": null()}


def last_entry(side: Side, record_id: int):
    """The newest entry about a record (or None)."""
    return db.session.execute(
        select(history).where(history.c.record_type == side.noun, history.c.record_id == record_id)
        .order_by(history.c.id.desc()).limit(1)
    ).one_or_none()


def query(filters: dict) -> Select:
    """The entries matching `filters` (type, record_id, action, subject, request_id, since, until), newest first."""
    columns = {"type": history.c.record_type, "record_id": history.c.record_id, "action": history.c.action,
               "subject": history.c.subject, "request_id": history.c.request_id}
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
    by = {"name": row.editor_name or row.subject}
    if row.editor_email:
        by["email"] = row.editor_email
    shown = {
        "id": row.id,
        "at": _instant(row.at),
        "subject": row.subject,
        "by": by,
        "action": row.action,
        "record": {"type": row.record_type, "id": row.record_id},
        "before": row.before,
        "after": row.after,
        "request_id": row.request_id,
    }
    if row.other is not None:
        shown["other"] = row.other
    return shown


def _instant(moment: dt.datetime) -> str:
    """2026-11-28T13:05:09.123Z: UTC, to the millisecond."""
    moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page(params, filters: dict, parent_id: int | None = None) -> Page:
    """A page of entries, newest first: those matching the query's filters and `filters` (the record of the
    path, as `type` and `record_id`)."""
    filters = {**{k: v for k, v in params.model_dump(include={"type", "action", "subject", "request_id", "since",
                                                              "until"}).items()
                  if v is not None}, **filters}
    window = cursors.window(params, parent_id, (int,))
    statement = query(filters)
    total, at_version = db.session.execute(count(statement).add_columns(version.column())).one()
    if window.after is not None:
        statement = statement.where(history.c.id < window.after[0])
    elif window.before is not None:  # read upwards from the cursor, then turned round
        statement = statement.where(history.c.id > window.before[0]).order_by(None).order_by(history.c.id.asc())
    rows = db.session.execute(statement.limit(window.per_page + 1).offset(window.offset)).all()
    more, rows = len(rows) > window.per_page, rows[: window.per_page]
    if window.before is not None:
        rows.reverse()
    first, last = ([rows[0].id], [rows[-1].id]) if rows else (None, None)
    body = json.dumps({"success": True, "history": [as_json(row) for row in rows], "total": total},
                      separators=(",", ":"))
    return cursors.page(params, parent_id, window, body, at_version, more, first, last)


def purge(before: dt.datetime) -> int:
    """Delete the entries older than `before` (for deployments that must not keep them); how many."""
    deleted = db.session.execute(delete(history).where(history.c.at < before)).rowcount
    version.bump()  # the history lists changed: their ETags must too
    db.session.commit()
    return deleted
