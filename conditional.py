"""Conditional requests (RFC 9110, section 13): ETags, If-None-Match (304) and If-Match (412, 428).

- A record's ETag is a digest of its representation (fields, cast, embedded names), so it changes
  exactly when the record's JSON does.
- A list's ETag is a digest of the catalogue version (models.catalogue_version, bumped by every write
  that changes a movie, an actor or a casting), the path and the query: a list revalidates with one
  indexed read, and no instance can answer 304 for a list that changed through another.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import urlencode

from flask import Response, current_app, request

from errors import ApiError

# Part of every digest: a change to how records are represented changes every ETag too.
REPRESENTATION = "1"
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')


def _digest(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join((REPRESENTATION, *parts)).encode()).digest()
    return '"' + base64.urlsafe_b64encode(digest[:18]).decode() + '"'


def record_etag(record: dict) -> str:
    return _digest(json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def list_etag(version: int) -> str:
    """The ETag of the list this request asks for, at catalogue version `version`."""
    query = urlencode(sorted(request.args.items(multi=True)))
    return _digest("list", str(version), request.path, query)


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


def require_match(current: str) -> None:
    """If-Match on a write, compared with the record's current ETag (strong comparison, or `*`).

    No header: fine, unless REQUIRE_IF_MATCH (then 428). A header that names no current tag, weak
    tags and malformed values included, is a 412 carrying the current ETag; nothing is written.
    """
    header = request.headers.get("If-Match")
    if header is None:
        if current_app.config["REQUIRE_IF_MATCH"]:
            raise ApiError(428, "this API requires If-Match on changes: send the ETag of the record you read")
        return
    if header.strip() == "*":
        return
    tags = _tags(header)
    if tags is None or not any(not weak and tag == current for weak, tag in tags):
        raise ApiError(412, "the record has changed since you read it (If-Match does not match its ETag); "
                            "nothing was written", headers={"ETag": current})
