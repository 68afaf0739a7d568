"""Cursors: opaque pointers to the next and the previous page of a list, so that walking a big list costs
what its first page costs (keyset pagination), wherever the walk is.

A cursor says which list it belongs to (a digest of its path, filters, sort and page size), the direction,
the sort keys of the row it starts after (or before), and the number of the page it leads to. It is
base64url of that JSON behind an HMAC-SHA256 tag made with the server's own key (table server_keys, made by
a migration and shared by every instance): not secret, only opaque, and only the server's own cursors are
read at all. A cursor that is malformed, tampered with or made for another list is a 400; the keys of one
that verifies are still checked for their type and the text rules, so that nothing a database would refuse
reaches a statement.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass

from flask import current_app, request
from pydantic_core import PydanticCustomError
from sqlalchemy import select

from casting.errors import ApiError
from casting.schemas.text import refused_characters, storable
from casting.web.transactions import reader
from models import ID_MAX, TITLE_MAX, server_keys

VERSION = 2
TAG_BYTES = 16


@dataclass(frozen=True)
class Page:
    """A page of a list as the API answers it: the JSON body, and what its answer's headers say."""

    body: str
    version: int  # the catalogue version it was read at (the list's ETag)
    next_cursor: str | None
    prev_cursor: str | None


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
        version, made_for, direction, keys, page = _read(cursor)
        keys = tuple(_key(value, kind) for value, kind in zip(keys, key_types, strict=True))
        valid = version == VERSION and direction in ("next", "prev") and type(page) is int and 1 <= page <= ID_MAX
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError, PydanticCustomError):
        valid = False
    if not valid:
        raise _bad("is not a cursor this API made")
    if made_for != fingerprint(params, parent_id):
        raise _bad("was made for another list: send it with the filters, sort and per_page it came with")
    if direction == "next":
        return Window(page, params.per_page, after=keys)
    return Window(page, params.per_page, before=keys)


def _secret() -> bytes:
    """This deployment's cursor key (read once per app)."""
    secret = current_app.extensions.get("cursor_secret")
    if secret is None:
        secret = reader().scalar(select(server_keys.c.secret).where(server_keys.c.name == "cursors"))
        if secret is None:
            raise RuntimeError("the database has no cursor key: run the migrations (flask db upgrade)")
        secret = current_app.extensions["cursor_secret"] = bytes(secret)
    return secret


def _tag(payload: bytes) -> bytes:
    return hmac.new(_secret(), payload, hashlib.sha256).digest()[:TAG_BYTES]


def _read(cursor: str) -> tuple:
    """A cursor's fields, once its tag verifies (ValueError otherwise)."""
    raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii"))
    tag, payload = raw[:TAG_BYTES], raw[TAG_BYTES:]
    if len(tag) != TAG_BYTES or not hmac.compare_digest(tag, _tag(payload)):
        raise ValueError("not signed by this server")
    data = json.loads(payload)
    return tuple(data[k] for k in ("v", "f", "d", "k", "p"))


def _key(value, kind: type):
    if kind is int and type(value) is int and -ID_MAX <= value <= ID_MAX:
        return value
    if kind is str and isinstance(value, str) and len(value) <= TITLE_MAX:
        return refused_characters(storable(value))
    if kind is dt.date and isinstance(value, str):
        return dt.date.fromisoformat(value)
    raise ValueError("not a key of this list")


def _bad(problem: str) -> ApiError:
    return ApiError(400, f"cursor {problem}", {"cursor": [problem]})


def make(params, parent_id: int | None, direction: str, keys: list, page: int, made_for: str | None = None) -> str:
    """A cursor to the page `direction` of `keys`; `made_for`: the list's fingerprint, when already known."""
    made_for = made_for or fingerprint(params, parent_id)
    data = {"v": VERSION, "f": made_for, "d": direction, "k": keys, "p": page}
    payload = json.dumps(data, separators=(",", ":"), default=str, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(_tag(payload) + payload).decode().rstrip("=")


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
    made_for = fingerprint(params, parent_id) if has_next or has_prev else None  # once for both cursors
    next_cursor = make(params, parent_id, "next", last, number + 1, made_for) if has_next else None
    prev_cursor = make(params, parent_id, "prev", first, max(number - 1, 1), made_for) if has_prev else None
    return number, next_cursor, prev_cursor


def page(params, parent_id, window: Window, body: str, at_version: int, more: bool, first, last) -> Page:
    """A page from the JSON object of its rows and total (`body`): its number and cursors appended."""
    number, next_cursor, prev_cursor = neighbours(params, parent_id, window, more, first, last)
    tail = json.dumps({"page": number, "per_page": params.per_page, "next_cursor": next_cursor,
                       "prev_cursor": prev_cursor}, separators=(",", ":"))
    return Page(body[:-1] + "," + tail[1:], at_version, next_cursor, prev_cursor)
