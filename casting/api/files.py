"""How the API answers with files and takes them (docs/import-export.md): an export streamed as CSV or NDJSON
with its ETag and file name (or a 304), and an import's report (or a 422 carrying it)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from flask import Response, g, jsonify, request
from sqlalchemy import text

from auth import require_permission
from casting.catalogue import exports, imports, tabular, version
from casting.catalogue.tabular import CSV, EXTENSIONS, FORMATS, NDJSON, FileError, TooManyRows, Writer
from casting.config import MAX_IMPORT_ROWS
from casting.errors import STATUS_MESSAGES, ApiError
from casting.schemas.rows import LAYOUTS, TOO_LARGE
from casting.web import conditional, followers
from casting.web.parsing import body_bytes
from models import db

log = logging.getLogger(__name__)

CONTENT_TYPES = {CSV: "text/csv; charset=utf-8", NDJSON: "application/x-ndjson"}
# What changing existing records needs besides creating them (castings: patch:movies does both).
UPDATES_NEED = {"movies": "patch:movies", "actors": "patch:actors"}


def negotiated(format_: str | None) -> str:
    """The export's media type: `format` when given, else what Accept prefers of the two (CSV without one);
    406 when Accept allows neither."""
    if format_:
        return FORMATS[format_]
    if not request.headers.get("Accept", "").strip():
        return CSV
    chosen = request.accept_mimetypes.best_match([CSV, NDJSON])
    if chosen is None:
        raise ApiError(406, STATUS_MESSAGES[406])
    return chosen


def export(kind: str, params) -> Response:
    """The whole list as a file, streamed from one snapshot; a 304 when If-None-Match names the catalogue as it
    is (one indexed read)."""
    media = negotiated(params.format)
    if request.headers.get("If-None-Match") is not None:
        now = version.current()
        etag = conditional.list_etag(now, media)
        if conditional.none_match(etag):
            response = conditional.not_modified(etag)
            followers.answered(response, now)
            return response
    columns = LAYOUTS[kind].columns
    # A HEAD needs only the snapshot's version: no COPY is started for it.
    snapshot = (exports.Snapshot(kind, params) if request.method == "HEAD" else
                exports.snapshot(kind, params, columns, media))
    name = f"{kind}-{dt.datetime.now(dt.UTC).date().isoformat()}.{EXTENSIONS[media]}"
    # no-cache, as the public catalogue's JSON (PUBLIC_READS): a cache must revalidate, which the ETag makes cheap;
    # an answer to a request with a token says no-store instead (casting/web/middleware.py).
    headers = {"ETag": conditional.list_etag(snapshot.version, media),
               "Content-Disposition": f'attachment; filename="{name}"', "Vary": "Accept", "Cache-Control": "no-cache",
               followers.HEADER: str(snapshot.version)}
    if request.method == "HEAD":
        snapshot.close()
        return Response(headers=headers, content_type=CONTENT_TYPES[media])
    chunks = snapshot.chunks(Writer(columns, media))
    response = Response(_logged(chunks, request.path, g.request_id), headers=headers,
                        content_type=CONTENT_TYPES[media], direct_passthrough=True)
    # The server closes every answer, also one whose client left before its first byte (the stream never began,
    # so its own `finally` would never run): the snapshot's connection goes back to the pool then too.
    response.call_on_close(snapshot.close)
    return response


def _logged(chunks: Iterator[bytes], path: str, request_id: str) -> Iterator[bytes]:
    """The chunks, with a failure after the answer began logged: the server then cuts the stream, so the client
    never receives the end line (nor, over HTTP/1.1, the last chunk)."""
    try:
        yield from chunks
    except Exception:
        log.exception("export %s (request %s) failed after its answer began: the stream is cut short", path,
                      request_id)
        raise


IMPORT_TIMEOUT_MS = "20000"


def import_file(params) -> Response:
    """Check the file, then write it or (a dry run) say what it would do: 200 with the report, or a 422 with the
    same report when anything is wrong (nothing written)."""
    layout = LAYOUTS[params.type]
    conditional.check_write(None)  # as every create: an If-Match names no representation (412)
    update = UPDATES_NEED.get(params.type)

    def may_update(count: int) -> None:
        if update:
            require_permission(update, f"changing {count} existing {params.type} needs")

    if db.engine.dialect.name == "postgresql":
        # A file of up to 100,000 rows takes its single statements seconds, not the requests' 5: its own bound,
        # under gunicorn's per-request limit (GUNICORN_TIMEOUT, 25 s), for this transaction only.
        db.session.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": IMPORT_TIMEOUT_MS})
    problems: list = []
    try:
        # Read as it is checked and written (a write run again after a conflict reads the body again).
        rows = tabular.rows(body_bytes(), request.mimetype, layout, params.match, problems)
        report = imports.run(layout, params.match, rows, problems, dry_run=params.dry_run == "true",
                             may_update=may_update, max_rows=MAX_IMPORT_ROWS)
    except FileError as exc:
        raise ApiError(400, f"request body {exc}", {"body": [str(exc)]}) from None
    except TooManyRows:
        raise ApiError(413, TOO_LARGE) from None
    outcome = report.as_json(g.request_id)
    if report.problems:
        raise refused(outcome)
    return jsonify({"success": True, "import": outcome})


def refused(outcome: dict) -> ApiError:
    """The 422 of a file with problems: the report, and `details` by column (the first ten of each)."""
    count = outcome["problem_count"]
    first = outcome["problems"][0]
    where = f"line {first['line']}" + (f", {first['column']}" if first["column"] else "")
    details: dict[str, list[str]] = {}
    for problem in outcome["problems"]:
        messages = details.setdefault(problem["column"] or "body", [])
        if len(messages) < 10:
            messages.append(f"line {problem['line']}: {problem['message']}")
    message = (f"{count} problem{'s' if count > 1 else ''} in the file, nothing was written: {where}: "
               f"{first['message']}")
    return ApiError(422, message, details, extra={"import": outcome})
