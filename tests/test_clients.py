"""The third-party clients: the Postman collection against the OpenAPI document, and scripts/smoke.py run for real."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Actor, Movie, db
from tests.utils.environment import ROOT
from tests.utils.processes import free_port
from tests.utils.records import row_counts

COLLECTION = ROOT / "postman" / "casting-agency.postman_collection.json"
ENVIRONMENT = ROOT / "postman" / "casting-agency.postman_environment.json"
SMOKE = ROOT / "scripts" / "smoke.py"
ROLE_FOLDERS = ["No token", "Casting Assistant", "Casting Director", "Executive Producer"]
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
PLACEHOLDER = re.compile(r"\{\{[a-z_]+\}\}")


# --- the Postman collection ---------------------------------------------------------------


@pytest.fixture(scope="module")
def collection() -> dict:
    return json.loads(COLLECTION.read_text())


@pytest.fixture(scope="module")
def document() -> dict:
    return json.loads((ROOT / "openapi.json").read_text())


def requests_in(folder: dict) -> list[dict]:
    found = []
    for item in folder["item"]:
        found += requests_in(item) if "item" in item else [item["request"]]
    return found


def operation(request: dict) -> tuple[str, str]:
    """("GET", "/movies/{}") from a Postman request: each {{variable}} segment is a path parameter."""
    segments = ["{}" if PLACEHOLDER.fullmatch(segment) else segment for segment in request["url"]["path"]]
    return request["method"], "/" + "/".join(segments)


def strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return [value] if isinstance(value, str) else []


def test_collection_is_postman_v2_1_with_a_folder_per_role(collection):
    assert collection["info"]["schema"] == "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    assert [folder["name"] for folder in collection["item"]] == ["Setup", *ROLE_FOLDERS, "Safe writes", "Cleanup"]
    auth = {folder["name"]: folder["auth"] for folder in collection["item"]}
    assert auth["No token"] == {"type": "noauth"}
    for role, variable in [("Casting Assistant", "assistant_token"), ("Casting Director", "director_token"),
                           ("Executive Producer", "producer_token")]:
        assert auth[role]["type"] == "bearer"
        assert auth[role]["bearer"] == [{"key": "token", "value": f"{{{{{variable}}}}}", "type": "string"}]


def test_every_role_folder_covers_every_operation_of_the_document(collection, document):
    documented = {(method.upper(), re.sub(r"{[^}]+}", "{}", path))
                  for path, operations in document["paths"].items() for method in operations}
    assert len(documented) == 21
    for folder in collection["item"]:
        if folder["name"] in ROLE_FOLDERS:
            covered = {operation(request) for request in requests_in(folder)}
            assert documented - covered == set(), f"{folder['name']} misses these operations"
            assert {request["url"]["host"][0] for request in requests_in(folder)} == {"{{base_url}}"}


def test_safe_writes_folder_shows_a_replay_and_a_lost_update_refused(collection):
    folder = next(folder for folder in collection["item"] if folder["name"] == "Safe writes")
    items = folder["item"]

    def sent(item, header):
        return next((h["value"] for h in item["request"]["header"] if h["key"] == header), None)

    def script(item):
        tests = [event for event in item["event"] if event["listen"] == "test"]
        return "\n".join(line for event in tests for line in event["script"]["exec"])

    first, retry, other_body = items[0], items[1], items[2]
    assert operation(first["request"]) == operation(retry["request"]) == ("POST", "/actors")
    assert sent(first, "Idempotency-Key") == sent(retry, "Idempotency-Key") == sent(other_body, "Idempotency-Key")
    assert first["request"]["body"]["raw"] == retry["request"]["body"]["raw"] != other_body["request"]["body"]["raw"]
    assert "Idempotent-Replayed" in script(retry) and "status(422)" in script(other_body)
    refused = next(item for item in items if "412" in item["name"])
    winner = items[items.index(refused) - 1]
    assert operation(refused["request"]) == operation(winner["request"]) == ("PATCH", "/actors/{}")
    assert sent(refused, "If-Match") == sent(winner, "If-Match") == "{{safe_actor_etag}}"
    assert "status(412)" in script(refused) and "status(304)" in "".join(script(item) for item in items)
    # The collection-wide envelope check leaves the body-less 304 alone.
    envelope = "\n".join(next(e for e in collection["event"] if e["listen"] == "test")["script"]["exec"])
    assert "code !== 304" in envelope


def test_no_token_folder_fetches_the_document_and_the_docs(collection):
    folder = next(folder for folder in collection["item"] if folder["name"] == "No token")
    requests = {item["name"]: item for item in folder["item"]}
    for name, path in [("GET /openapi.json", "/openapi.json"), ("GET /docs", "/docs")]:
        assert operation(requests[name]["request"]) == ("GET", path)
        script = "\n".join(requests[name]["event"][0]["script"]["exec"])
        assert "to.have.status(200)" in script
    assert "3\\.1" in "\n".join(requests["GET /openapi.json"]["event"][0]["script"]["exec"])
    assert "text\\/html" in "\n".join(requests["GET /docs"]["event"][0]["script"]["exec"])
    # The collection-wide envelope checks must leave the HTML page alone.
    envelope = "\n".join(next(e for e in collection["event"] if e["listen"] == "test")["script"]["exec"])
    assert "docs" in envelope and "openapi\\.json" in envelope


def test_no_token_is_committed(collection):
    environment = json.loads(ENVIRONMENT.read_text())
    values = {variable["key"]: variable["value"] for variable in environment["values"]}
    assert set(values) == {"base_url", "assistant_token", "director_token", "producer_token"}
    assert set(values.values()) == {""}
    assert all(variable["value"] == "" for variable in collection["variable"])
    for text in strings(collection) + strings(environment):
        assert not JWT.search(text), f"something like a JWT is committed: {text[:40]}..."
    for request in requests_in(collection):
        for header in request["header"]:
            if header["key"].lower() == "authorization":
                assert header["value"] == "Bearer not-a-jwt" or PLACEHOLDER.search(header["value"])


# --- scripts/smoke.py ---------------------------------------------------------------------


def run_smoke(base_url: str, **tokens: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update(tokens, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, str(SMOKE), "--timeout", "5", base_url], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_smoke_fails_readably_when_nothing_listens():
    result = run_smoke(f"http://127.0.0.1:{free_port()}", PRODUCER_TOKEN="not-a-real-token")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"FAIL  health — GET /health: cannot connect.*", lines[1]), lines
    assert re.fullmatch(r"smoke: 0 passed, [1-9][0-9]* failed, [1-9][0-9]* skipped", lines[-1]), lines


def test_smoke_without_a_producer_token_is_a_usage_error():
    result = run_smoke(f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert "PRODUCER_TOKEN is not set" in result.stderr




def test_smoke_passes_against_gunicorn_and_leaves_nothing_behind(app, gunicorn, issuer):
    before = row_counts(app)
    result = run_smoke(gunicorn.url, PRODUCER_TOKEN=issuer.mint("executive-producer"),
                       DIRECTOR_TOKEN=issuer.mint("casting-director"),
                       ASSISTANT_TOKEN=issuer.mint("casting-assistant"))
    assert result.returncode == 0, result.stdout + result.stderr + gunicorn.process.output()
    lines = result.stdout.splitlines()
    assert all(line.startswith("PASS  ") for line in lines[1:-1]), lines
    assert any(line.startswith("PASS  casting assistant") for line in lines)
    assert re.fullmatch(r"smoke: [1-9][0-9]* passed, 0 failed, 0 skipped", lines[-1]), lines
    assert row_counts(app) == before
    with app.app_context():
        assert db.session.scalars(select(Movie.title).where(Movie.title.contains("smoke-"))).all() == []
        assert db.session.scalars(select(Actor.name).where(Actor.name.contains("smoke-"))).all() == []
        db.session.remove()


# --- clients generated from the document (the TypeScript one runs in .ci/client-flows.sh) ------------


@pytest.fixture(scope="module")
def python_client(tmp_path_factory) -> Path:
    """The package openapi-python-client generates from openapi.json (which the app serves), in a folder to put
    on PYTHONPATH. Its own post-processing runs the venv's ruff."""
    folder = tmp_path_factory.mktemp("python-client")
    bin_dir = Path(sys.executable).parent
    result = subprocess.run([str(bin_dir / "openapi-python-client"), "generate", "--path", str(ROOT / "openapi.json"),
                             "--meta", "none", "--fail-on-warning",
                             "--config", str(ROOT / "clients" / "openapi-python-client.yaml"), "--output-path",
                             str(folder / "casting_agency_client")],
                            env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def test_generated_python_client_reads_errors_and_sort_keys_right(python_client):
    models = python_client / "casting_agency_client" / "models"
    error_body = (models / "error_body.py").read_text()
    assert "    details: FieldErrors | Unset = UNSET\n" in error_body
    assert "    request_id: str | Unset = UNSET\n" in error_body
    assert not list(models.glob("*details_type*")), "details is still a union with null"
    assert sorted(path.name for path in models.glob("*sort*")) == ["actor_sort.py", "movie_sort.py"]
    movie_sort = (models / "movie_sort.py").read_text()
    assert '    RELEASE_DATE_DESC = "-release_date"\n' in movie_sort and '    TITLE_DESC = "-title"\n' in movie_sort
    assert '    AGE_DESC = "-age"\n' in (models / "actor_sort.py").read_text()
    assert not [path.name for path in models.glob("*.py") if "VALUE_" in path.read_text()]


def test_python_client_flow_passes_against_gunicorn(app, gunicorn, issuer, python_client):
    """clients/flow.py (CI runs it in .ci/client-flows.sh too): create, cast, patch, errors, delete."""
    before = row_counts(app)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update(PYTHONPATH=str(python_client), PRODUCER_TOKEN=issuer.mint("executive-producer"),
               DIRECTOR_TOKEN=issuer.mint("casting-director"), ASSISTANT_TOKEN=issuer.mint("casting-assistant"))
    result = subprocess.run([sys.executable, str(ROOT / "clients" / "flow.py"), gunicorn.url], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr + gunicorn.process.output()
    lines = result.stdout.splitlines()
    assert all(line.startswith("ok  ") for line in lines[:-1]) and len(lines) == 12, lines
    assert lines[-1] == "python client (openapi-python-client): flow complete, 11 steps"
    assert row_counts(app) == before
