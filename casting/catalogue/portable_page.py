"""A list page on databases other than PostgreSQL (SQLite, in development): three statements in one
transaction whatever the page size, as plain rows (no ORM objects)."""

from __future__ import annotations

from sqlalchemy import select

from casting.catalogue import version
from casting.catalogue.cursors import Window
from casting.catalogue.filters import Listing, window_clauses
from casting.catalogue.records import Role, cast_order
from models import db, movie_actors


def read(listing: Listing, values: dict, sort: str, window: Window) -> tuple[dict, int, bool]:
    """One page of rows with their embedded casts (other databases): three statements in one transaction
    whatever the page size, as plain rows (no ORM objects): the total with the catalogue version, the
    page, and the casts of every row on the page. With whether more rows lie beyond the page."""
    model = listing.model
    clauses = listing.where(values)
    total, at_version = db.session.execute(listing.count(clauses).add_columns(version.column()), values).one()
    mode = "after" if window.after is not None else "before" if window.before is not None else "offset"
    keyset, read_order = window_clauses(model, sort, mode)
    bound = {f"key{i}": value for i, value in enumerate(window.after or window.before or ())}
    under_parent = listing.parent in values
    roles = listing.role_columns(model.id) if under_parent else []
    rows = db.session.execute(
        select(*(getattr(model, c) for c in listing.columns), *roles)
        .where(*clauses, *keyset)
        .order_by(*read_order)
        .limit(window.per_page + 1)
        .offset(window.offset),
        {**values, **bound},
    ).all()
    more = len(rows) > window.per_page
    rows = rows[: window.per_page]
    if mode == "before":
        rows.reverse()
    rows_out = [dict(zip(listing.columns, row[:len(listing.columns)], strict=True)) for row in rows]
    by_id = {}
    for record, row in zip(rows_out, rows, strict=True):
        record[listing.side.embedded] = by_id[record["id"]] = []
        if "release_date" in record:
            record["release_date"] = record["release_date"].isoformat()
        if under_parent:  # each row's casting with the record of the path
            record.update(Role(*row[len(listing.columns):]).shown())
    if rows_out:
        other = listing.side.other.model
        label = listing.side.other.label
        cast = db.session.execute(
            select(listing.side.own_fk, other.id, getattr(other, label), movie_actors.c.character,
                   movie_actors.c.billing)
            .join(other, other.id == listing.side.other_fk)
            .where(listing.side.own_fk.in_(list(by_id)))
            .order_by(listing.side.own_fk, *cast_order(listing.side))
        )
        for owner, other_id, other_label, character, billing in cast:
            by_id[owner].append({"id": other_id, label: other_label, **Role(character, billing).shown()})
    return {"success": True, listing.key: rows_out, "total": total}, at_version, more
