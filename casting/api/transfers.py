"""The file routes: movies, actors and castings exported as CSV or NDJSON, and a file of them imported.
docs/import-export.md describes them."""

from __future__ import annotations

from flask import Blueprint

from auth import requires_auth, requires_auth_by
from casting.api import files
from casting.api.writes import safe_write
from casting.config import MAX_IMPORT_BYTES
from casting.openapi.document import operation
from casting.openapi.files import EXPORTED, IMPORTED
from casting.schemas.queries import ActorExportQuery, CastingExportQuery, ImportQuery, MovieExportQuery
from casting.schemas.responses import ImportDone, ImportRefused
from casting.schemas.rows import TOO_LARGE
from casting.web import ratelimit
from casting.web.parsing import file_body, query_args
from casting.web.transactions import safe_read

bp = Blueprint("transfers", __name__)

EXPORT_ERRORS = (406,)


@bp.get("/movies/export")
@ratelimit.reads
@requires_auth("get:movies")
@operation(None, query=MovieExportQuery, media=EXPORTED["movies"], errors=EXPORT_ERRORS)
@safe_read
def export_movies():
    """Export movies as a CSV or NDJSON file, with the list's filters and sort.

    One snapshot of the catalogue, streamed; the file's last line is its end line (`#end,ROWS` in CSV,
    `{"end":true,"rows":ROWS}` in NDJSON): a file without it was cut short. CSV cells that would start a
    spreadsheet formula start with a single quote."""
    return files.export("movies", query_args(MovieExportQuery))


@bp.get("/actors/export")
@ratelimit.reads
@requires_auth("get:actors")
@operation(None, query=ActorExportQuery, media=EXPORTED["actors"], errors=EXPORT_ERRORS)
@safe_read
def export_actors():
    """Export actors as a CSV or NDJSON file, with the list's filters and sort.

    As the movies' export: one snapshot, streamed, ending with its end line."""
    return files.export("actors", query_args(ActorExportQuery))


@bp.get("/castings/export")
@ratelimit.reads
@requires_auth("get:movies")
@operation(None, query=CastingExportQuery, media=EXPORTED["castings"], errors=EXPORT_ERRORS)
@safe_read
def export_castings():
    """Export castings (who plays whom in which movie, and the billing) as a CSV or NDJSON file.

    Each casting names its movie and its actor by id and by natural key, so the file imports into this
    catalogue or another; by movie, then billing (unbilled last), then actor."""
    return files.export("castings", query_args(CastingExportQuery))


@bp.post("/imports")
@ratelimit.writes
@requires_auth_by("type", {"movies": "post:movies", "actors": "post:actors", "castings": "patch:movies"})
@operation(ImportDone, query=ImportQuery, body_media=IMPORTED, errors=(400, 409, 413, 415, 422),
           error_models={422: ImportRefused})
@file_body(MAX_IMPORT_BYTES, TOO_LARGE)
@safe_write
def import_records():
    """Import movies, actors or castings from a CSV or NDJSON file, all of it or nothing.

    Rows find their records by `match`; a re-import changes what differs and creates nothing twice. Every
    problem is reported with its line and column, and then nothing is written; `dry_run=true` only checks."""
    return files.import_file(query_args(ImportQuery))
