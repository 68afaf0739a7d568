"""Issue 21, item 8, on the server: `/favicon.ico` is the dashboard's icon, and Swagger UI's first example of a new
movie is not a movie the demo catalogue has (its "Execute" made a second "Raids of the Ice")."""

from __future__ import annotations

import json

from casting.cli import DEMO_MOVIES, seed_demo
from casting.openapi import document as openapi_document
from models import db
from tests.utils.environment import ROOT

ICON = ROOT / "casting" / "dashboard" / "static" / "icon.svg"


def test_favicon_is_the_dashboard_icon(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert response.get_data() == ICON.read_bytes()
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "max-age=86400" in response.headers["Cache-Control"]
        etag = response.headers["ETag"]
    with client.get("/favicon.ico", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304
    with client.head("/favicon.ico") as head:
        assert head.status_code == 200
    assert client.post("/favicon.ico").status_code == 405


def test_favicon_is_no_api_operation(app):
    assert "/favicon.ico" not in openapi_document.build(app)["paths"]


def test_the_first_new_movie_example_is_not_a_demo_movie(app, client, producer):
    """What Swagger UI puts in "Try it out" for POST /movies: sent on the demo catalogue, a movie it did not have."""
    committed = json.loads((ROOT / "openapi.json").read_text())
    example = committed["components"]["schemas"]["MovieCreate"]["examples"][0]
    assert example == openapi_document.build(app)["components"]["schemas"]["MovieCreate"]["examples"][0]
    assert example["title"] not in {title for title, _, _ in DEMO_MOVIES}
    with app.app_context():
        seed_demo()
        db.session.remove()
    response = client.post("/movies", headers=producer, json=example)
    assert response.status_code == 201, response.json
    same = client.get("/movies", headers=producer, query_string={"q": example["title"]}).json["movies"]
    assert [movie["title"] for movie in same] == [example["title"]]
