"""The OpenAPI 3.1 document, generated from the routes and the same pydantic schemas that validate requests.

A view declares what it reads and answers with `@operation(...)`; its docstring
is the summary and `requires_auth` supplies the permission. `build(app)` walks
the URL map, so a route without a description cannot hide from the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import swagger_ui
from flask import Blueprint, Flask, current_app, render_template
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from errors import STATUS_MESSAGES
from middleware import REQUEST_ID_PATTERN
from roles import PUBLIC_PERMISSIONS
from schemas import EXAMPLE_REQUEST_ID, Deleted, ErrorBody

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
    "history": "Every change made through the API: who, when, before and after",
    "health": "Liveness: the process answers (public, no database involved)",
    "ready": "Readiness: the database answers (public)",
}

# Each status other than the success: what it means, and the headers its answers carry.
STATUSES = {
    304: ("Not modified: `If-None-Match` names the current representation (no body)", ("ETag",)),
    400: ("Bad request: the body is not UTF-8, not valid JSON, not an object or has a key twice, a query "
          "parameter is wrong, or the `Idempotency-Key` is unusable", ()),
    401: ("No token, or a token that is malformed, expired, or signed, issued or addressed wrongly",
          ("WWW-Authenticate",)),
    403: ("A valid token without the required permission", ("WWW-Authenticate",)),
    404: ("No such record", ()),
    405: ("This path does not take the request's method; `Allow` lists the methods it does", ("Allow",)),
    409: ("A concurrent change the server could not serialize, or a request with this `Idempotency-Key` still "
          "in progress; nothing was written: retry", ()),
    412: ("`If-Match` does not name the record's current ETag (the `ETag` header has it): someone changed the "
          "record since you read it, and nothing was written", ("ETag",)),
    413: ("The body is larger than 64 KiB", ()),
    415: ("The body is not application/json, or is sent with a Content-Encoding other than identity",
          ("Accept-Encoding",)),
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
IF_MATCH = {
    "name": "If-Match", "in": "header", "required": False,
    "description": "The record's ETag from your last read (or `*`): the change happens only if it is still "
                   "current, else 412. A movie's ETag guards its castings. Required (428) where the deployment "
                   "sets `REQUIRE_IF_MATCH=true`.",
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
HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH"})
# Every guarded operation can answer these, whatever it does.
COMMON_ERRORS = (401, 403, 500, 503)
BODY_ERRORS = (400, 409, 413, 415, 422)
# What any write can answer besides (safe writes: transactions.safe_write), and changes to existing records.
WRITE_ERRORS = (400, 409, 422)
CONDITIONAL_WRITE_ERRORS = (412, 428)


def operation(response: type[BaseModel], *, status: int = 200, query: type[BaseModel] | None = None,
              body: type[BaseModel] | None = None, errors: tuple[int, ...] = (), links: dict | None = None):
    """Describe a view for the OpenAPI document (it does not change what the view does).

    `links` maps a path parameter to where a successful exchange carries it
    (`{"movie_id": "$response.body#/movie/id"}`, or `$request.path.movie_id`):
    every operation whose path parameters it covers gets an OpenAPI link, which
    stateful testing follows.
    """

    def decorate(view):
        view.openapi = {"response": response, "status": status, "query": query, "body": body,
                        "errors": errors, "links": links or {}}
        return view

    return decorate


class _DocumentSchema(GenerateJsonSchema):
    """pydantic's JSON Schema without a `title` on each property (generators and viewers show the name)."""

    def field_title_should_be_set(self, schema) -> bool:
        return False


def _path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def _without_null(schema: dict) -> dict:
    """Query parameters are strings or absent, never null: drop pydantic's `anyOf [..., null]`."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if len(options) == 1:
        schema = {**{k: v for k, v in schema.items() if k not in {"anyOf", "default"}}, **options[0]}
    schema.pop("title", None)
    return schema


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    """Each field as a query parameter; one with a default has it as its example (no filter is pre-filled)."""
    schema = model.model_json_schema(ref_template=REF, schema_generator=_DocumentSchema)
    parameters = []
    for name, prop in schema["properties"].items():
        parameter = {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", []),
            "description": prop["description"],  # every query field says what it is (schemas.py)
            "schema": _without_null({k: v for k, v in prop.items() if k != "description"}),
        }
        if prop.get("default") is not None:
            parameter["example"] = prop["default"]
        parameters.append(parameter)
    return parameters


def _error_example(status: int, spec: dict, path: str, method: str, permission: str | None,
                   allowed: frozenset[str]) -> dict:
    """The error body this operation gives for `status`, as the app words it."""
    example: dict = {"success": False, "error": status}
    if status == 400 and spec["query"]:
        example["message"] = "page must be greater than or equal to 1"
        example["details"] = {"page": ["must be greater than or equal to 1"]}
    elif status == 400 and spec["body"]:
        example["message"] = "request body is not valid JSON"
    elif status == 403:
        example["message"] = f"token lacks the {permission} permission"
    elif status == 404:
        example["message"] = f"{re.findall(r'{([a-z]+)_id}', path)[0]} not found"
    elif status == 405:
        example["message"] = f"method {min(HTTP_METHODS - allowed)} not allowed here"
    elif status == 400 and not spec["body"] and method != "GET":
        example["message"] = "this endpoint takes no request body"
    elif status == 412:
        example["message"] = ("the record has changed since you read it (If-Match does not match its ETag); "
                              "nothing was written")
    elif status == 428:
        example["message"] = "this API requires If-Match on changes: send the ETag of the record you read"
    elif status == 422 and spec["body"]:
        field = next(iter(spec["body"].model_fields))  # a title or a name
        example["message"] = f"{field} must not be empty"
        example["details"] = {field: ["must not be empty"]}
    elif status == 422:
        problem = "was used for another request (method, path or body); send a new key for a new request"
        example["message"] = f"this Idempotency-Key {problem}"
        example["details"] = {"Idempotency-Key": [problem]}
    else:
        example["message"] = STATUS_MESSAGES[status]
    if status >= 500:
        example["request_id"] = EXAMPLE_REQUEST_ID
    return example


def _headers(status: int, *, rate_limited: bool, success: tuple[str, ...] = ()) -> dict:
    """The headers a response with this status carries: its request id always, the rate limit's on a rate
    limited operation (a 405 is answered before the limiter runs), and the status's own."""
    names = ["X-Request-ID"]
    if rate_limited and status != 405:
        names += RATE_LIMIT_HEADERS
    if status == 201:
        names.append("Location")
    names += success if status < 300 else ()
    names += STATUSES[status][1] if status in STATUSES else ()
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _error_response(status: int, example: dict | None, *, rate_limited: bool) -> dict:
    if status == 304:
        return {"description": STATUSES[304][0], "headers": _headers(304, rate_limited=rate_limited)}
    return {
        "description": STATUSES[status][0],
        "headers": _headers(status, rate_limited=rate_limited),
        "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}, "example": example}},
    }


def build(app: Flask) -> dict:
    described = [(rule, app.view_functions[rule.endpoint]) for rule in app.url_map.iter_rules()]
    described = [(rule, view) for rule, view in described if hasattr(view, "openapi")]
    models = {ErrorBody}
    for _, view in described:
        models.add(view.openapi["response"])
        if view.openapi["body"]:
            models.add(view.openapi["body"])
    _, definitions = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)], ref_template=REF,
        schema_generator=_DocumentSchema,
    )
    schemas = definitions["$defs"]
    for _, view in described:  # what query parameters refer to (the sort keys)
        if view.openapi["query"]:
            schemas.update(view.openapi["query"].model_json_schema(ref_template=REF, schema_generator=_DocumentSchema)
                           .get("$defs", {}))

    # Any other method on a path is a 405 (the routing layer answers before any view runs).
    allowed: dict[str, frozenset[str]] = {}
    for rule in app.url_map.iter_rules():
        allowed[rule.rule] = allowed.get(rule.rule, frozenset()) | (rule.methods & HTTP_METHODS)
    paths: dict[str, dict] = {}
    for rule, view in sorted(described, key=lambda item: item[0].rule):
        path = _path(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule, view, path, method, allowed[rule.rule], public_reads=app.config.get("PUBLIC_READS", False))
    _add_links(paths, described)
    tags = {operation_spec["tags"][0] for operations in paths.values() for operation_spec in operations.values()}
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION, "license": LICENSE,
                 "contact": CONTACT},
        "servers": [{"url": "/"}],
        "tags": [{"name": tag, "description": description} for tag, description in TAGS.items() if tag in tags]
                + [{"name": tag} for tag in sorted(tags - TAGS.keys())],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "headers": HEADERS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _add_links(paths: dict, described: list) -> None:
    targets = [
        (operation_spec["operationId"], set(re.findall(r"{([^}]+)}", path)))
        for path, operations in paths.items()
        for operation_spec in operations.values()
    ]
    for rule, view in described:
        links = view.openapi["links"]
        if not links:
            continue
        path = _path(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation_spec = paths[path][method.lower()]
            response = operation_spec["responses"][str(view.openapi["status"])]
            response["links"] = {
                target: {"operationId": target, "parameters": {name: links[name] for name in sorted(params)}}
                for target, params in sorted(targets)
                if params and params <= links.keys()
            }


@dataclass(frozen=True)
class _Traits:
    """What an operation is, as far as the document is concerned."""

    permission: str | None  # from requires_auth: the token it needs (None: public)
    rate_limited: bool  # ratelimit.reads / ratelimit.writes: the X-RateLimit headers, 429
    safe_write: bool  # transactions.safe_write: Idempotency-Key, 409, 422
    conditional_read: bool  # a GET of a record or a list: ETag, If-None-Match, 304
    conditional_write: bool  # a change to an existing record: If-Match, 412, 428

    @classmethod
    def of(cls, view, method: str) -> _Traits:
        permission = getattr(view, "required_permission", None)
        safe_write = getattr(view, "safe_write", False)
        return cls(permission, getattr(view, "rate_limit", None) is not None, safe_write,
                   method == "GET" and permission is not None, safe_write and method != "POST")


def _operation(rule, view, path: str, method: str, allowed: frozenset[str], *, public_reads: bool = False) -> dict:
    spec, traits = view.openapi, _Traits.of(view, method)
    summary, _, description = (view.__doc__ or "").strip().partition("\n")
    operation_spec: dict = {"operationId": rule.endpoint.rsplit(".", 1)[-1], "summary": summary.strip(),
                            "tags": [path.strip("/").split("/")[0]]}
    parameters = _parameters(spec, path, traits)
    if parameters:
        operation_spec["parameters"] = parameters
    if spec["body"]:
        operation_spec["requestBody"] = {
            "description": REQUEST_BODY,
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=spec["body"].__name__)}}},
        }
    security, requirement = _security(traits, public_reads)
    operation_spec["security"] = security
    if traits.permission:
        operation_spec["x-required-permission"] = traits.permission
    operation_spec["description"] = (description.strip() + "\n\n" + requirement).strip()
    operation_spec["responses"] = {str(spec["status"]): _success(spec, traits)}
    for status in _error_statuses(spec, traits, parameters, allowed):
        example = None if status == 304 else _error_example(status, spec, path, method, traits.permission, allowed)
        operation_spec["responses"][str(status)] = _error_response(status, example,
                                                                  rate_limited=traits.rate_limited)
    return operation_spec


def _parameters(spec: dict, path: str, traits: _Traits) -> list[dict]:
    """The path's ids, the query's fields, and the conditional and idempotency headers it takes."""
    # Example id 1: the first movie and actor `flask seed` creates on a fresh database (the actor is cast in it).
    parameters = [
        {"name": name, "in": "path", "required": True, "description": f"The {name.removesuffix('_id')}'s id",
         "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}, "example": 1}
        for name in re.findall(r"{([^}]+)}", path)
    ]
    if spec["query"]:
        parameters += _query_parameters(spec["query"])
    if traits.conditional_read:
        parameters.append(IF_NONE_MATCH)
    if traits.conditional_write:
        parameters.append(IF_MATCH)
    if traits.safe_write:
        parameters.append(IDEMPOTENCY_KEY)
    return parameters


def _security(traits: _Traits, public_reads: bool) -> tuple[list, str]:
    """The operation's security requirement, and the sentence its description ends with."""
    if not traits.permission:
        return [], "Public: needs no token."
    if public_reads and traits.permission in PUBLIC_PERMISSIONS:
        # This deployment serves the catalogue to anyone (PUBLIC_READS=true): the token is optional.
        return [{}, {"bearerAuth": []}], ("Open to anyone on this deployment (`PUBLIC_READS=true`); a token that "
                                          "is sent is still verified, and a bad one is a 401.")
    return [{"bearerAuth": []}], f"Requires the `{traits.permission}` permission."


def _success(spec: dict, traits: _Traits) -> dict:
    # Every record and list answer has an ETag (a delete's answer is neither); lists have cursors' links.
    headers = ("ETag",) if traits.permission and spec["response"] is not Deleted else ()
    headers += ("Link",) if "next_cursor" in spec["response"].model_fields else ()
    headers += ("Idempotent-Replayed",) if traits.safe_write else ()
    return {
        "description": "Success",
        "headers": _headers(spec["status"], rate_limited=traits.rate_limited, success=headers),
        "content": {"application/json": {"schema": {"$ref": REF.format(model=spec["response"].__name__)}}},
    }


def _error_statuses(spec: dict, traits: _Traits, parameters: list[dict], allowed: frozenset[str]) -> list[int]:
    """Every other status the operation can answer, from what it is and what it takes."""
    errors = set(spec["errors"])
    if traits.permission:
        errors |= set(COMMON_ERRORS)
    if traits.rate_limited:
        errors.add(429)
    if spec["query"]:
        errors.add(400)
    if traits.conditional_read:
        errors.add(304)
    if traits.safe_write:
        errors |= set(WRITE_ERRORS)
    if traits.conditional_write:
        errors |= set(CONDITIONAL_WRITE_ERRORS)
    if any(p["in"] == "path" for p in parameters):
        errors.add(404)
    if HTTP_METHODS - allowed:
        errors.add(405)
    return sorted(errors)


# --- serving: /openapi.json and /docs -----------------------------------------------------

SWAGGER_ASSETS = Path(swagger_ui.__file__).parent / "static"
docs = Blueprint("docs", __name__, static_folder=str(SWAGGER_ASSETS), static_url_path="/docs/assets")

@docs.get("/openapi.json")
def spec():
    """The OpenAPI 3.1 document."""
    if "openapi_document" not in current_app.extensions:
        current_app.extensions["openapi_document"] = build(current_app)
    return current_app.extensions["openapi_document"]


@docs.get("/docs")
def page():
    """Interactive documentation (Swagger UI served from the installed package: no CDN)."""
    return render_template("docs.html", title=TITLE)
