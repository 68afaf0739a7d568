"""The document's fixed parts: its title and tags, what each status means and which headers it carries, the
response and request headers, and which statuses each kind of operation can answer."""

from __future__ import annotations

from casting.schemas.values import REQUEST_ID_PATTERN

TITLE = "Casting Agency API"
VERSION = "1.0.0"
REF = "#/components/schemas/{model}"
DESCRIPTION = ("Movies, actors and castings for a film casting agency. Every error has the `ErrorBody` shape. "
               "Tokens are Auth0 (or local) RS256 JWTs whose `permissions` claim grants each operation.")
# The repository grants no licence: the document says so rather than leave clients to guess.
LICENSE = {"name": "Proprietary: all rights reserved", "identifier": "LicenseRef-Proprietary"}
CONTACT = {"name": "Casting Agency API team"}
# An operation's tag is its path's first segment; one missing here is listed bare (and the linters flag it).
TAGS = {
    "movies": "Movies with their cast, and casting an actor in a movie or removing them",
    "actors": "Actors with the movies they are cast in",
    "castings": "Who plays whom in which movie, as a file (castings are changed through a movie's cast)",
    "imports": "Movies, actors and castings from CSV or NDJSON files, all of a file or nothing",
    "history": "Every change made through the API: who, when, before and after",
    "health": "Liveness: the process answers (public, no database involved)",
    "ready": "Readiness: the database answers (public)",
}

# Each status other than the success: what it means, and the headers its answers carry.
STATUSES = {
    304: ("Not modified: `If-None-Match` names the current representation (no body)",
          ("ETag", "Catalogue-Version")),
    400: ("Bad request: the body is not UTF-8, not valid JSON, not an object or has a key twice, a query "
          "parameter is wrong, or the `Idempotency-Key` is unusable", ()),
    401: ("No token, or a token that is malformed, expired, or signed, issued or addressed wrongly",
          ("WWW-Authenticate",)),
    403: ("A valid token without the required permission", ("WWW-Authenticate",)),
    404: ("No such record", ()),
    405: ("This path does not take the request's method; `Allow` lists the methods it does", ("Allow",)),
    406: ("`Accept` allows neither of the export's formats, CSV (`text/csv`) and NDJSON (`application/x-ndjson`), "
          "and no `format` chose one", ()),
    409: ("A concurrent change the server could not serialize, or a request with this `Idempotency-Key` still "
          "in progress; nothing was written: retry", ()),
    412: ("A precondition failed and nothing was written: `If-Match` does not name the record's current ETag "
          "(the `ETag` header has it: someone changed the record since you read it), or `If-None-Match` does",
          ("ETag",)),
    413: ("The body is larger than 64 KiB (an import's: 20 MiB or 100,000 rows)", ()),
    415: ("The body is not application/json (an import's: text/csv or application/x-ndjson, UTF-8), or is sent "
          "with a Content-Encoding other than identity", ("Accept-Encoding",)),
    422: ("Well-formed JSON that breaks a validation rule, or an `Idempotency-Key` already used for another "
          "request; `details` names each field (or the header)", ()),
    428: ("This deployment requires `If-Match` on changes (`REQUIRE_IF_MATCH=true`)", ()),
    429: ("Rate limit exceeded", ("Retry-After",)),
    500: ("Unexpected server error (logged; the message is generic)", ()),
    503: ("The database or the token issuer's key set cannot be reached", ("Retry-After",)),
}
# Response headers, described once in components.headers and referred to by each response that has them.
HEADERS = {
    "X-Request-ID": {
        "description": "The request's id: the `X-Request-ID` the request sent when that is 1 to 128 of "
                       "`A-Za-z0-9._:-`, a new one otherwise. The log line and a 5xx body's `request_id` carry it.",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{REQUEST_ID_PATTERN}$"},
    },
    "X-RateLimit-Limit": {
        "description": "Requests this client may make in the window (reads and writes have separate budgets); "
                       "sent while rate limiting is on",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the window; sent while rate limiting is on",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Reset": {
        "description": "When the window resets, in seconds since the Unix epoch; sent while rate limiting is on",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Location": {"description": "Path of the new record", "required": True, "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}},
    "WWW-Authenticate": {"description": "The bearer challenge (RFC 6750)", "schema": {"type": "string"}},
    "Allow": {"description": "The methods this path takes", "schema": {"type": "string"}},
    "ETag": {
        "description": "The representation's strong validator: send it back in `If-None-Match` to revalidate "
                       "(304) and in `If-Match` to change the record only if nobody else has since (412)",
        "required": True,
        "schema": {"type": "string", "pattern": '^"[!#-~]*"$'},
    },
    "Link": {
        "description": "RFC 8288 links to the adjacent pages of a list: `<...&cursor=...>; rel=\"next\"` and "
                       "`rel=\"prev\"` (the same as `next_cursor` and `prev_cursor`); absent when there are none",
        "schema": {"type": "string"},
    },
    "Catalogue-Version": {
        "description": "The catalogue version this answer was read at, or that this write committed (absent from a "
                       "write that changed nothing, and from a record's answer read inside a write). Send the "
                       "highest you have seen back as the `Catalogue-Version` request header: a deployment with read "
                       "followers then answers from a database at least that new, so you never read older than your "
                       "own writes or than what you have already seen",
        "schema": {"type": "integer", "minimum": 1},
    },
    "Content-Disposition": {
        "description": "`attachment`, with the file's name: the kind and the day, `movies-2026-12-05.csv`",
        "required": True,
        "schema": {"type": "string",
                   "pattern": '^attachment; filename="[a-z]+-[0-9]{4}-[0-9]{2}-[0-9]{2}\\.(csv|ndjson)"$'},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the kept outcome of an earlier request with the same "
                       "`Idempotency-Key` (nothing was written this time)",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Accept-Encoding": {"description": "The content codings a request body may have (RFC 7694): identity only, "
                                       "never compressed", "required": True,
                        "schema": {"type": "string", "enum": ["identity"]}},
}
# Request headers of conditional reads and safe writes.
IF_NONE_MATCH = {
    "name": "If-None-Match", "in": "header", "required": False,
    "description": "ETags of representations you hold (or `*`): when one is current the answer is a 304",
    "schema": {"type": "string"},
}
CATALOGUE_VERSION = {
    "name": "Catalogue-Version", "in": "header", "required": False,
    "description": "The highest `Catalogue-Version` this client has been answered: the answer is read from a "
                   "database at least that new (on a deployment with read followers; elsewhere it always is); anything "
                   "but a whole number from 1 is a 400",
    "schema": {"type": "integer", "minimum": 1, "maximum": 999999999999999999},
}
IF_MATCH = {
    "name": "If-Match", "in": "header", "required": False,
    "description": "The record's ETag from your last read (or `*`): the change happens only if it is still "
                   "current, else 412. A cast or an uncast compares the movie's ETag for its cast only: a change "
                   "to the movie's title or release date does not refuse it. Required (428) where the deployment "
                   "sets `REQUIRE_IF_MATCH=true`.",
    "schema": {"type": "string"},
}
IF_MATCH_NEW = {
    "name": "If-Match", "in": "header", "required": False,
    "description": "Evaluated as RFC 9110 says: the record this makes has no current representation, so any "
                   "If-Match (`*` too) is a 412 and nothing is written",
    "schema": {"type": "string"},
}
NO_REPRESENTATION_412 = ("`If-Match` was sent: the record this makes has no current representation, so the "
                         "condition fails (RFC 9110), and nothing was written")
IF_NONE_MATCH_WRITE = {
    "name": "If-None-Match", "in": "header", "required": False,
    "description": "ETags (or `*`) the record must not have: when one is current (or, for `*`, when the record "
                   "exists) the answer is a 412 and nothing is written",
    "schema": {"type": "string"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Any unique string per intended change (a UUID, say): a retry with the same key, method, "
                   "path and body is answered from the first outcome for 24 hours and writes nothing; the same "
                   "key for another request is a 422",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255,
               "pattern": r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$"},
}
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
REQUEST_BODY = ("A JSON object in UTF-8 (a leading UTF-8 byte order mark is ignored; UTF-16 and UTF-32 are a 400), "
                "each key at most once (a repeated key is a 400), sent without Content-Encoding (anything but "
                "identity is a 415).")
FILE_BODY = ("A file in UTF-8, of up to 20 MiB and 100,000 rows (bigger ones: `flask import`), sent without "
             "Content-Encoding; a file of the export's columns imports as it is (docs/import-export.md).")
HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH"})
# Every guarded operation can answer these, whatever it does.
COMMON_ERRORS = (401, 403, 500, 503)
BODY_ERRORS = (400, 409, 413, 415, 422)
# What any write can answer besides (casting.api.writes.safe_write), and changes to existing records.
WRITE_ERRORS = (400, 409, 422)
CONDITIONAL_WRITE_ERRORS = (412,)
