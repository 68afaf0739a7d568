"""Records made through the API, request bodies, and what the database holds."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Actor, Movie, db, movie_actors


def api_as(client, headers: dict):
    """Call the API through Flask's test client with `headers` (a token's): api("POST", "/movies", json=...)."""

    def call(method: str, path: str, **kwargs):
        return client.open(path, method=method, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)

    return call


def new_movie(api, title="Raids of the Ice", release_date="2017-04-29", **extra) -> dict:
    response = api("POST", "/movies", json={"title": title, "release_date": release_date, **extra})
    assert response.status_code == 201, response.json
    return response.json["movie"]


def new_actor(api, name="Chris Pine", age=45, gender="male", **extra) -> dict:
    response = api("POST", "/actors", json={"name": name, "age": age, "gender": gender, **extra})
    assert response.status_code == 201, response.json
    return response.json["actor"]


def row_counts(app) -> tuple[int, int, int]:
    """(movies, actors, castings) in the database, read outside any request."""
    with app.app_context():
        counts = tuple(
            db.session.scalar(select(func.count()).select_from(table))
            for table in (Movie.__table__, Actor.__table__, movie_actors)
        )
        db.session.remove()
    return counts


def actor_body(name: str) -> dict:
    return {"name": name, "age": 40, "gender": "female"}
