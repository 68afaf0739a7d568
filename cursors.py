"""Cursors: opaque pointers to the next and the previous page of a list, so that walking a big list costs
what its first page costs (keyset pagination), wherever the walk is.

A cursor says which list it belongs to (a digest of its path, filters, sort and page size), the direction,
the sort keys of the row it starts after (or before), and the number of the page it leads to. It is
base64url JSON: not secret, only opaque; a cursor that is malformed or made for another list is a 400.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import request

from errors import ApiError

VERSION = 1
MAX_LENGTH = 1024


@dataclass(frozen=True)
class Window:
    """The rows of an ordered list a request wants: a page by number, or the page after / before a row."""

    page: int
    per_page: int
    after: tuple | None = None  # the sort keys of the row the page starts after
    before: tuple | None = None  # the sort keys of the row the page ends before

    @property
    def offset(self) -> int:
        return 0 if self.after or self.before else (self.page - 1) * self.per_page


def fingerprint(params, parent_id: int | None) -> str:
    """Which list a cursor belongs to: the path's record, the filters, the sort and the page size."""
    kept = params.model_dump(mode="json", exclude={"page", "cursor"})
    canonical = json.dumps([request.path, parent_id, kept], sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()[:12]).decode()


def window(params, parent_id: int | None, key_types: tuple[type, ...]) -> Window:
    """The window a validated list query asks for (a `cursor` and a `page` together are a 400)."""
    cursor = getattr(params, "cursor", None)
    if cursor is None:
        return Window(params.page, params.per_page)
    if "page" in params.model_fields_set:
        raise _bad("give either cursor or page, not both")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        version, made_for, direction, keys, page = (data[k] for k in ("v", "f", "d", "k", "p"))
        keys = tuple(_key(value, kind) for value, kind in zip(keys, key_types, strict=True))
        valid = version == VERSION and direction in ("next", "prev") and isinstance(page, int) and page >= 1
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
        valid = False
    if not valid:
        raise _bad("is not a cursor this API made")
    if made_for != fingerprint(params, parent_id):
        raise _bad("was made for another list: send it with the filters, sort and per_page it came with")
    if direction == "next":
        return Window(page, params.per_page, after=keys)
    return Window(page, params.per_page, before=keys)


def _key(value, kind: type):
    if kind is int and type(value) is int:
        return value
    if kind is str and isinstance(value, str):
        return value
    if kind is dt.date and isinstance(value, str):
        return dt.date.fromisoformat(value)
    raise ValueError("not a key of this list")


def _bad(problem: str) -> ApiError:
    return ApiError(400, f"cursor {problem}", {"cursor": [problem]})


def make(params, parent_id: int | None, direction: str, keys: list, page: int) -> str:
    data = {"v": VERSION, "f": fingerprint(params, parent_id), "d": direction, "k": keys, "p": page}
    encoded = json.dumps(data, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(encoded).decode().rstrip("=")


def neighbours(params, parent_id, window: Window, more: bool, first,
                last) -> tuple[int, str | None, str | None]:
    """The page's number and the cursors of the pages after and before it (None at either end).

    `more`: whether a row lies beyond the page in the direction it was read (after it, or before it
    for a page read backwards from a cursor); `first` and `last`: the sort keys of its first and last rows.
    """
    number = window.page
    if window.before is not None:
        has_next, has_prev = last is not None, more
        if not more:
            number = 1  # the walk back reached the start of the list
    else:
        has_next, has_prev = more, first is not None and (window.after is not None or window.page > 1)
    next_cursor = make(params, parent_id, "next", last, number + 1) if has_next else None
    prev_cursor = make(params, parent_id, "prev", first, max(number - 1, 1)) if has_prev else None
    return number, next_cursor, prev_cursor


def links(next_cursor: str | None, prev_cursor: str | None) -> str | None:
    """The Link header (RFC 8288) of a list answer: this request's path and query, with the cursor."""
    kept = [(name, value) for name, value in request.args.items(multi=True) if name not in ("page", "cursor")]
    parts = []
    for rel, cursor in (("next", next_cursor), ("prev", prev_cursor)):
        if cursor:
            parts.append(f'<{request.path}?{urlencode([*kept, ("cursor", cursor)])}>; rel="{rel}"')
    return ", ".join(parts) or None
