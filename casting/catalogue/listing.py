"""Lists of movies and actors: a page read by the database's own path (postgres_page.py: one statement;
portable_page.py: three, elsewhere), with the exact total, each row's cast, the page's cursors, and the
catalogue version it was read at, from which the list's ETag is made (casting.api.answers)."""

from __future__ import annotations

import json

from casting.catalogue import cursors, portable_page, postgres_page
from casting.catalogue.cursors import Page
from casting.catalogue.filters import Listing, key_types, row_keys
from models import db


def page(listing: Listing, params, parent_id: int | None = None, *, portable: bool = False) -> Page:
    """The page a validated list query asks for; `parent_id` is the record of the path (/actors/{id}/movies).
    By the single PostgreSQL statement, or (`portable`, or on other databases) by the statements of the
    other path: the two answer the same JSON."""
    values = listing.values(params, parent_id)
    window = cursors.window(params, parent_id, key_types(params.sort))
    if db.engine.dialect.name == "postgresql" and not portable:
        body, at_version, more, first, last = postgres_page.read(listing, values, params.sort, window)
        first, last = (json.loads(first) if first else None), (json.loads(last) if last else None)
    else:
        rows_page, at_version, more = portable_page.read(listing, values, params.sort, window)
        rows = rows_page[listing.key]
        first, last = (row_keys(rows[0], params.sort), row_keys(rows[-1], params.sort)) if rows else (None, None)
        body = json.dumps(rows_page, separators=(",", ":"))
    return cursors.page(params, parent_id, window, body, at_version, more, first, last)
