"""Every way a request can fail, turned into the one JSON error shape."""

from __future__ import annotations

import contextlib
import logging

from flask import Flask, g, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from models import db

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"
# The API's fixed wording for these statuses, wherever they are raised (the OpenAPI examples quote it).
STATUS_MESSAGES = {
    401: "a bearer token is required",
    406: ("an export is CSV (text/csv) or NDJSON (application/x-ndjson), and Accept allows neither: accept one, "
          "or ask with format=csv or format=ndjson"),
    409: "the request conflicts with a concurrent change; nothing was written",
    413: "request body is larger than 64 KiB",
    415: "request body must be JSON (Content-Type: application/json)",
    429: "rate limit exceeded; slow down",
    500: "internal server error",
    503: "the database is unavailable; try again shortly",
}


class ApiError(Exception):
    """An expected failure: a status, a message for people, optional per-field details."""

    def __init__(self, status: int, message: str, details: dict | None = None, headers: dict | None = None,
                 extra: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.extra = extra  # more fields of the body, after the error's own (an import's report)


class ServiceUnavailable(ApiError):
    def __init__(self, message: str):
        super().__init__(503, message, headers={"Retry-After": RETRY_AFTER_SECONDS})


class AuthError(ApiError):
    """401 (no valid token) or 403 (valid token, missing permission), with the RFC 6750 challenge."""

    def __init__(self, status: int, description: str | None):
        if description is None:
            challenge = "Bearer"
            message = STATUS_MESSAGES[401]
        else:
            code = "invalid_token" if status == 401 else "insufficient_scope"
            challenge = f'Bearer error="{code}", error_description="{description}"'
            message = description
        super().__init__(status, message, headers={"WWW-Authenticate": challenge})


class IssuerUnavailable(ServiceUnavailable):
    def __init__(self):
        super().__init__("the token issuer's key set cannot be fetched; try again shortly")


def invalid(description: str) -> AuthError:
    return AuthError(401, description)


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


# SQLSTATEs after which running the same transaction again is the right thing to do (casting/web/transactions.py).
RETRYABLE_SQLSTATES = {
    "40P01",  # deadlock_detected
    "40001",  # serialization_failure
    "55P03",  # lock_not_available
    "23505",  # unique_violation: a concurrent insert that locks could not see
    "23503",  # foreign_key_violation: a record deleted concurrently; the next attempt says 404 or 422
}


def database_failure(exc: BaseException) -> str | None:
    """What a database error means: "retry" (a race: nothing was written), "disconnect" (the connection
    broke), "timeout" (the statement timeout), "unavailable" (no connection, or no room for one), or None
    (anything else is a bug in the statement, and a 500)."""
    if not isinstance(exc, DBAPIError):
        return None
    if exc.connection_invalidated:
        return "disconnect"
    code = getattr(exc.orig, "pgcode", None)
    if code in RETRYABLE_SQLSTATES:
        return "retry"
    if code == "57014":  # query_canceled
        return "timeout"
    if code and code[:2] in ("08", "57"):  # connection_exception; operator_intervention (a terminated backend)
        return "disconnect"
    if code and code[:2] == "53":  # insufficient_resources: too many connections, out of memory or disk
        return "unavailable"
    if code:
        return None
    if type(exc.orig).__module__.startswith("sqlite3"):
        message = str(exc.orig)
        if "is locked" in message:  # another writer held the file past the busy timeout
            return "retry"
        if "unable to open" in message or "disk I/O error" in message:
            return "unavailable"
        return None  # no such table, a syntax error...: a bug
    if isinstance(exc, (OperationalError, InterfaceError)):  # the driver's own: no connection to speak of
        return "unavailable"
    return None


def database_error(kind: str | None) -> ApiError | None:
    """The honest answer to a database failure that retrying did not cure: a race is a 409 (nothing
    was written), an unreachable or too slow database a 503; anything else is a bug (None: a 500)."""
    if kind == "retry":
        return ApiError(409, STATUS_MESSAGES[409])
    if kind == "timeout":
        return ServiceUnavailable("the database did not answer in time; try again shortly")
    if kind in ("disconnect", "unavailable"):
        return ServiceUnavailable(STATUS_MESSAGES[503])
    return None


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string",
    "string_too_short": "must not be empty",
    "list_type": "must be a list",
    "literal_error": "must be one of {expected}",
}


def _describe(error: dict) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in {"string_too_long", "too_long"}:
        unit = "items" if isinstance(error.get("input"), list) else "characters"
        return f"must have at most {ctx['max_length']} {unit}"
    if kind == "too_short":
        return "must not be empty"
    if kind in {"greater_than_equal", "less_than_equal"}:
        return error["msg"].replace("Input should be", "must be")
    if kind in _MESSAGES:
        return _MESSAGES[kind].format(**ctx)
    return error["msg"]


def _where(loc: tuple) -> tuple[str, str]:
    """The field a validation error belongs to (`body` for the body as a whole), and where inside it, when
    it is a field of an item (`[0].billing` in `cast`); an item of a list of ids is its list's business."""
    if not loc:
        return "body", ""
    inside = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[1:])
    return str(loc[0]), inside if any(isinstance(part, str) for part in loc[1:]) else ""


def field_messages(exc: ValidationError) -> list[tuple[str, str]]:
    """Each failure of a pydantic error as (the field, the API's message), in the wording every answer uses."""
    described = []
    for error in exc.errors(include_url=False):
        field, inside = _where(error["loc"])
        described.append((field, f"{inside}: {_describe(error)}" if inside else _describe(error)))
    return described


def validation_error(exc: ValidationError, status: int) -> ApiError:
    """A pydantic error as 422 (body) or 400 (query), with `details` per field."""
    details: dict[str, list[str]] = {}
    for field, message in field_messages(exc):
        if message not in details.setdefault(field, []):
            details[field].append(message)
    summary = "; ".join(f"{field} {messages[0]}" for field, messages in details.items())
    return ApiError(status, summary, details)


def error_response(status: int, message: str, details: dict | None = None, headers: dict | None = None,
                   extra: dict | None = None):
    body = {"success": False, "error": status, "message": message}
    if details is not None:
        body["details"] = details
    body.update(extra or {})
    if status >= 500:
        body["request_id"] = g.get("request_id")  # for the user to quote; the log line has it too
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def discard_session() -> None:
    """Roll back this request's session; when even that fails, invalidate its connection instead of
    returning it to the pool. Never raises."""
    try:
        db.session.rollback()
    except Exception as exc:  # the connection is gone or unusable: it must not serve another request
        log.info("rollback failed, discarding the connection: %s", exc)
        with contextlib.suppress(Exception):
            db.session.invalidate()


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.message, exc.details, exc.headers, exc.extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        headers = {k: v for k, v in exc.get_headers() if k.lower() in {"allow", "retry-after"}}
        messages = {
            404: "resource not found",
            405: f"method {request.method} not allowed here",
            413: STATUS_MESSAGES[413],
            429: STATUS_MESSAGES[429],
        }
        status = exc.code or 500
        return error_response(status, messages.get(status, exc.description or exc.name), headers=headers)

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError):
        # The ORM found a row changed under it: a race (writes use explicit statements, so rare).
        discard_session()
        log.info("stale data on %s %s: %s", request.method, request.path, exc)
        return error_response(409, STATUS_MESSAGES[409])

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        discard_session()
        error = database_error(database_failure(exc))
        if error is None:
            log.exception("database error on %s %s", request.method, request.path)
            return error_response(500, STATUS_MESSAGES[500])
        log.warning("database error on %s %s answered %d: %s", request.method, request.path, error.status, exc.orig)
        return error_response(error.status, error.message, headers=error.headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        discard_session()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, STATUS_MESSAGES[500])

