"""The OpenAPI 3.1 document, generated from the routes and the same pydantic schemas that validate requests.

A view declares what it reads and answers with `@operation(...)`; its docstring
is the summary and `requires_auth` supplies the permission. `build(app)` walks
the URL map, so a route without a description cannot hide from the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from casting.errors import STATUS_MESSAGES
from casting.openapi.files import ERROR_EXAMPLES as FILE_ERRORS
from casting.openapi.tables import (
    CATALOGUE_VERSION,
    COMMON_ERRORS,
    CONDITIONAL_WRITE_ERRORS,
    CONTACT,
    DESCRIPTION,
    FILE_BODY,
    HEADERS,
    HTTP_METHODS,
    IDEMPOTENCY_KEY,
    IF_MATCH,
    IF_MATCH_NEW,
    IF_NONE_MATCH,
    IF_NONE_MATCH_WRITE,
    LICENSE,
    NO_REPRESENTATION_412,
    RATE_LIMIT_HEADERS,
    REF,
    REQUEST_BODY,
    STATUSES,
    TAGS,
    TITLE,
    VERSION,
    WRITE_ERRORS,
)
from casting.schemas.examples import EXAMPLE_REQUEST_ID
from casting.schemas.responses import Deleted, ErrorBody
from casting.tokens.roles import PUBLIC_PERMISSIONS


def operation(response: type[BaseModel] | None, *, status: int = 200, query: type[BaseModel] | None = None,
              body: type[BaseModel] | None = None, body_required: bool = True, errors: tuple[int, ...] = (),
              links: dict | None = None, media: dict | None = None, body_media: dict | None = None,
              error_models: dict[int, type[BaseModel]] | None = None):
    """Describe a view for the OpenAPI document (it does not change what the view does).

    `links` maps a path parameter to where a successful exchange carries it
    (`{"movie_id": "$response.body#/movie/id"}`, or `$request.path.movie_id`):
    every operation whose path parameters it covers gets an OpenAPI link, which
    stateful testing follows. Files (casting/openapi/files.py): `media` is the content of a success that is
    no JSON (`response` None), `body_media` that of a request body that is no JSON; `error_models` replaces
    ErrorBody for a status whose error carries more.
    """

    def decorate(view):
        view.openapi = {"response": response, "status": status, "query": query, "body": body,
                        "body_required": body_required, "errors": errors, "links": links or {}, "media": media,
                        "body_media": body_media, "error_models": error_models or {}}
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
            "description": prop["description"],  # every query field says what it is (casting/schemas/)
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
    if spec["body_media"] and status in FILE_ERRORS:  # an import's
        example["message"] = FILE_ERRORS[status]
    elif status == 400 and spec["query"]:
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
    elif status == 400 and method == "GET":  # a read's one header with rules
        example["message"] = "Catalogue-Version must be a catalogue version this API answered (a whole number from 1)"
    elif status == 400 and not spec["body"] and method != "GET":
        example["message"] = "this endpoint takes no request body"
    elif status == 412:
        example["message"] = ("the record has changed since you read it (If-Match does not match its ETag); "
                              "nothing was written")
    elif status == 428:
        example["message"] = "this API requires If-Match on changes: send the ETag of the record you read"
    elif status == 422 and spec["body"] and "cast" in spec["body"].model_fields and len(spec["body"].model_fields) == 1:
        example["message"] = "cast [0].billing: must be less than or equal to 1000"
        example["details"] = {"cast": ["[0].billing: must be less than or equal to 1000"]}
    elif status == 422 and spec["body"]:
        field = next(iter(spec["body"].model_fields))  # a title, a name or a character
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


def _error_response(status: int, example: dict | None, *, rate_limited: bool,
                    model: type[BaseModel] = ErrorBody) -> dict:
    if status == 304:
        return {"description": STATUSES[304][0], "headers": _headers(304, rate_limited=rate_limited)}
    if model is not ErrorBody:  # an error that carries more: its own description and example
        description, example = (model.__doc__ or "").strip(), model.model_config["json_schema_extra"]["examples"][0]
    else:
        description = STATUSES[status][0]
    return {
        "description": description,
        "headers": _headers(status, rate_limited=rate_limited),
        "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}, "example": example}},
    }


def build(app: Flask) -> dict:
    described = [(rule, app.view_functions[rule.endpoint]) for rule in app.url_map.iter_rules()]
    described = [(rule, view) for rule, view in described if hasattr(view, "openapi")]
    models = {ErrorBody}
    for _, view in described:
        models |= {view.openapi["response"], view.openapi["body"], *view.openapi["error_models"].values()} - {None}
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

    permission: str | None  # from requires_auth: the token it needs (None: public, unless permission_by)
    permission_by: tuple[str, dict] | None  # from requires_auth_by: a query parameter, and by its value the permission
    rate_limited: bool  # ratelimit.reads / ratelimit.writes: the X-RateLimit headers, 429
    safe_write: bool  # casting.api.writes.safe_write: Idempotency-Key, 409, 422
    conditional_read: bool  # a GET of a record or a list: ETag, If-None-Match, 304
    conditional_write: bool  # a write: If-Match, If-None-Match, 412
    existing_record: bool  # a change to an existing record (not a POST): REQUIRE_IF_MATCH's 428

    @property
    def guarded(self) -> bool:
        return self.permission is not None or self.permission_by is not None

    @property
    def first_permission(self) -> str | None:
        """The permission a 403's example names."""
        return self.permission or (next(iter(self.permission_by[1].values())) if self.permission_by else None)

    @classmethod
    def of(cls, view, method: str) -> _Traits:
        permission = getattr(view, "required_permission", None)
        by = getattr(view, "permission_by", None)
        safe_write = getattr(view, "safe_write", False)
        return cls(permission, by, getattr(view, "rate_limit", None) is not None, safe_write,
                   method == "GET" and permission is not None, safe_write, safe_write and method != "POST")


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
            "description": REQUEST_BODY if spec["body_required"] else f"Optional. {REQUEST_BODY}",
            "required": spec["body_required"],
            "content": {"application/json": {"schema": {"$ref": REF.format(model=spec["body"].__name__)}}},
        }
    if spec["body_media"]:
        operation_spec["requestBody"] = {"description": FILE_BODY, "required": True, "content": spec["body_media"]}
    security, requirement = _security(traits, public_reads)
    operation_spec["security"] = security
    if traits.permission:
        operation_spec["x-required-permission"] = traits.permission
    elif traits.permission_by:
        parameter, permissions = traits.permission_by
        operation_spec[f"x-required-permission-by-{parameter}"] = permissions
    operation_spec["description"] = (description.strip() + "\n\n" + requirement).strip()
    operation_spec["responses"] = {str(spec["status"]): _success(spec, traits)}
    for status in _error_statuses(spec, traits, parameters, allowed):
        example = None if status == 304 else _error_example(status, spec, path, method, traits.first_permission,
                                                             allowed)
        operation_spec["responses"][str(status)] = _error_response(
            status, example, rate_limited=traits.rate_limited, model=spec["error_models"].get(status, ErrorBody))
    if traits.conditional_write and not traits.existing_record:
        # A create or a restore has no current representation: any If-Match fails, with no ETag to send.
        refused = operation_spec["responses"]["412"]
        refused["description"] = NO_REPRESENTATION_412
        refused["headers"].pop("ETag")
        refused["content"]["application/json"]["example"]["message"] = (
            "If-Match names a current representation, and there is none yet: nothing was written (send no "
            "If-Match to create or restore a record)")
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
        parameters += [IF_NONE_MATCH, CATALOGUE_VERSION]
    if traits.conditional_write:
        parameters += [IF_MATCH if traits.existing_record else IF_MATCH_NEW, IF_NONE_MATCH_WRITE]
    if traits.safe_write:
        parameters.append(IDEMPOTENCY_KEY)
    return parameters


def _security(traits: _Traits, public_reads: bool) -> tuple[list, str]:
    """The operation's security requirement, and the sentence its description ends with."""
    if traits.permission_by:
        parameter, permissions = traits.permission_by
        named = ", ".join(f"`{value}`: `{permission}`" for value, permission in permissions.items())
        return [{"bearerAuth": []}], f"Requires, by `{parameter}`, the permission of its value: {named}."
    if not traits.permission:
        return [], "Public: needs no token."
    if public_reads and traits.permission in PUBLIC_PERMISSIONS:
        # This deployment serves the catalogue to anyone (PUBLIC_READS=true): the token is optional.
        return [{}, {"bearerAuth": []}], ("Open to anyone on this deployment (`PUBLIC_READS=true`); a token that "
                                          "is sent is still verified, and a bad one is a 401.")
    return [{"bearerAuth": []}], f"Requires the `{traits.permission}` permission."


def _success(spec: dict, traits: _Traits) -> dict:
    # Every record and list answer has an ETag (a delete's answer is neither); lists have cursors' links; a
    # file its name. An import's report is none of them. Whatever reads or writes the catalogue may say at
    # which version it did.
    response = spec["response"]
    headers = ("ETag",) if traits.permission and response is not Deleted else ()
    headers += ("Catalogue-Version",) if traits.permission else ()
    headers += ("Link",) if response is not None and "next_cursor" in response.model_fields else ()
    headers += ("Content-Disposition",) if spec["media"] else ()
    headers += ("Idempotent-Replayed",) if traits.safe_write else ()
    content = spec["media"] or {"application/json": {"schema": {"$ref": REF.format(model=response.__name__)}}}
    return {
        "description": "Success",
        "headers": _headers(spec["status"], rate_limited=traits.rate_limited, success=headers),
        "content": content,
    }


def _error_statuses(spec: dict, traits: _Traits, parameters: list[dict], allowed: frozenset[str]) -> list[int]:
    """Every other status the operation can answer, from what it is and what it takes."""
    errors = set(spec["errors"])
    if traits.guarded:
        errors |= set(COMMON_ERRORS)
    if traits.rate_limited:
        errors.add(429)
    if spec["query"]:
        errors.add(400)
    if traits.conditional_read:
        errors |= {304, 400}  # 400: a Catalogue-Version that is no version
    if traits.safe_write:
        errors |= set(WRITE_ERRORS)
    if traits.conditional_write:
        errors |= set(CONDITIONAL_WRITE_ERRORS)
    if traits.existing_record:
        errors.add(428)
    if any(p["in"] == "path" for p in parameters):
        errors.add(404)
    if HTTP_METHODS - allowed:
        errors.add(405)
    return sorted(errors)

