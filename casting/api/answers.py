"""How the API answers, written once and used by every route: a record in its envelope with its ETag (or a
304), a new record with its Location, and a page of a list with its ETag, cursors and Link header (or a 304
answered from the catalogue version alone)."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlencode

from flask import Response, jsonify, request, url_for

from casting.catalogue import records, version
from casting.catalogue.cursors import Page
from casting.catalogue.records import Record, Side
from casting.errors import not_found
from casting.web import conditional, followers


def record(side: Side, shown: Record, status: int = 200, headers: dict | None = None) -> Response:
    """One record in its envelope, with its ETag; to a GET whose If-None-Match names it, a 304."""
    etag = shown.etag
    if request.method == "GET" and conditional.none_match(etag):
        return conditional.not_modified(etag)
    response = jsonify({"success": True, side.noun: shown})
    response.status_code = status
    response.headers.update(headers or {})
    response.headers["ETag"] = etag
    return response


def stored_record(side: Side, record_id: int) -> Response:
    """A GET of one record: as `record` answers it (with the catalogue version it was read at), or a 404. With
    If-None-Match, its ETag is read first (one row by primary key): a 304 reads nothing else."""
    if request.headers.get("If-None-Match") is not None:
        etag, at_version = records.current_etag(side, record_id)
        if etag is not None and conditional.none_match(etag):
            response = conditional.not_modified(etag)
            followers.answered(response, at_version)
            return response
    shown, at_version = records.read_at_version(side, record_id)
    if shown is None:
        raise not_found(side.noun)
    response = record(side, shown)
    followers.answered(response, at_version)
    return response


def created(side: Side, shown: dict, **extra) -> Response:
    """A 201 with the new record and its Location; `extra` adds fields to the envelope."""
    location = url_for(f"{side.embedded_by_other}.get_{side.noun}", **{f"{side.noun}_id": shown["id"]})
    response = record(side, shown, 201, {"Location": location})
    if extra:
        response.set_data(json.dumps({**response.get_json(), **extra}, separators=(",", ":")))
    return response


def page(read: Callable[[], Page]) -> Response:
    """A page of a list (what `read` returns) with its ETag, cursors and Link header; or a 304 when
    If-None-Match names the list at the current catalogue version (one indexed read, nothing else)."""
    if request.headers.get("If-None-Match") is not None:
        now = version.current()
        etag = conditional.list_etag(now)
        if conditional.none_match(etag):
            response = conditional.not_modified(etag)
            followers.answered(response, now)
            return response
    answer = read()
    response = Response(answer.body, mimetype="application/json")
    response.headers["ETag"] = conditional.list_etag(answer.version)
    followers.answered(response, answer.version)
    link = links(answer.next_cursor, answer.prev_cursor)
    if link:
        response.headers["Link"] = link
    return response


def links(next_cursor: str | None, prev_cursor: str | None) -> str | None:
    """The Link header (RFC 8288) of a list answer: this request's path and query, with the cursor."""
    kept = [(name, value) for name, value in request.args.items(multi=True) if name not in ("page", "cursor")]
    parts = []
    for rel, cursor in (("next", next_cursor), ("prev", prev_cursor)):
        if cursor:
            parts.append(f'<{request.path}?{urlencode([*kept, ("cursor", cursor)])}>; rel="{rel}"')
    return ", ".join(parts) or None
