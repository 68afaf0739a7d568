"""The OpenAPI document: generated from the code, committed, complete, and rendered offline at /docs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

import openapi
from schemas import ActorEnvelope, ActorList, Deleted, ErrorBody, MovieEnvelope, MovieList

ROOT = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"


def test_committed_openapi_json_is_what_the_app_generates(app):
    committed = json.loads((ROOT / "openapi.json").read_text())
    assert committed == openapi.build(app), "openapi.json is stale: run `flask --app app openapi > openapi.json`"


def test_cli_prints_the_document(app, database_url):
    env = {k: v for k, v in os.environ.items() if k not in {"AUTH0_DOMAIN", "API_AUDIENCE"}}
    env["DATABASE_URL"] = database_url
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "openapi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == openapi.build(app)


def test_served_without_a_token(client, app):
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.json == openapi.build(app)
    assert response.json["openapi"] == "3.1.0"


def test_every_route_of_the_contract_is_documented_with_its_permission(app):
    document = openapi.build(app)
    operations = {(method.upper(), path): op for path, ops in document["paths"].items() for method, op in ops.items()}
    expected = {
        ("GET", "/movies"): "get:movies", ("POST", "/movies"): "post:movies",
        ("GET", "/movies/{movie_id}"): "get:movies", ("PATCH", "/movies/{movie_id}"): "patch:movies",
        ("DELETE", "/movies/{movie_id}"): "delete:movies", ("GET", "/movies/{movie_id}/actors"): "get:actors",
        ("PUT", "/movies/{movie_id}/actors/{actor_id}"): "patch:movies",
        ("DELETE", "/movies/{movie_id}/actors/{actor_id}"): "patch:movies",
        ("GET", "/actors"): "get:actors", ("POST", "/actors"): "post:actors",
        ("GET", "/actors/{actor_id}"): "get:actors", ("PATCH", "/actors/{actor_id}"): "patch:actors",
        ("DELETE", "/actors/{actor_id}"): "delete:actors", ("GET", "/actors/{actor_id}/movies"): "get:movies",
        ("GET", "/health"): None, ("GET", "/ready"): None,
    }
    assert set(operations) == set(expected)
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
    assert {"gender", "min_age", "max_age", "movie_id", "page", "per_page", "q", "sort"} == {
        p["name"] for p in operations["GET", "/actors"]["parameters"]}
    assert operations["POST", "/movies"]["responses"]["201"]["links"]["get_movie"]["parameters"] == {
        "movie_id": "$response.body#/movie/id"}
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_request_schemas_are_the_validating_ones(app):
    schemas = openapi.build(app)["components"]["schemas"]
    movie = schemas["MovieCreate"]
    assert movie["required"] == ["title", "release_date"] and movie["additionalProperties"] is False
    assert schemas["ActorCreate"]["properties"]["age"] == {"maximum": 150, "minimum": 0, "title": "Age",
                                                           "type": "integer"}
    assert "required" not in schemas["MovieUpdate"]
    assert schemas["MovieCreate"]["properties"]["title"]["pattern"]


def test_responses_match_their_documented_schemas(client, producer):
    """The Public schemas in the document describe what the API really sends."""
    actor = ActorEnvelope.model_validate(client.post("/actors", headers=producer,
                                                     json={"name": "A", "age": 3, "gender": "x"}).json)
    movie = MovieEnvelope.model_validate(client.post("/movies", headers=producer, json={
        "title": "T", "release_date": "2020-01-01", "actor_ids": [actor.actor.id]}).json)
    MovieList.model_validate(client.get("/movies", headers=producer).json)
    ActorList.model_validate(client.get("/actors", headers=producer).json)
    ErrorBody.model_validate(client.get("/movies/999", headers=producer).json)
    ErrorBody.model_validate(client.post("/movies", headers=producer, json={}).json)
    Deleted.model_validate(client.delete(f"/movies/{movie.movie.id}", headers=producer).json)


def test_docs_page_uses_only_local_assets(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/static/docs.js"):
        assert asset in html
        asset_response = client.get(asset)
        assert asset_response.status_code == 200
        asset_response.close()


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_docs_render_in_chromium_with_no_network(live_server, issuer):
    """Swagger UI draws every operation from local files; any request off 127.0.0.1 is refused and recorded."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Debian's chromium (.ci/run installs it)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page()

            def only_local(route):
                if route.request.url.startswith(live_server):
                    return route.continue_()
                outside.append(route.request.url)
                return route.abort()

            page.route("**/*", only_local)
            page.goto(f"{live_server}/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            assert page.locator(".opblock").count() == 16
            assert page.locator("button.authorize").count() == 1
        finally:
            browser.close()
    assert outside == []
