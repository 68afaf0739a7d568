"""Every way a request can fail, turned into the one JSON error shape."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from models import db

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"
# The API's fixed wording for these statuses, wherever they are raised (the OpenAPI examples quote it).
STATUS_MESSAGES = {
    401: "a bearer token is required",
    409: "the request conflicts with a concurrent change; nothing was written",
    413: "request body is larger than 64 KiB",
    415: "request body must be JSON (Content-Type: application/json)",
    429: "rate limit exceeded; slow down",
    500: "internal server error",
    503: "the database is unavailable; try again shortly",
}


class ApiError(Exception):
    """An expected failure: a status, a message for people, optional per-field details."""

    def __init__(self, status: int, message: str, details: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.headers = headers or {}


class ServiceUnavailable(ApiError):
    def __init__(self, message: str):
        super().__init__(503, message, headers={"Retry-After": RETRY_AFTER_SECONDS})


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


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


def validation_error(exc: ValidationError, status: int) -> ApiError:
    """A pydantic error as 422 (body) or 400 (query), with `details` per field."""
    details: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "body"
        message = _describe(error)
        if message not in details.setdefault(field, []):
            details[field].append(message)
    summary = "; ".join(f"{field} {messages[0]}" for field, messages in details.items())
    return ApiError(status, summary, details)


def error_response(status: int, message: str, details: dict | None = None, headers: dict | None = None):
    body = {"success": False, "error": status, "message": message}
    if details is not None:
        body["details"] = details
    if status >= 500:
        body["request_id"] = g.get("request_id")  # for the user to quote; the log line has it too
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.message, exc.details, exc.headers)

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

    @app.errorhandler(IntegrityError)
    def _integrity_error(exc: IntegrityError):
        # A concurrent change won a race our own checks could not see (a
        # duplicate casting, a record deleted mid-request): nothing was written.
        db.session.rollback()
        log.info("integrity error on %s %s: %s", request.method, request.path, exc.orig)
        return error_response(409, STATUS_MESSAGES[409])

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError):
        db.session.rollback()
        return error_response(404, "the record was deleted by another request")

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        db.session.rollback()
        if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
            log.warning("database unavailable: %s", exc.orig)
            return error_response(503, STATUS_MESSAGES[503],
                                  headers={"Retry-After": RETRY_AFTER_SECONDS})
        log.exception("database error on %s %s", request.method, request.path)
        return error_response(500, STATUS_MESSAGES[500])

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, STATUS_MESSAGES[500])

