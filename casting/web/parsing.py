"""Reading requests: path ids, JSON bodies and query parameters, each failure a JSON error naming the problem."""

from __future__ import annotations

import codecs
import functools
import json
from decimal import Decimal
from typing import TypeVar

from flask import g, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from casting.errors import STATUS_MESSAGES, ApiError, validation_error

Schema = TypeVar("Schema", bound=BaseModel)


class IdConverter(BaseConverter):
    """A record id in a path: up to ten digits; ids no record can have (0, > 2**31-1) simply find nothing (404)."""

    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _parse_int(digits: str) -> int:
    """JSON integers of any length: Python refuses to convert more than 4300 digits, and no field takes
    more than ten, so a longer one stands in as 10**21 (sign kept) and fails its range check as a 422."""
    if len(digits) <= 22:
        return int(digits)
    return -(10**21) if digits.startswith("-") else 10**21


class _DuplicateKey(Exception):
    pass


def _object(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object whose keys are all different (I-JSON, RFC 7493): a repeated key is refused, not settled
    by whichever came last."""
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def unsupported(message: str) -> ApiError:
    """A 415, saying (RFC 7694) that bodies are taken only unencoded."""
    return ApiError(415, message, headers={"Accept-Encoding": "identity"})


def json_text(raw: bytes) -> str:
    """The body as text: UTF-8, JSON's one encoding on the wire (RFC 8259). A UTF-8 byte order mark, which
    RFC 8259 lets a parser ignore, is ignored; UTF-16 and UTF-32 are refused (NUL bytes give them away even
    without a byte order mark: valid JSON text has none)."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        if b"\x00" in raw:
            raise UnicodeError
        return raw.decode("utf-8")
    except UnicodeError:
        raise ApiError(400, "request body must be UTF-8 (not UTF-16, UTF-32 or another encoding)") from None


def json_body(schema: type[Schema]) -> Schema:
    """The request body validated by `schema`: 415 not JSON or encoded, 400 unparsable or not an object,
    422 invalid."""
    if not request.is_json:
        raise unsupported(STATUS_MESSAGES[415])
    _identity_only()
    text = json_text(body_bytes())
    try:
        # Numbers with a fraction or an exponent stay exact decimals: a float would turn 1e-400 into 0.
        data = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int, parse_float=Decimal,
                          object_pairs_hook=_object)
    except _DuplicateKey as exc:
        key = exc.args[0][:100]  # named, up to a sensible length
        raise ApiError(400, f"request body has the key {json.dumps(key)} more than once",
                       {key: ["must appear only once"]}) from None
    except (ValueError, RecursionError):
        raise ApiError(400, "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, 422) from None


def body_bytes() -> bytes:
    """The request body, read once per request (413 past the limit, whether or not it came chunked): 64 KiB,
    or what the route set (`file_body`)."""
    if "body" not in g:
        limit = request.max_content_length
        too_large = g.get("body_too_large")
        if request.content_length is not None and request.content_length > limit:
            # Refused on the length it declares, before a byte of it is read.
            raise ApiError(413, too_large) if too_large else RequestEntityTooLarge()
        if request.content_length is None and request.environ.get("wsgi.input_terminated"):
            # A chunked body (no Content-Length): werkzeug would stop reading quietly at the limit and
            # hand over a truncated body, so read one byte past it to tell an oversized body apart.
            raw = request.environ["wsgi.input"].read(limit + 1)
            if len(raw) > limit:
                raise ApiError(413, too_large) if too_large else RequestEntityTooLarge()
        else:
            raw = request.get_data(cache=False)
        g.body = raw
    return g.body


FILE_TYPES = ("text/csv", "application/x-ndjson")
FILE_UNSUPPORTED = ("request body must be a CSV file (Content-Type: text/csv) or NDJSON (application/x-ndjson), "
                    "in UTF-8")
_UTF8 = ("utf-8", "utf8", "us-ascii")


def file_body(limit: int, too_large: str):
    """A route that takes a file, CSV or NDJSON, of up to `limit` bytes (a decorator above safe_write, so that
    these come before an Idempotency-Key's fingerprint reads the body): 415 for another content type, a
    charset other than UTF-8 or a Content-Encoding; 413 with `too_large` for a body past the limit, declared
    (refused before a byte is read) or chunked (reading stops at the limit)."""

    def decorate(view):
        @functools.wraps(view)
        def taking(*args, **kwargs):
            charset = request.mimetype_params.get("charset", "utf-8").lower()
            if request.mimetype not in FILE_TYPES or charset not in _UTF8:
                raise unsupported(FILE_UNSUPPORTED)
            _identity_only()
            request.max_content_length = limit
            g.body_too_large = too_large
            if request.content_length is not None and request.content_length > limit:
                raise ApiError(413, too_large)
            return view(*args, **kwargs)

        return taking

    return decorate


def _identity_only() -> None:
    codings = [c.strip().lower() for v in request.headers.getlist("Content-Encoding") for c in v.split(",")]
    if any(coding not in ("", "identity") for coding in codings):
        raise unsupported("request body must not be compressed or otherwise encoded: send it without "
                          "Content-Encoding (only identity is accepted)")


def has_body() -> bool:
    return bool(request.content_length or request.headers.get("Transfer-Encoding"))


def optional_json_body(schema: type[Schema]) -> Schema | None:
    """The body validated by `schema` when the request has one (as json_body), else None."""
    return json_body(schema) if has_body() else None


def no_body() -> None:
    """For endpoints that take no body: 415 for a PUT with a body that is not JSON, 400 for any other."""
    if has_body():
        if request.method == "PUT" and not request.is_json:
            raise unsupported("this endpoint takes no request body, and a body must be JSON")
        raise ApiError(400, "this endpoint takes no request body")


def query_args(schema: type[Schema]) -> Schema:
    """Query parameters validated by `schema`; anything wrong is a 400 naming the parameter."""
    repeated = {name: ["must be given once"] for name in request.args if len(request.args.getlist(name)) > 1}
    if repeated:
        raise ApiError(400, "; ".join(f"{name} must be given once" for name in repeated), repeated)
    try:
        return schema.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise validation_error(exc, 400) from None
