"""Conditional requests (RFC 9110, section 13): ETags, If-None-Match (304 on a read, 412 on a write) and
If-Match (412, 428).

- A record's ETag is made from the two numbers its row carries (migration 0011, kept by triggers whoever makes
  the change): `version`, which changes whenever anything in the record's JSON does (its fields, its cast,
  an embedded name), and `cast_version`, whenever its castings do. So a record revalidates by reading one
  row by primary key, exactly, on every instance. The ETag is a digest of each (`"A.C"`): a cast or an
  uncast compares If-Match with the cast part only, so a change to a movie's own fields (a title, a release
  date) never refuses a cast made from an older read, and a change to the cast always does. Neither number
  is ever given twice, so no ETag comes back after a change (a change undone included).
- A list's ETag is the catalogue version (models.catalogue_version, bumped by every write that changes a
  movie, an actor or a casting) and a digest of it, the path and the query: a list revalidates with one
  indexed read, and no instance can answer 304 for a list that changed through another.
- On a write, If-Match is evaluated first, then If-None-Match, as RFC 9110 orders them. A create or a
  restore has no current representation: any If-Match fails there (`*` too), and If-None-Match passes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlencode

from flask import Response, current_app, request

from casting.errors import ApiError

# Part of every digest: a change to how records are represented changes every ETag too.
REPRESENTATION = "3"
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
_MISMATCH = "the record has changed since you read it (If-Match does not match its ETag); nothing was written"


def _digest(parts: tuple[str, ...], size: int) -> str:
    digest = hashlib.sha256("\x00".join((REPRESENTATION, *parts)).encode()).digest()
    return base64.urlsafe_b64encode(digest[:size]).decode().rstrip("=")


def record_etag(noun: str, record_id: int, version: int, cast_version: int) -> str:
    """The ETag of record `record_id` of `noun` at `version`, with its cast at `cast_version`."""
    record = str(record_id)
    return f'"{_digest((noun, record, str(version)), 16)}.{_digest(("cast", noun, record, str(cast_version)), 8)}"'


def list_etag(version: int, variant: str = "") -> str:
    """The ETag of the list this request asks for, at catalogue version `version`: the version in the clear
    (a 304 for it is answered only from a database that has reached it: casting/web/followers.py), then a
    digest of the version, path and query; `variant` tells apart the representations of one URL (an
    export's CSV and NDJSON, chosen by Accept)."""
    query = urlencode(sorted(request.args.items(multi=True)))
    parts = ("list", str(version), request.path, query, *((variant,) if variant else ()))
    return f'"v{version}.' + _digest(parts, 12) + '"'


def _tags(header: str) -> list[tuple[bool, str]] | None:
    """The entity tags of an If-Match / If-None-Match value as (weak, opaque-tag); None when malformed."""
    tags = []
    for item in header.split(","):
        item = item.strip()
        if not item:
            continue  # RFC 9110 lists tolerate empty elements
        match = _ENTITY_TAG.fullmatch(item)
        if match is None:
            return None
        tags.append((match.group(1) is not None, f'"{match.group(2)}"'))
    return tags or None


def none_match(current: str) -> bool:
    """True when If-None-Match names the current representation (weak comparison, or `*`): answer 304."""
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    if header.strip() == "*":
        return True
    tags = _tags(header)
    return tags is not None and any(tag == current for _weak, tag in tags)


def not_modified(current: str) -> Response:
    response = Response(status=304)
    response.headers["ETag"] = current
    return response


def _cast_part(tag: str) -> str | None:
    return tag.strip('"').partition(".")[2] or None


def check_write(current: str | None, *, cast_only: bool = False) -> None:
    """A write's preconditions against the record's current ETag (None: the write makes a record, which has
    no current representation). Nothing is written when they fail.

    If-Match (strong comparison, or `*`): a listed tag must be the current one, or, with `cast_only` (a
    cast or an uncast), one whose cast part is the current cast's. A header that names no current tag,
    malformed values included, is a 412 carrying the current ETag; on a create or a restore any If-Match
    is a 412. No header: fine, unless REQUIRE_IF_MATCH on an existing record (then 428).
    If-None-Match (weak comparison): `*` or a current tag is a 412 (the record exists as it is).
    """
    headers = {"ETag": current} if current else {}
    condition = request.headers.get("If-Match")
    if condition is None:
        if current is not None and current_app.config["REQUIRE_IF_MATCH"]:
            raise ApiError(428, "this API requires If-Match on changes: send the ETag of the record you read")
    elif current is None:
        raise ApiError(412, "If-Match names a current representation, and there is none yet: nothing was "
                            "written (send no If-Match to create or restore a record)")
    elif condition.strip() != "*":
        tags = _tags(condition)
        wanted = _cast_part(current) if cast_only else current
        if tags is None or not any(not weak and (_cast_part(tag) if cast_only else tag) == wanted
                                   for weak, tag in tags):
            raise ApiError(412, _MISMATCH, headers=headers)
    if current is not None and none_match(current):
        raise ApiError(412, "If-None-Match names the record as it is now: nothing was written", headers=headers)
