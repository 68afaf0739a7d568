"""The OpenAPI document (casting/openapi/): generated from the code, committed, valid OpenAPI 3.1, complete (every
route with its permission, parameters, headers and answers), its schemas the validating ones, its examples valid,
and what generators read of it. Swagger UI at /docs is tested in tests/api/test_docs_page.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from pydantic import TypeAdapter, ValidationError

from casting.cli import seed_demo
from casting.openapi import document as openapi_document
from casting.openapi import tables
from casting.schemas import bodies, queries, responses, text
from casting.schemas.responses import ActorEnvelope, ActorList, Deleted, ErrorBody, MovieEnvelope, MovieList
from casting.schemas.values import EXACT_INTEGER
from models import db
from tests.utils.environment import ROOT


def test_committed_openapi_json_is_what_the_app_generates(app):
    committed = json.loads((ROOT / "openapi.json").read_text())
    assert committed == openapi_document.build(app), (
        "openapi.json is stale: run `APP_ENV=development .venv/bin/flask --app app openapi > openapi.json`")


def test_with_public_reads_the_document_says_catalogue_reads_need_no_token(make_app):
    document = make_app(PUBLIC_READS=True).test_client().get("/openapi.json").json
    validate(document)
    for path, method in (("/movies", "get"), ("/actors/{actor_id}", "get"), ("/movies/{movie_id}/actors", "get")):
        operation = document["paths"][path][method]
        assert operation["security"] == [{}, {"bearerAuth": []}], (path, method)
        assert "Open to anyone" in operation["description"]
    for path, method in (("/movies", "post"), ("/actors/{actor_id}", "delete"), ("/history", "get"),
                         ("/movies/{movie_id}/history", "get")):
        assert document["paths"][path][method]["security"] == [{"bearerAuth": []}], (path, method)


def test_the_document_is_valid_openapi_3_1(app):
    """Checked by openapi-spec-validator against the OpenAPI 3.1 specification (and its JSON Schema dialect)."""
    document = openapi_document.build(app)
    assert document["openapi"].startswith("3.1")
    validate(document)
    broken = {**document, "paths": {"/movies": {"get": {"responses": {"200": {"content": "none"}}}}}}
    with pytest.raises(OpenAPIValidationError):  # the validator does reject what is not OpenAPI
        validate(broken)


def test_cli_prints_the_document(app, database_url):
    env = {k: v for k, v in os.environ.items() if k not in {"AUTH0_DOMAIN", "API_AUDIENCE"}}
    env.update(DATABASE_URL=database_url, APP_ENV="development")
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "openapi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == openapi_document.build(app)


def test_served_without_a_token(client, app):
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.json == openapi_document.build(app)
    assert response.json["openapi"] == "3.1.0"


def test_every_route_of_the_contract_is_documented_with_its_permission(app):
    document = openapi_document.build(app)
    operations = {(method.upper(), path): op for path, ops in document["paths"].items() for method, op in ops.items()}
    expected = {
        ("GET", "/movies"): "get:movies", ("POST", "/movies"): "post:movies",
        ("GET", "/movies/{movie_id}"): "get:movies", ("PATCH", "/movies/{movie_id}"): "patch:movies",
        ("DELETE", "/movies/{movie_id}"): "delete:movies", ("GET", "/movies/{movie_id}/actors"): "get:actors",
        ("PUT", "/movies/{movie_id}/actors/{actor_id}"): "patch:movies",
        ("DELETE", "/movies/{movie_id}/actors/{actor_id}"): "patch:movies",
        ("PUT", "/movies/{movie_id}/cast"): "patch:movies",
        ("GET", "/movies/export"): "get:movies", ("GET", "/actors/export"): "get:actors",
        ("GET", "/castings/export"): "get:movies",
        ("GET", "/actors"): "get:actors", ("POST", "/actors"): "post:actors",
        ("GET", "/actors/{actor_id}"): "get:actors", ("PATCH", "/actors/{actor_id}"): "patch:actors",
        ("DELETE", "/actors/{actor_id}"): "delete:actors", ("GET", "/actors/{actor_id}/movies"): "get:movies",
        ("GET", "/history"): "get:history", ("GET", "/movies/{movie_id}/history"): "get:history",
        ("GET", "/actors/{actor_id}/history"): "get:history",
        ("POST", "/movies/{movie_id}/restore"): "delete:movies",
        ("POST", "/actors/{actor_id}/restore"): "delete:actors",
        ("GET", "/health"): None, ("GET", "/ready"): None,
    }
    # An import's permission depends on what its file is (docs/import-export.md): described in words there.
    assert set(operations) == set(expected) | {("POST", "/imports")}
    for key, permission in expected.items():
        op = operations[key]
        assert op["summary"], key
        assert op.get("x-required-permission") == permission, key
        if permission:
            assert op["security"] == [{"bearerAuth": []}]
            assert {"401", "403", "429", "503"} <= set(op["responses"]), key
            assert permission in op["description"]
    assert {"400", "413", "415", "422", "409"} <= set(operations["POST", "/movies"]["responses"])
    assert operations["POST", "/movies"]["responses"]["201"]["headers"]["Location"]
    assert "404" in operations["GET", "/movies/{movie_id}"]["responses"]
    assert "400" in operations["GET", "/actors"]["responses"]
    assert {"gender", "min_age", "max_age", "movie_id", "page", "per_page", "cursor", "q", "character", "sort"} == {
        p["name"] for p in operations["GET", "/actors"]["parameters"] if p["in"] == "query"}
    assert operations["POST", "/movies"]["responses"]["201"]["links"]["get_movie"]["parameters"] == {
        "movie_id": "$response.body#/movie/id"}
    # After a casting, stateful testing can uncast the same pair.
    cast_links = operations["PUT", "/movies/{movie_id}/actors/{actor_id}"]["responses"]["200"]["links"]
    assert cast_links["uncast_actor"]["parameters"] == {"movie_id": "$request.path.movie_id",
                                                        "actor_id": "$request.path.actor_id"}
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_request_schemas_are_the_validating_ones(app):
    schemas = openapi_document.build(app)["components"]["schemas"]
    movie = schemas["MovieCreate"]
    assert movie["required"] == ["title", "release_date"] and movie["additionalProperties"] is False
    assert schemas["ActorCreate"]["properties"]["age"] == {"maximum": 150, "minimum": 0, "type": "integer",
                                                           "description": EXACT_INTEGER}
    assert "required" not in schemas["MovieUpdate"]
    # Text fields refer to one component per kind of text, which holds the pattern.
    assert schemas["MovieCreate"]["properties"]["title"] == {"$ref": "#/components/schemas/Title"}
    assert schemas["Title"]["pattern"]
    assert schemas["MovieCreate"]["not"]["required"] == ["actor_ids", "cast"]


def test_text_patterns_trim_exactly_what_the_validator_trims():
    """Schemathesis reads patterns as ECMA-262, where \\s differs from Python's; the pattern must not use it.

    Every whitespace-like, control, separator, bidirectional, invisible or filler character, alone, around a
    letter, between letters and at the length limit, is accepted by the pattern exactly when the validator
    accepts it (found by schemathesis with gender="\\x1e\\t"), read by Python's regexes and by schemathesis's
    own JSON Schema validator (Rust).
    """
    schema = bodies.ActorCreate.model_json_schema()
    assert schema["properties"]["gender"] == {"$ref": "#/$defs/Gender"}
    pattern = schema["$defs"]["Gender"]["pattern"]
    assert not re.search(r"\\[sSdDwWbB]", pattern), pattern
    validator = _validator({"components": {}}, {"type": "string", "pattern": pattern})
    candidates = [chr(code) for code in range(0x3100) if chr(code).isspace() or code < 0x21 or code == 0x85]
    candidates += [chr(code) for code in sorted(text.CONTROLS | text.SEPARATORS | text.BIDI_CONTROLS
                                                 | text.INVISIBLE)]
    candidates += ["\ufeff", "\u200b", "\u180e", "a", "\u0301", "\U0001f3ac", "\U000e0020\U0001f3ac", "\ue000"]
    for char in candidates:
        for value in (char, f"{char}a{char}", char * 3 + "a", f"a{char}b", "a" * 50 + char, char + "a" * 51,
                      char + "a" * 49 + char):
            accepted = True
            try:
                bodies.ActorCreate.model_validate({"name": "N", "age": 1, "gender": value})
            except ValidationError:
                accepted = False
            assert bool(re.search(pattern, value)) == accepted, (repr(value), accepted)
            assert validator.is_valid(value) == accepted, (repr(value), accepted)


def test_search_pattern_refuses_exactly_what_the_validator_refuses():
    pattern = queries.MovieListQuery.model_json_schema()["properties"]["q"]["anyOf"][0]["pattern"]
    for code in [*range(0x300), *range(0x2000, 0x2100), 0xFEFF, 0x3000, 0x1F3AC]:
        value = f"a{chr(code)}b"
        accepted = True
        try:
            queries.MovieListQuery.model_validate({"q": value})
        except ValidationError:
            accepted = False
        assert bool(re.search(pattern, value)) == accepted, (repr(value), accepted)


def test_invisible_characters_are_unicode_format_characters_or_blank_fillers():
    import unicodedata

    fillers = {0x115F, 0x1160, 0x2800, 0x3164, 0xFFA0}
    listed = {code for code in text.INVISIBLE if code not in fillers}
    format_characters = {code for code in range(0x110000) if unicodedata.category(chr(code)) == "Cf"}
    assert listed <= format_characters
    if unicodedata.unidata_version == "14.0.0":  # Python 3.11's: the list is all of them (later versions add some)
        assert listed == format_characters
    assert all(unicodedata.name(chr(code)).endswith(("FILLER", "BLANK")) for code in fillers)


VALIDATED_BY = {
    ("POST", "/movies"): ("body", bodies.MovieCreate),
    ("PATCH", "/movies/{movie_id}"): ("body", bodies.MovieUpdate),
    ("POST", "/actors"): ("body", bodies.ActorCreate),
    ("PATCH", "/actors/{actor_id}"): ("body", bodies.ActorUpdate),
    ("GET", "/movies"): ("query", queries.MovieListQuery),
    ("GET", "/actors"): ("query", queries.ActorListQuery),
    ("GET", "/movies/{movie_id}/actors"): ("query", queries.MovieCastQuery),
    ("GET", "/actors/{actor_id}/movies"): ("query", queries.ActorFilmographyQuery),
}


@pytest.mark.parametrize(("method", "path"), list(VALIDATED_BY), ids=lambda value: str(value))
def test_what_the_document_allows_the_validators_accept(method, path):
    """Requests schemathesis generates as valid from the committed document pass the pydantic schemas.

    The live fuzzing in CI finds such mismatches by chance (gender="\\x1e\\t", duplicate ids); this
    looks for them on every run, offline. Records that do not exist (a documented 422) are not the
    schemas' business.
    """
    where, model = VALIDATED_BY[method, path]
    operation = schemathesis.openapi.from_path(ROOT / "openapi.json")[path][method]
    rejected: list = []

    @settings(max_examples=150, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy())
    def check(case):
        if where == "body":
            data = json.loads(json.dumps(case.body))
        else:  # as the query string carries them: text
            data = {name: str(value) for name, value in (case.query or {}).items()}
        try:
            model.model_validate(data)
        except ValidationError as exc:
            # A cast naming an actor or a billing twice breaks rules no JSON Schema of a list can state (the
            # document says them in words), like ids that name no record: not the schemas' business.
            errors = [error for error in exc.errors(include_url=False)
                      if not (error["loc"] == ("cast",) and error["type"] == "duplicates")]
            if errors:
                rejected.append((data, errors))

    check()
    assert not rejected, rejected[:3]


def test_responses_match_their_documented_schemas(client, producer):
    """The Public schemas in the document describe what the API really sends, with the status it is sent with."""

    def answer(status: int, method: str, path: str, **kwargs) -> dict:
        response = client.open(path, method=method, headers=producer, **kwargs)
        assert response.status_code == status, (method, path, response.get_data(as_text=True))
        return response.json

    actor = ActorEnvelope.model_validate(answer(201, "POST", "/actors", json={"name": "A", "age": 3, "gender": "x"}))
    movie = MovieEnvelope.model_validate(answer(201, "POST", "/movies", json={
        "title": "T", "release_date": "2020-01-01", "actor_ids": [actor.actor.id]}))
    assert [cast.id for cast in movie.movie.actors] == [actor.actor.id]
    assert MovieList.model_validate(answer(200, "GET", "/movies")).total == 1
    assert ActorList.model_validate(answer(200, "GET", "/actors")).total == 1
    assert ErrorBody.model_validate(answer(404, "GET", "/movies/999")).error == 404
    assert ErrorBody.model_validate(answer(422, "POST", "/movies", json={})).error == 422
    assert Deleted.model_validate(answer(200, "DELETE", f"/movies/{movie.movie.id}")).deleted == movie.movie.id


def _examples(document: dict):
    """(where, schema, example) for every example in the document: schema-level, parameter and response ones."""
    for name, schema in document["components"]["schemas"].items():
        for example in schema.get("examples", []):
            yield name, {"$ref": tables.REF.format(model=name)}, example
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if "example" in parameter:
                    yield f"{method.upper()} {path} {parameter['name']}", parameter["schema"], parameter["example"]
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/json", {})
                if "example" in content:
                    yield f"{method.upper()} {path} {status}", content["schema"], content["example"]


def test_the_document_has_examples_and_every_one_is_valid(app):
    """Valid under the document's JSON Schema (schemathesis drops any that is not) and under the pydantic model."""
    import jsonschema_rs  # schemathesis's own validator

    document = openapi_document.build(app)
    with_examples = {name for name, schema in document["components"]["schemas"].items() if schema.get("examples")}
    assert {"MovieCreate", "MovieUpdate", "MoviePublic", "ActorCreate", "ActorUpdate", "ActorPublic", "MovieList",
            "ActorList", "MovieEnvelope", "ActorEnvelope", "Deleted", "ErrorBody"} <= with_examples
    error_responses = [response for operations in document["paths"].values() for operation in operations.values()
                       for status, response in operation["responses"].items() if int(status) >= 400]
    assert all("example" in response["content"]["application/json"] for response in error_responses)
    seen = 0
    for where, schema, example in _examples(document):
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema,
                "components": document["components"]}
        errors = [error.message for error in jsonschema_rs.Draft202012Validator(
            root, validate_formats=True).iter_errors(example)]
        assert errors == [], (where, example)
        if "$ref" in schema:
            TypeAdapter(_schema_model(schema["$ref"].rsplit("/", 1)[-1])).validate_python(example)
        seen += 1
    path_parameters = [parameter for operations in document["paths"].values() for operation in operations.values()
                       for parameter in operation.get("parameters", []) if parameter["in"] == "path"]
    assert all(parameter["example"] == 1 for parameter in path_parameters)
    assert seen > len(error_responses) + len(path_parameters) + sum(
        len(schema.get("examples", [])) for schema in document["components"]["schemas"].values())


def test_request_examples_are_accepted_on_the_demo_catalogue(app, client, producer):
    """What Swagger UI pre-fills and schemathesis sends first: 201/200 where the seeded ids exist."""
    with app.app_context():
        seed_demo()
        db.session.remove()
    components = openapi_document.build(app)["components"]["schemas"]
    for body, method, path, status in [("MovieCreate", "POST", "/movies", 201), ("ActorCreate", "POST", "/actors", 201),
                                       ("MovieUpdate", "PATCH", "/movies/1", 200),
                                       ("ActorUpdate", "PATCH", "/actors/1", 200)]:
        examples = components[body]["examples"]
        assert len(examples) >= 2 and not ({"actor_ids", "movie_ids"} & set(examples[0])), body
        for example in examples:
            response = client.open(path, method=method, headers=producer, json=example)
            assert response.status_code == status, (body, example, response.json)
            record = response.json["movie" if "movie" in response.json else "actor"]
            assert {k: v for k, v in record.items() if k in example} == {
                k: v for k, v in example.items() if not k.endswith("_ids") and k != "cast"}
            if "cast" in example:  # the cast given with roles is the movie's cast, with its names
                assert [{k: v for k, v in actor.items() if k != "name"} for actor in record["actors"]] == [
                    {"id": member["actor_id"], **{k: v for k, v in member.items() if k != "actor_id"}}
                    for member in example["cast"]]


def test_405_is_documented_and_is_what_other_methods_get(client, app):
    document = openapi_document.build(app)
    for path, operations in document["paths"].items():
        url = re.sub(r"{[^}]+}", "1", path)
        documented = {method.upper() for method in operations}
        for operation in operations.values():
            response = operation["responses"]["405"]
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
            assert "Allow" in response["headers"]
            example = response["content"]["application/json"]["example"]
            assert example["error"] == 405 and example["message"].split()[1] not in documented
        for method in sorted(tables.HTTP_METHODS - documented):
            answer = client.open(url, method=method)
            assert answer.status_code == 405, (method, path)
            ErrorBody.model_validate(answer.json)
            assert answer.json["message"] == f"method {method} not allowed here"
            assert set(answer.headers["Allow"].split(", ")) - {"HEAD", "OPTIONS"} == documented


# --- what client generators read (openapi-python-client, openapi-typescript) ---------------------------


def _validator(document: dict, schema: dict):
    import jsonschema_rs  # schemathesis's own validator

    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(root)


def test_error_details_and_request_id_are_optional_and_never_null(app, client, producer, headers):
    """Absent unless sent, as the server does: no default, no null branch (generated clients typed them as always
    present, and `Object.keys(error.details)` type-checked, then crashed on a 403)."""
    document = openapi_document.build(app)
    components = document["components"]["schemas"]
    error_body = components["ErrorBody"]
    assert error_body["required"] == ["success", "error", "message"]
    assert error_body["properties"]["details"]["$ref"] == "#/components/schemas/FieldErrors"
    assert error_body["properties"]["request_id"]["type"] == "string"
    for name in ("details", "request_id"):
        assert {"default", "anyOf", "oneOf"}.isdisjoint(error_body["properties"][name]), name
    assert components["FieldErrors"]["type"] == "object"
    assert components["FieldErrors"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}

    validator = _validator(document, {"$ref": "#/components/schemas/ErrorBody"})
    assert not validator.is_valid({"success": False, "error": 404, "message": "x", "details": None})
    assert not validator.is_valid({"success": False, "error": 500, "message": "x", "request_id": None})
    # What the server sends: details on a 422 and a 400 for the query, neither on a 403 or a 404.
    answers = {
        422: client.post("/movies", headers=producer, json={"title": " ", "release_date": "2020-01-01"}),
        400: client.get("/movies?page=0", headers=producer),
        403: client.post("/movies", headers=headers("casting-assistant"), json={}),
        404: client.get("/movies/999", headers=producer),
    }
    for status, response in answers.items():
        assert response.status_code == status == response.json["error"], response.json
    invalid, bad_query, refused, missing = (answers[status].json for status in (422, 400, 403, 404))
    for body in (invalid, bad_query, refused, missing):
        assert validator.is_valid(body), body
        assert "request_id" not in body
    assert invalid["details"] == {"title": ["must not be empty"]} and bad_query["details"]["page"]
    assert "details" not in refused and "details" not in missing


def test_sort_parameters_are_named_enums_with_member_names(app):
    """One component per set of sort keys, whose values generators name (`RELEASE_DATE_DESC`, not `VALUE_5`)."""
    document = openapi_document.build(app)
    components = document["components"]["schemas"]
    sorts = {}
    for path, operations in document["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["name"] == "sort":
                sorts[path] = parameter["schema"]["$ref"].rsplit("/", 1)[-1]
    assert sorts == {"/movies": "MovieSort", "/actors/{actor_id}/movies": "MovieSort", "/movies/export": "MovieSort",
                     "/actors": "ActorSort", "/movies/{movie_id}/actors": "ActorSort", "/actors/export": "ActorSort"}
    for name, query, field in (("MovieSort", queries.MovieListQuery, "release_date"),
                               ("ActorSort", queries.ActorListQuery, "age")):
        enum = components[name]
        assert enum["type"] == "string" and enum["description"]
        names = dict(zip(enum["enum"], enum["x-enum-varnames"], strict=True))
        assert len(enum["x-enum-descriptions"]) == len(enum["enum"])
        assert names[field] == field.upper() and names[f"-{field}"] == f"{field.upper()}_DESC"
        assert len(set(names.values())) == len(names) and all(n.isidentifier() for n in names.values())
        for value in enum["enum"]:  # the document's values are exactly the ones the validator takes
            assert query.model_validate({"sort": value}).sort == value
        with pytest.raises(ValidationError):
            query.model_validate({"sort": f"{field}_desc"})


def test_public_operations_say_so_and_others_name_their_token(make_app):
    for public_reads in (False, True):
        document = make_app(PUBLIC_READS=public_reads).test_client().get("/openapi.json").json
        for path in ("/health", "/ready"):
            operation = document["paths"][path]["get"]
            assert operation["security"] == [] and operation["description"] == "Public: needs no token."
        assert all("security" in operation for operations in document["paths"].values()
                   for operation in operations.values())


def test_envelopes_require_success_and_no_property_has_a_title(app):
    schemas_ = openapi_document.build(app)["components"]["schemas"]
    with_success = [name for name, schema in schemas_.items() if "success" in schema.get("properties", {})]
    assert set(with_success) == {"MovieEnvelope", "ActorEnvelope", "MovieList", "ActorList", "Deleted", "ErrorBody",
                                 "HistoryList", "MovieRestored", "ActorRestored", "ImportDone", "ImportRefused"}
    for name in with_success:
        assert "success" in schemas_[name]["required"], name
        assert "default" not in schemas_[name]["properties"]["success"], name
    for name, schema in schemas_.items():
        for field, prop in schema.get("properties", {}).items():
            assert "title" not in prop, (name, field)



def test_every_201_has_a_required_location(app):
    document = openapi_document.build(app)
    assert document["components"]["headers"]["Location"]["required"] is True
    created = [(path, method) for path, operations in document["paths"].items()
               for method, operation in operations.items() if "201" in operation["responses"]]
    assert created == [("/actors", "post"), ("/actors/{actor_id}/restore", "post"), ("/movies", "post"),
                       ("/movies/{movie_id}/restore", "post")]
    for path, method in created:
        headers = document["paths"][path][method]["responses"]["201"]["headers"]
        assert headers["Location"] == {"$ref": "#/components/headers/Location"}

def test_tags_license_contact_and_path_parameters_are_described(app):
    document = openapi_document.build(app)
    assert document["info"]["license"]["name"] and document["info"]["contact"]["name"]
    tags = {tag["name"]: tag.get("description") for tag in document["tags"]}
    assert all(tags.values()), tags
    operations = [operation for operations in document["paths"].values() for operation in operations.values()]
    assert {operation["tags"][0] for operation in operations} == set(tags)
    path_parameters = [p for operation in operations for p in operation.get("parameters", []) if p["in"] == "path"]
    assert {p["name"]: p["description"] for p in path_parameters} == {"movie_id": "The movie's id",
                                                                      "actor_id": "The actor's id"}


# Requests whose answers cover every kind of documented header: (role or None, method, url, body, status).
HEADER_CASES = [
    (None, "GET", "/health", None, 200), (None, "GET", "/ready", None, 200), (None, "GET", "/movies", None, 401),
    ("executive-producer", "POST", "/movies", {"title": "T", "release_date": "2020-01-01"}, 201),
    ("executive-producer", "GET", "/movies?sort=-release_date", None, 200),
    ("executive-producer", "GET", "/movies/999", None, 404),
    ("executive-producer", "GET", "/actors?page=0", None, 400),
    ("executive-producer", "POST", "/actors", {"name": ""}, 422),
    ("casting-assistant", "DELETE", "/actors/1", None, 403), (None, "PUT", "/movies", None, 405),
    (None, "DELETE", "/health", None, 405),
]


def test_responses_carry_exactly_the_documented_headers(make_app, app, issuer):
    """With rate limiting on: every response has its required headers, each valid, and no header of the API's
    own that its documentation leaves out (X-RateLimit-* on a 405, or a Location anywhere but a 201)."""
    document = openapi_document.build(app)
    described = {name.lower() for name in document["components"]["headers"]}
    client = make_app(RATELIMIT_ENABLED=True).test_client()
    for role, method, url, body, status in HEADER_CASES:
        auth = {"Authorization": f"Bearer {issuer.mint(role)}"} if role else {}
        response = client.open(url, method=method, headers=auth, json=body)
        assert response.status_code == status, (method, url, response.get_data(as_text=True))
        path = url.split("?")[0]
        template = next(t for t in document["paths"] if re.fullmatch(re.sub(r"{[^}]+}", "[0-9]+", t), path))
        operations = document["paths"][template]
        operation = operations.get(method.lower()) or next(iter(operations.values()))  # a 405: any of them
        documented = operation["responses"][str(response.status_code)].get("headers", {})
        headers = {}
        for name, reference in documented.items():
            header = document["components"]["headers"][reference["$ref"].rsplit("/", 1)[-1]]
            assert name in response.headers or not header.get("required"), (url, response.status_code, name)
            if name in response.headers:
                value = response.headers[name]
                headers[name.lower()] = int(value) if header["schema"]["type"] == "integer" else value
                assert _validator(document, header["schema"]).is_valid(headers[name.lower()]), (url, name, value)
        sent = {name.lower() for name, _ in response.headers.items()} & described
        assert sent == set(headers), (method, url, response.status_code, sent ^ set(headers))
        assert "x-request-id" in headers
        assert ("x-ratelimit-limit" in headers) == (template not in {"/health", "/ready"}
                                                    and response.status_code != 405), (url, response.status_code)


def test_conditional_requests_and_safe_writes_are_documented(app):
    """ETags, 304 and the Catalogue-Version on reads; If-Match, If-None-Match and 412 on every write (RFC 9110: on a
    create or a restore any If-Match fails, and its 412 has no ETag to send), 428 on changes to existing records;
    Idempotency-Key, its replay header, 400, 409 and 422 on every write."""
    document = openapi_document.build(app)
    operations = {(m.upper(), p): op for p, ops in document["paths"].items() for m, op in ops.items()}

    def headers(op) -> set[str]:
        return {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}

    for (method, path), op in operations.items():
        guarded = "x-required-permission" in op or path == "/imports"
        if method == "GET" and guarded:
            assert headers(op) == {"If-None-Match", "Catalogue-Version"}, path
            assert "304" in op["responses"] and "content" not in op["responses"]["304"]
            assert {"ETag", "Catalogue-Version"} <= set(op["responses"]["304"]["headers"])
            assert "ETag" in op["responses"]["200"]["headers"]
        elif method == "GET":
            assert headers(op) == set() and "304" not in op["responses"], path
        else:
            changes = method != "POST"
            assert headers(op) == {"If-Match", "If-None-Match", "Idempotency-Key"}, (method, path)
            assert {"400", "409", "412", "422"} <= set(op["responses"]), (method, path)
            assert ("428" in op["responses"]) == changes, (method, path)
            success = op["responses"]["201" if method == "POST" and path != "/imports" else "200"]
            assert "Idempotent-Replayed" in success["headers"]
            record = path != "/imports" and (path.count("/") > 2 or method != "DELETE")
            assert ("ETag" in success["headers"]) == record, (method, path)
            assert ("ETag" in op["responses"]["412"]["headers"]) == changes, (method, path)
    key = next(p for p in operations["POST", "/actors"]["parameters"] if p["name"] == "Idempotency-Key")
    assert key["schema"]["maxLength"] == 255
    assert document["components"]["headers"]["ETag"]["required"] is True


def test_every_parameter_says_what_it_is(app):
    """Query help lives with each field (casting/schemas/queries.py: Field(description=...)); none may be left blank."""
    for path, operations in openapi_document.build(app)["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                assert parameter["description"].strip(), (method, path, parameter["name"])


def _schema_model(name: str):
    """The pydantic model behind a component of the document."""
    for module in (bodies, queries, responses):
        if hasattr(module, name):
            return getattr(module, name)
    raise LookupError(name)
