"""The API, endpoint by endpoint: success, 404, validation, pagination, filters, sort, cascade."""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import io
import json
import threading

import pytest
from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from models import Actor, Movie, db, movie_actors
from tests.utils.asserters import assert_error
from tests.utils.records import new_actor, new_movie, row_counts

# --- health ---------------------------------------------------------------------------------


def test_health_and_ready_need_no_token(client):
    assert client.get("/health").json == {"status": "ok"}
    response = client.get("/ready")
    assert response.status_code == 200 and response.json["status"] == "ready"


# --- movies ---------------------------------------------------------------------------------


def test_create_movie_returns_201_location_and_cast(api):
    a, b = new_actor(api, "Gal Gadot", 41, "female"), new_actor(api)
    response = api("POST", "/movies", json={"title": "  Raids of the Ice  ", "release_date": "2017-04-29",
                                            "actor_ids": [b["id"], a["id"]]})
    assert response.status_code == 201
    movie = response.json["movie"]
    assert response.headers["Location"] == f"/movies/{movie['id']}"
    assert movie["title"] == "Raids of the Ice"  # trimmed
    assert movie["release_date"] == "2017-04-29"
    assert [x["id"] for x in movie["actors"]] == sorted([a["id"], b["id"]])  # ordered by id
    assert movie["actors"][0] == {"id": a["id"], "name": "Gal Gadot"}
    assert response.json["success"] is True


def test_get_movie_and_404(api):
    movie = new_movie(api)
    response = api("GET", f"/movies/{movie['id']}")
    assert response.status_code == 200
    assert response.json == {"success": True, "movie": movie}
    assert_error(api("GET", "/movies/9999"), 404)


@pytest.mark.parametrize("path", ["/movies/0", "/movies/-1", "/movies/abc", "/movies/99999999999",
                                  "/movies/2147483648", "/actors/0", "/nowhere"])
def test_ids_out_of_range_and_unknown_routes_are_json_404(api, path):
    assert_error(api("GET", path), 404)


def test_patch_movie_changes_only_given_fields(api):
    movie = new_movie(api)
    response = api("PATCH", f"/movies/{movie['id']}", json={"title": "Ice Raid"})
    assert response.status_code == 200
    assert response.json["movie"] == {**movie, "title": "Ice Raid"}


def test_patch_with_empty_object_is_a_noop(api):
    movie = new_movie(api, actor_ids=[new_actor(api)["id"]])
    response = api("PATCH", f"/movies/{movie['id']}", json={})
    assert response.status_code == 200
    assert response.json["movie"] == movie


def test_patch_actor_ids_replaces_the_cast(api):
    a, b, c = (new_actor(api, f"Actor {i}") for i in range(3))
    movie = new_movie(api, actor_ids=[a["id"], b["id"]])
    response = api("PATCH", f"/movies/{movie['id']}", json={"actor_ids": [c["id"], b["id"]]})
    assert [x["id"] for x in response.json["movie"]["actors"]] == [b["id"], c["id"]]
    response = api("PATCH", f"/movies/{movie['id']}", json={"actor_ids": []})
    assert response.json["movie"]["actors"] == []
    assert api("GET", f"/actors/{a['id']}").status_code == 200  # uncasting never deletes an actor


def test_patch_and_delete_unknown_movie_are_404(api):
    assert_error(api("PATCH", "/movies/4242", json={"title": "x"}), 404)
    assert_error(api("DELETE", "/movies/4242"), 404)


def test_delete_movie_removes_its_castings_not_its_actors(api, app):
    actor = new_actor(api)
    movie = new_movie(api, actor_ids=[actor["id"]])
    response = api("DELETE", f"/movies/{movie['id']}")
    assert response.status_code == 200
    assert response.json == {"success": True, "deleted": movie["id"]}
    assert_error(api("GET", f"/movies/{movie['id']}"), 404)
    assert api("GET", f"/actors/{actor['id']}").json["actor"]["movies"] == []
    assert row_counts(app) == (0, 1, 0)
    assert_error(api("DELETE", f"/movies/{movie['id']}"), 404)


# --- actors ---------------------------------------------------------------------------------


def test_create_get_patch_actor(api):
    movie = new_movie(api)
    response = api("POST", "/actors", json={"name": " Viola Davis ", "age": 61.0, "gender": "female",
                                            "movie_ids": [movie["id"]]})
    assert response.status_code == 201
    actor = response.json["actor"]
    assert response.headers["Location"] == f"/actors/{actor['id']}"
    assert actor == {"id": actor["id"], "name": "Viola Davis", "age": 61, "gender": "female",
                     "movies": [{"id": movie["id"], "title": movie["title"]}]}
    assert api("GET", f"/actors/{actor['id']}").json == {"success": True, "actor": actor}
    patched = api("PATCH", f"/actors/{actor['id']}", json={"age": 62, "movie_ids": []}).json["actor"]
    assert patched == {**actor, "age": 62, "movies": []}
    assert api("PATCH", f"/actors/{actor['id']}", json={}).json["actor"] == patched


def test_delete_actor_removes_castings_not_movies(api, app):
    actor = new_actor(api)
    movie = new_movie(api, actor_ids=[actor["id"]])
    assert api("DELETE", f"/actors/{actor['id']}").json == {"success": True, "deleted": actor["id"]}
    assert api("GET", f"/movies/{movie['id']}").json["movie"]["actors"] == []
    assert row_counts(app) == (1, 0, 0)
    assert_error(api("GET", f"/actors/{actor['id']}"), 404)
    assert_error(api("PATCH", f"/actors/{actor['id']}", json={"age": 3}), 404)
    assert_error(api("DELETE", f"/actors/{actor['id']}"), 404)


# --- casting --------------------------------------------------------------------------------


def test_cast_is_idempotent_and_uncast_404s_when_not_cast(api, app):
    movie, actor = new_movie(api), new_actor(api)
    path = f"/movies/{movie['id']}/actors/{actor['id']}"
    for _ in range(2):
        response = api("PUT", path)
        assert response.status_code == 200
        assert response.json["movie"]["actors"] == [{"id": actor["id"], "name": actor["name"]}]
    assert row_counts(app) == (1, 1, 1)
    response = api("DELETE", path)
    assert response.status_code == 200 and response.json["movie"]["actors"] == []
    assert_error(api("DELETE", path), 404)
    assert row_counts(app) == (1, 1, 0)


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_cast_with_unknown_movie_or_actor_is_404(api, method):
    movie, actor = new_movie(api), new_actor(api)
    assert "movie" in assert_error(api(method, f"/movies/999/actors/{actor['id']}"), 404)["message"]
    assert "actor" in assert_error(api(method, f"/movies/{movie['id']}/actors/999"), 404)["message"]


def test_a_cast_takes_a_role_or_no_body_and_an_uncast_takes_none(api, app):
    movie, actor = new_movie(api), new_actor(api)
    path = f"/movies/{movie['id']}/actors/{actor['id']}"
    assert_error(api("PUT", path, json={"x": 1}), 422, "x")
    assert_error(api("PUT", path, data="x", content_type="text/plain"), 415)
    assert_error(api("PUT", path, json=[1]), 400)
    assert row_counts(app)[2] == 0
    assert api("PUT", path).status_code == 200
    assert_error(api("DELETE", path, json={"x": 1}), 400)
    assert_error(api("DELETE", path, data="x", content_type="text/plain"), 400)
    assert row_counts(app)[2] == 1


def test_nested_lists(api):
    a, b = new_actor(api, "Ann", 30, "female"), new_actor(api, "Bob", 50, "male")
    m1 = new_movie(api, "One", "2001-01-01", actor_ids=[a["id"], b["id"]])
    m2 = new_movie(api, "Two", "2002-02-02", actor_ids=[a["id"]])
    new_movie(api, "Three", "2003-03-03")
    cast = api("GET", f"/movies/{m1['id']}/actors?sort=-age").json
    assert [x["name"] for x in cast["actors"]] == ["Bob", "Ann"] and cast["total"] == 2
    assert cast["actors"][1]["movies"] == [{"id": m1["id"], "title": "One"}, {"id": m2["id"], "title": "Two"}]
    assert api("GET", f"/movies/{m1['id']}/actors?gender=FEMALE").json["total"] == 1
    films = api("GET", f"/actors/{a['id']}/movies?per_page=1&page=2").json
    assert films["total"] == 2 and [m["title"] for m in films["movies"]] == ["Two"]
    assert api("GET", f"/actors/{b['id']}/movies?released_after=2002-01-01").json["total"] == 0
    assert_error(api("GET", "/movies/999/actors"), 404)
    assert_error(api("GET", "/actors/999/movies"), 404)
    assert_error(api("GET", f"/movies/{m1['id']}/actors?movie_id=1"), 400, "movie_id")
    assert_error(api("GET", f"/actors/{a['id']}/movies?actor_id=1"), 400, "actor_id")


# --- lists: pagination, search, filters, sort ----------------------------------------------


@pytest.fixture
def catalogue(api):
    actors = [new_actor(api, name, age, gender) for name, age, gender in [
        ("Chris Pine", 45, "male"), ("Gal Gadot", 41, "female"), ("Viola Davis", 61, "Female"),
        ("Riz Ahmed", 44, "male"), ("Florence Pugh", 30, "female"),
    ]]
    movies = [new_movie(api, title, date, actor_ids=ids) for title, date, ids in [
        ("Raids of the Ice", "2017-04-29", [actors[0]["id"], actors[1]["id"]]),
        ("The Quiet Harbour", "2019-09-13", [actors[2]["id"]]),
        ("Glass Orchard", "2021-03-05", []),
        ("100% Ice_Cold", "2015-01-01", [actors[0]["id"]]),
        ("Night Train", "2018-11-23", [actors[3]["id"], actors[4]["id"]]),
    ]]
    return movies, actors


def test_list_envelope_and_default_order(api, catalogue):
    movies, _ = catalogue
    body = api("GET", "/movies").json
    assert body["success"] is True and body["total"] == 5 and body["page"] == 1 and body["per_page"] == 20
    assert body["movies"] == movies  # by id, with cast


@pytest.mark.parametrize("page,per_page,titles", [
    (1, 2, ["Raids of the Ice", "The Quiet Harbour"]),
    (3, 2, ["Night Train"]),
    (4, 2, []),  # past the end: empty, with the true total
    (1_000_000, 100, []),
])
def test_pagination_edges(api, catalogue, page, per_page, titles):
    body = api("GET", f"/movies?page={page}&per_page={per_page}").json
    assert [m["title"] for m in body["movies"]] == titles
    assert (body["total"], body["page"], body["per_page"]) == (5, page, per_page)


def test_search_is_case_insensitive_substring_with_literal_wildcards(api, catalogue):
    assert {m["title"] for m in api("GET", "/movies?q=ICE").json["movies"]} == {"Raids of the Ice", "100% Ice_Cold"}
    assert [m["title"] for m in api("GET", "/movies?q=%25").json["movies"]] == ["100% Ice_Cold"]
    assert [m["title"] for m in api("GET", "/movies?q=e_C").json["movies"]] == ["100% Ice_Cold"]
    assert api("GET", "/movies?q=zzz").json["total"] == 0
    assert [a["name"] for a in api("GET", "/actors?q=pine").json["actors"]] == ["Chris Pine"]


def test_movie_filters(api, catalogue):
    movies, actors = catalogue

    def titles(query):
        return [m["title"] for m in api("GET", "/movies?" + query).json["movies"]]

    assert titles("released_after=2018-11-23") == ["The Quiet Harbour", "Glass Orchard", "Night Train"]
    assert titles("released_before=2017-04-29") == ["Raids of the Ice", "100% Ice_Cold"]
    assert titles("released_after=2017-01-01&released_before=2019-01-01") == ["Raids of the Ice", "Night Train"]
    assert titles(f"actor_id={actors[0]['id']}") == ["Raids of the Ice", "100% Ice_Cold"]
    assert titles("actor_id=4242") == []
    assert titles("released_after=2020-01-01&released_before=2019-01-01") == []  # an empty range, not an error


def test_actor_filters(api, catalogue):
    movies, _ = catalogue

    def names(query):
        return [a["name"] for a in api("GET", "/actors?" + query).json["actors"]]

    assert names("gender=FEMALE") == ["Gal Gadot", "Viola Davis", "Florence Pugh"]
    assert names("min_age=44") == ["Chris Pine", "Viola Davis", "Riz Ahmed"]
    assert names("max_age=41") == ["Gal Gadot", "Florence Pugh"]
    assert names("min_age=41&max_age=45") == ["Chris Pine", "Gal Gadot", "Riz Ahmed"]
    assert names(f"movie_id={movies[0]['id']}") == ["Chris Pine", "Gal Gadot"]
    assert names("min_age=50&max_age=40") == []


@pytest.mark.parametrize("query,first", [
    ("sort=title", "100% Ice_Cold"), ("sort=-title", "The Quiet Harbour"),
    ("sort=release_date", "100% Ice_Cold"), ("sort=-release_date", "Glass Orchard"),
    ("sort=-id", "Night Train"), ("sort=id", "Raids of the Ice"),
])
def test_movie_sort(api, catalogue, query, first):
    assert api("GET", "/movies?" + query).json["movies"][0]["title"] == first


@pytest.mark.parametrize("query,order", [
    ("sort=name", ["Chris Pine", "Florence Pugh", "Gal Gadot", "Riz Ahmed", "Viola Davis"]),
    ("sort=-age", ["Viola Davis", "Chris Pine", "Riz Ahmed", "Gal Gadot", "Florence Pugh"]),
    ("sort=age", ["Florence Pugh", "Gal Gadot", "Riz Ahmed", "Chris Pine", "Viola Davis"]),
])
def test_actor_sort(api, catalogue, query, order):
    assert [a["name"] for a in api("GET", "/actors?" + query).json["actors"]] == order


@pytest.fixture
def ties(api):
    """Six movies and six actors whose sort fields tie in threes and twos: among equals, the id decides.
    Actor 0 is in every movie and movie 0 casts every actor, so the nested lists have the same ties."""
    actors = [new_actor(api, name, age, "female")["id"] for name, age in [
        ("Cruz", 40), ("Adams", 30), ("Cruz", 30), ("Adams", 40), ("Cruz", 40), ("Adams", 30)]]
    movies = [new_movie(api, title, date, actor_ids=actors if n == 0 else [actors[0]])["id"]
              for n, (title, date) in enumerate([
                  ("Bravo", "2020-01-01"), ("Alpha", "2021-06-01"), ("Bravo", "2021-06-01"),
                  ("Alpha", "2020-01-01"), ("Bravo", "2019-03-03"), ("Alpha", "2021-06-01")])]
    return movies, actors


# The order of each sort over `ties`, as indexes into its movies or actors: the id breaks ties in the sort's
# own direction.
TIED_ORDERS = [
    ("movies", "title", [1, 3, 5, 0, 2, 4]), ("movies", "-title", [4, 2, 0, 5, 3, 1]),
    ("movies", "release_date", [4, 0, 3, 1, 2, 5]), ("movies", "-release_date", [5, 2, 1, 3, 0, 4]),
    ("movies", "id", [0, 1, 2, 3, 4, 5]), ("movies", "-id", [5, 4, 3, 2, 1, 0]),
    ("actors", "name", [1, 3, 5, 0, 2, 4]), ("actors", "-name", [4, 2, 0, 5, 3, 1]),
    ("actors", "age", [1, 2, 5, 0, 3, 4]), ("actors", "-age", [4, 3, 0, 5, 2, 1]),
    ("actors", "id", [0, 1, 2, 3, 4, 5]), ("actors", "-id", [5, 4, 3, 2, 1, 0]),
]


def list_paths(app) -> list[bool]:
    """The list paths this database has, as read_page's `portable`: PostgreSQL's single statement, and the
    portable statements every database runs."""
    with app.app_context():
        return [False, True] if db.engine.dialect.name == "postgresql" else [True]


def read_ids(app, kind: str, parent: int | None, portable: bool, **query) -> dict:
    """One page through listing.page, as the route reads it: its ids and its cursors."""
    from casting.catalogue import listing
    from casting.catalogue.filters import LISTINGS
    from casting.schemas.queries import ActorListQuery, MovieListQuery

    schema, path = (MovieListQuery, "/movies") if kind == "movies" else (ActorListQuery, "/actors")
    if parent is not None:
        path = f"/{'actors' if kind == 'movies' else 'movies'}/{parent}{path}"
    with app.test_request_context(path):
        params = schema.model_validate({name: str(value) for name, value in query.items()})
        page = json.loads(listing.page(LISTINGS[kind], params, parent, portable=portable).body)
    return {"ids": [row["id"] for row in page[kind]], "total": page["total"], "page": page["page"],
            "next": page["next_cursor"], "prev": page["prev_cursor"]}


@pytest.mark.parametrize("kind,sort,order", TIED_ORDERS, ids=[f"{kind} {sort}" for kind, sort, _ in TIED_ORDERS])
def test_ties_are_broken_by_id_in_the_sorts_direction_on_every_list_path(app, api, ties, kind, sort, order):
    movies, actors = ties
    records = movies if kind == "movies" else actors
    expected = [records[i] for i in order]
    nested_parent = actors[0] if kind == "movies" else movies[0]  # in every movie / casting every actor
    for portable in list_paths(app):
        for parent in (None, nested_parent):
            where = (portable, parent)
            assert read_ids(app, kind, parent, portable, sort=sort, per_page=100)["ids"] == expected, where
            for per_page in (2, 4):
                # Pages by number: each row once, none skipped, in order.
                pages = [read_ids(app, kind, parent, portable, sort=sort, per_page=per_page, page=n)["ids"]
                         for n in range(1, -(-6 // per_page) + 2)]
                assert sum(pages, []) == expected and pages[-1] == [], (where, per_page, pages)
                # Following next_cursor from the first page, then prev_cursor back from the last one.
                page = read_ids(app, kind, parent, portable, sort=sort, per_page=per_page)
                forward = [page["ids"]]
                while page["next"]:
                    page = read_ids(app, kind, parent, portable, sort=sort, per_page=per_page, cursor=page["next"])
                    forward.append(page["ids"])
                    assert len(forward) <= 6
                assert sum(forward, []) == expected, (where, per_page, forward)
                backward = [page["ids"]]
                while page["prev"]:
                    page = read_ids(app, kind, parent, portable, sort=sort, per_page=per_page, cursor=page["prev"])
                    backward.insert(0, page["ids"])
                    assert len(backward) <= 6
                assert backward == forward, (where, per_page, backward)
    # The route answers the same order.
    answered = api("GET", f"/{kind}?sort={sort}")
    assert answered.status_code == 200 and [row["id"] for row in answered.json[kind]] == expected


@pytest.mark.parametrize("path,field", [
    ("/movies?page=0", "page"), ("/movies?page=1000001", "page"), ("/movies?page=abc", "page"),
    ("/movies?page=1.5", "page"), ("/movies?per_page=0", "per_page"), ("/movies?per_page=101", "per_page"),
    ("/movies?sort=name", "sort"), ("/movies?sort=--id", "sort"),
    ("/movies?released_after=2020-02-30", "released_after"),
    ("/movies?released_before=yesterday", "released_before"), ("/movies?actor_id=0", "actor_id"),
    ("/movies?q=" + "x" * 201, "q"), ("/movies?colour=red", "colour"), ("/movies?page=1&page=2", "page"),
    ("/actors?min_age=-1", "min_age"), ("/actors?max_age=151", "max_age"),
    ("/actors?sort=title", "sort"), ("/actors?movie_id=x", "movie_id"), ("/actors?gender=", "gender"),
    ("/movies?q=a%00b", "q"), ("/actors?gender=f%00", "gender"),
    # Query integers and dates are ASCII digits: not Arabic-Indic (٣), fullwidth (３) or other Unicode digits.
    ("/movies?page=%D9%A3", "page"), ("/movies?per_page=%EF%BC%93", "per_page"),
    ("/actors?min_age=%D9%A3%D9%A0", "min_age"), ("/movies?actor_id=%E0%A5%A7", "actor_id"),
    ("/movies?released_after=%D9%A2%D9%A0%D9%A2%D9%A0-01-01", "released_after"),
    ("/history?since=%D9%A2026-01-01T00:00:00Z", "since"),
    # Text the stored values can never hold.
    ("/movies?q=a%1B%5B31m", "q"), ("/movies?q=a%0D%0Ab", "q"), ("/movies?q=%E2%80%AEgnp.exe", "q"),
    ("/actors?gender=%E2%80%8B", "gender"), ("/actors?gender=f%0Am", "gender"), ("/actors?gender=%E2%81%A6f", "gender"),
])
def test_bad_query_parameters_are_400_naming_the_parameter(api, path, field):
    assert_error(api("GET", path), 400, field)


def test_list_runs_the_same_number_of_statements_whatever_the_page_size(api, app, count_statements):
    actors = [new_actor(api, f"Actor {i}") for i in range(6)]
    for i in range(30):
        new_movie(api, f"Movie {i}", actor_ids=[a["id"] for a in actors[i % 3: i % 3 + 3]])
    counts = {}
    for path in ("/movies", "/actors", "/movies/1/actors", f"/actors/{actors[0]['id']}/movies"):
        for per_page in (1, 100):
            with count_statements() as statements:
                response = api("GET", f"{path}?per_page={per_page}")
            assert response.status_code == 200 and response.json["movies" if "movies" in response.json else "actors"]
            counts[path, per_page] = statements()
        assert counts[path, 1] == counts[path, 100], counts
    # PostgreSQL: one statement. SQLite: BEGIN (one snapshot for the page), the total, the page, the casts.
    assert counts["/movies", 100] <= 4


# --- validation -----------------------------------------------------------------------------

LONG = "x" * 201


@pytest.mark.parametrize("body,field", [
    ({"release_date": "2017-04-29"}, "title"),
    ({"title": "X"}, "release_date"),
    ({"title": "", "release_date": "2017-04-29"}, "title"),
    ({"title": "   ", "release_date": "2017-04-29"}, "title"),
    ({"title": LONG, "release_date": "2017-04-29"}, "title"),
    ({"title": 5, "release_date": "2017-04-29"}, "title"),
    ({"title": None, "release_date": "2017-04-29"}, "title"),
    ({"title": "X", "release_date": "2017-02-30"}, "release_date"),
    ({"title": "X", "release_date": "29/04/2017"}, "release_date"),
    ({"title": "X", "release_date": "2017-4-29"}, "release_date"),
    ({"title": "X", "release_date": "2017-04-29T00:00:00"}, "release_date"),
    ({"title": "X", "release_date": 1493424000}, "release_date"),
    ({"title": "X", "release_date": None}, "release_date"),
    ({"title": "X", "release_date": "2017-04-29", "actor_ids": [1, 1]}, "actor_ids"),
    ({"title": "X", "release_date": "2017-04-29", "actor_ids": [999]}, "actor_ids"),
    ({"title": "X", "release_date": "2017-04-29", "actor_ids": ["1"]}, "actor_ids"),
    ({"title": "X", "release_date": "2017-04-29", "actor_ids": [0]}, "actor_ids"),
    ({"title": "X", "release_date": "2017-04-29", "actor_ids": [2**40]}, "actor_ids"),
    ({"title": "X", "release_date": "2017-04-29", "actor_ids": 1}, "actor_ids"),
    ({"title": "X", "release_date": "2017-04-29", "actor_ids": None}, "actor_ids"),
    ({"title": "X", "release_date": "2017-04-29", "rating": 5}, "rating"),
    ({"title": "A\u0000B", "release_date": "2017-04-29"}, "title"),  # PostgreSQL cannot hold NUL
    ({"title": "A\ud800B", "release_date": "2017-04-29"}, "title"),  # a lone surrogate: no driver encodes it
])
def test_movie_validation_is_422_naming_the_field(api, app, body, field):
    before = row_counts(app)
    assert_error(api("POST", "/movies", json=body), 422, field)
    assert row_counts(app) == before


@pytest.mark.parametrize("body,field", [
    ({"age": 30, "gender": "f"}, "name"),
    ({"name": "A", "gender": "f"}, "age"),
    ({"name": "A", "age": 30}, "gender"),
    ({"name": "x" * 101, "age": 30, "gender": "f"}, "name"),
    ({"name": " ", "age": 30, "gender": "f"}, "name"),
    ({"name": "A", "age": 30.5, "gender": "f"}, "age"),
    ({"name": "A", "age": True, "gender": "f"}, "age"),
    ({"name": "A", "age": "30", "gender": "f"}, "age"),
    ({"name": "A", "age": -1, "gender": "f"}, "age"),
    ({"name": "A", "age": 151, "gender": "f"}, "age"),
    ({"name": "A", "age": None, "gender": "f"}, "age"),
    ({"name": "A", "age": 30, "gender": "g" * 51}, "gender"),
    ({"name": "A", "age": 30, "gender": ""}, "gender"),
    ({"name": "A", "age": 30, "gender": ["f"]}, "gender"),
    ({"name": "A", "age": 30, "gender": "f", "movie_ids": [7, 7]}, "movie_ids"),
    ({"name": "A", "age": 30, "gender": "f", "movie_ids": [12345]}, "movie_ids"),
    ({"name": "A", "age": 30, "gender": "f", "id": 3}, "id"),
    ({"name": "A", "age": 30, "gender": " \t\x1e "}, "gender"),
    ({"name": "\udfff", "age": 30, "gender": "f"}, "name"),
])
def test_actor_validation_is_422_naming_the_field(api, app, body, field):
    before = row_counts(app)
    assert_error(api("POST", "/actors", json=body), 422, field)
    assert row_counts(app) == before


def test_age_accepts_integral_numbers_and_the_range_ends(api):
    assert new_actor(api, age=30.0)["age"] == 30
    assert new_actor(api, age=0)["age"] == 0
    assert new_actor(api, age=150)["age"] == 150


@pytest.mark.parametrize("number,age", [
    ("30.0", 30), ("3e1", 30), ("3.0E+1", 30), ("300e-1", 30), ("-0.0", 0), ("0e-400", 0), ("1.50e2", 150),
    ("30.00000000000000000000000000000", 30),
])
def test_age_written_as_an_exact_integer_counts(api, number, age):
    data = '{"name": "Exact", "age": ' + number + ', "gender": "f"}'
    response = api("POST", "/actors", data=data, content_type="application/json")
    assert response.status_code == 201, response.json
    assert response.json["actor"]["age"] == age


@pytest.mark.parametrize("number,message", [
    ("1e-400", "must be an integer"),  # a float would make it 0
    ("30.000000000000001", "must be an integer"),  # a float would make it 30
    ("29.9999999999999999", "must be an integer"),
    ("1e400", "less than or equal to 150"),  # a float would make it infinity
    ("1e999999999", "less than or equal to 150"),
    ("-1e999999999", "greater than or equal to 0"),
    ("5e-1", "must be an integer"),
])
def test_age_that_is_not_exactly_an_integer_is_a_422(api, app, number, message):
    data = '{"name": "Exact", "age": ' + number + ', "gender": "f"}'
    body = assert_error(api("POST", "/actors", data=data, content_type="application/json"), 422, "age")
    assert message in body["details"]["age"][0]
    assert row_counts(app) == (0, 0, 0)


def test_ids_written_as_exact_integers_count_and_others_do_not(api):
    actor = new_actor(api)
    data = '{"title": "T", "release_date": "2020-01-01", "actor_ids": [' + f"{actor['id']}.0" + "]}"
    assert api("POST", "/movies", data=data, content_type="application/json").status_code == 201
    data = '{"title": "T", "release_date": "2020-01-01", "actor_ids": [' + f"{actor['id']}.000000000000001" + "]}"
    assert_error(api("POST", "/movies", data=data, content_type="application/json"), 422, "actor_ids")


# Text fields refuse what displays as something else than it is, and what displays as nothing.
INVISIBLE_OR_MISLEADING = {
    "zero-width space only": "\u200b",
    "zero-width spaces and spaces": " \u200b \u200c\u200d ",
    "word joiner and BOM": "\u2060\ufeff",
    "soft hyphen only": "\u00ad",
    "Hangul filler": "\u3164",
    "braille blank": "\u2800\u2800",
    "tag characters only": "\U000e0041\U000e0042",
    "right-to-left override": "\u202egnp.exe",
    "left-to-right isolate": "a\u2066b\u2069",
    "pop directional formatting": "ab\u202c",
    "ANSI escape": "\x1b[31mred\x1b[0m",
    "SOH": "\x01",
    "CRLF inside": "Chris\r\nPine",
    "tab inside": "Chris\tPine",
    "DEL": "Chris\x7f",
    "C1 control": "Chris\x9b",
    "line separator inside": "Chris\u2028Pine",
    "paragraph separator inside": "Chris\u2029Pine",
    # Issue 21: accepted until then.
    "combining marks only": "\u0301\u0301",
    "combining marks between spaces": " \u0301 \u0308 ",
    "a tag character inside text": "Chris\U000e0041Pine",
    "tag characters after an emoji that is no flag": "\U0001f3ac\U000e0067\U000e0062\U000e007f",
    "an interlinear annotation": "Chris\ufff9Pine\ufffahidden\ufffb",
    "U+FFFB alone": "Chris\ufffb",
}


@pytest.mark.parametrize("name", INVISIBLE_OR_MISLEADING)
@pytest.mark.parametrize("field", ["name", "gender"])
def test_actor_text_refuses_controls_bidi_overrides_and_nothing_visible(api, app, name, field):
    body = {"name": "Chris Pine", "age": 45, "gender": "male", field: INVISIBLE_OR_MISLEADING[name]}
    assert_error(api("POST", "/actors", json=body), 422, field)
    assert row_counts(app) == (0, 0, 0)


@pytest.mark.parametrize("name", INVISIBLE_OR_MISLEADING)
def test_movie_titles_refuse_them_too_on_create_and_patch(api, app, name):
    assert_error(api("POST", "/movies", json={"title": INVISIBLE_OR_MISLEADING[name], "release_date": "2020-01-01"}),
                 422, "title")
    movie = new_movie(api)
    assert_error(api("PATCH", f"/movies/{movie['id']}", json={"title": INVISIBLE_OR_MISLEADING[name]}), 422, "title")
    assert api("GET", f"/movies/{movie['id']}").json["movie"] == movie


@pytest.mark.parametrize("value,field,message", [
    ("\u200b", "name", "must contain a visible character"),
    ("\u202egnp.exe", "name", "must not contain bidirectional overrides or isolates"),
    ("a\x1b[0m", "gender", "must not contain control characters"),
    ("a\u2028b", "gender", "must not contain line or paragraph separators"),
])
def test_the_422_says_what_is_wrong_with_the_text(api, value, field, message):
    body = assert_error(api("POST", "/actors", json={"name": "N", "age": 1, "gender": "g", field: value}), 422, field)
    assert body["details"][field][0].startswith(message), body


@pytest.mark.parametrize("text", [
    "\u200bZero-width inside", "Zoë Saldaña", "\u05e9\u05dc\u05d5\u05dd",  # Hebrew: right-to-left text is fine
    "\u200fRTL mark then text", "Ali\u200d", "Emoji \U0001f3ac", "\U0001f3f4\U000e0067\U000e0062\U000e0073"
    "\U000e0063\U000e0074\U000e007f",  # a subdivision flag is made with tag characters
    "\u3000Ideographic spaces\u3000", "Chris\u00a0Pine",
])
def test_visible_text_with_unusual_characters_is_accepted(api, text):
    response = api("POST", "/actors", json={"name": text, "age": 1, "gender": text})
    assert response.status_code == 201, response.json
    assert response.json["actor"]["name"] == text.strip()


def test_body_encodings_other_than_utf8_are_400(api, app):
    body = json.dumps({"title": "Encoded", "release_date": "2020-01-01"})
    for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "latin-1"):
        data = (body[:-1] + ', "x": "\u00e9"}' if encoding == "latin-1" else body).encode(encoding)
        response = api("POST", "/movies", data=data, headers={"Content-Type": "application/json; charset=" + encoding})
        error = assert_error(response, 400)
        assert error["message"] == "request body must be UTF-8 (not UTF-16, UTF-32 or another encoding)", encoding
    assert row_counts(app) == (0, 0, 0)


def test_a_utf8_byte_order_mark_is_ignored(api):
    data = codecs.BOM_UTF8 + json.dumps({"title": "BOM", "release_date": "2020-01-01"}).encode()
    response = api("POST", "/movies", data=data, content_type="application/json")
    assert response.status_code == 201 and response.json["movie"]["title"] == "BOM"


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate", "x-gzip", "identity, gzip", "GZIP"])
def test_an_encoded_body_is_415_whatever_it_holds(api, app, coding):
    plain = json.dumps({"title": "Labelled", "release_date": "2020-01-01"}).encode()
    for data in (plain, gzip.compress(plain)):
        response = api("POST", "/movies", data=data,
                       headers={"Content-Type": "application/json", "Content-Encoding": coding})
        error = assert_error(response, 415)
        assert "Content-Encoding" in error["message"]
        assert response.headers["Accept-Encoding"] == "identity"
    assert row_counts(app) == (0, 0, 0)


def test_content_encoding_identity_is_the_plain_body(api):
    body = {"title": "Plain", "release_date": "2020-01-01"}
    response = api("POST", "/movies", json=body, headers={"Content-Encoding": "identity"})
    assert response.status_code == 201


@pytest.mark.parametrize("data,key", [
    ('{"title": "A", "title": "B", "release_date": "2020-01-01"}', "title"),
    ('{"title": "A", "release_date": "2020-01-01", "release_date": "2021-01-01"}', "release_date"),
    ('{"title": "A", "release_date": "2020-01-01", "actor_ids": [], "actor_ids": []}', "actor_ids"),
    ('{"title": "A", "release_date": "2020-01-01", "x": 1, "x": 1}', "x"),
])
def test_duplicate_keys_are_400_naming_the_key(api, app, data, key):
    error = assert_error(api("POST", "/movies", data=data, content_type="application/json"), 400, key)
    assert error["message"] == f'request body has the key "{key}" more than once'
    assert row_counts(app) == (0, 0, 0)


def test_every_failing_field_is_named(api):
    body = assert_error(api("POST", "/actors", json={"name": "", "age": "x", "extra": 1}), 422)
    assert set(body["details"]) == {"name", "age", "gender", "extra"}
    assert body["details"]["name"] == ["must not be empty"]
    assert body["message"].startswith("name must not be empty")


@pytest.mark.parametrize("body,field", [
    ({"title": None}, "title"), ({"title": ""}, "title"), ({"release_date": None}, "release_date"),
    ({"release_date": "2021-13-01"}, "release_date"), ({"actor_ids": None}, "actor_ids"),
    ({"actor_ids": [424242]}, "actor_ids"), ({"id": 9}, "id"),
])
def test_patch_movie_validation_leaves_the_record_unchanged(api, body, field):
    actor = new_actor(api)
    movie = new_movie(api, actor_ids=[actor["id"]])
    assert_error(api("PATCH", f"/movies/{movie['id']}", json=body), 422, field)
    assert api("GET", f"/movies/{movie['id']}").json["movie"] == movie


@pytest.mark.parametrize("body,field", [
    ({"name": None}, "name"), ({"age": 200}, "age"), ({"age": None}, "age"), ({"gender": 1}, "gender"),
    ({"movie_ids": [1, 1]}, "movie_ids"),
])
def test_patch_actor_validation_leaves_the_record_unchanged(api, body, field):
    actor = new_actor(api)
    assert_error(api("PATCH", f"/actors/{actor['id']}", json=body), 422, field)
    assert api("GET", f"/actors/{actor['id']}").json["actor"] == actor


def test_415s_say_that_only_unencoded_bodies_are_taken(api):
    assert api("POST", "/movies", data="x", content_type="text/plain").headers["Accept-Encoding"] == "identity"


@pytest.mark.parametrize("method,path", [("POST", "/movies"), ("POST", "/actors"), ("PATCH", "/movies/1"),
                                         ("PATCH", "/actors/1")])
@pytest.mark.parametrize("data,content_type,status", [
    ("{not json", "application/json", 400),
    ("", "application/json", 400),
    ("[1, 2]", "application/json", 400),
    ('"text"', "application/json", 400),
    ("null", "application/json", 400),
    ('{"age": NaN}', "application/json", 400),
    (b'{"title": "\xff"}', "application/json", 400),
    ("[" * 100_00 + "]" * 100_00, "application/json", 400),
    ('{"title": "X"}', "text/plain", 415),
    ("title=X", "application/x-www-form-urlencoded", 415),
    ('{"title": "X"}', None, 415),
])
def test_bodies_that_are_not_json_objects(api, app, method, path, data, content_type, status):
    new_movie(api), new_actor(api)
    before = row_counts(app)
    headers = {"Content-Type": content_type} if content_type else {}
    assert_error(api(method, path, data=data, headers=headers), status)
    assert row_counts(app) == before


@pytest.mark.parametrize("method,path", [("POST", "/actors"), ("PATCH", "/actors/1")])
def test_an_integer_too_long_for_python_is_a_422_on_its_field(api, app, method, path):
    """Valid JSON, so not a 400: Python will not convert more than 4300 digits, the API still names the field."""
    new_actor(api)
    for digits in ("9" * 5000, "-" + "9" * 5000):
        data = '{"name": "A", "age": ' + digits + ', "gender": "f"}'
        assert_error(api(method, path, data=data, content_type="application/json"), 422, "age")
    assert_error(api(method, path, data='{"movie_ids": [' + "1" * 5000 + "]}", content_type="application/json"),
                 422, "movie_ids")


def test_text_at_its_longest_is_accepted_and_stored_trimmed(api):
    movie = api("POST", "/movies", json={"title": "  " + "t" * 200 + " ", "release_date": "2020-01-01"})
    assert movie.status_code == 201 and movie.json["movie"]["title"] == "t" * 200
    actor = api("POST", "/actors", json={"name": "n" * 100, "age": 150, "gender": "\t" + "g" * 50 + "\n"})
    assert actor.status_code == 201, actor.json
    assert actor.json["actor"]["name"] == "n" * 100 and actor.json["actor"]["gender"] == "g" * 50


def test_json_with_charset_and_vendor_types_are_accepted(api):
    body = json.dumps({"title": "X", "release_date": "2020-01-01"})
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        assert api("POST", "/movies", data=body, headers={"Content-Type": content_type}).status_code == 201


@pytest.mark.parametrize("method,path", [("POST", "/movies/{movie}/restore"),
                                         ("DELETE", "/movies/{movie}/actors/{actor}")])
def test_a_chunked_body_where_none_is_taken_is_a_400(api, app, method, path):
    """A body sent chunked has no Content-Length: it is a body all the same, and these endpoints take none."""
    actor = new_actor(api)
    movie = new_movie(api, actor_ids=[actor["id"]])
    if "restore" in path:
        assert api("DELETE", f"/movies/{movie['id']}").status_code == 200
    before = row_counts(app)
    response = api(method, path.format(movie=movie["id"], actor=actor["id"]), input_stream=io.BytesIO(b'{"x": 1}'),
                   content_type="application/json", headers={"Transfer-Encoding": "chunked"},
                   environ_overrides={"wsgi.input_terminated": True})
    assert "request body" in assert_error(response, 400)["message"]
    assert row_counts(app) == before


@pytest.mark.parametrize("written", ["30.50", "30.05", "3.050e1", "30.000000000000001"])
def test_an_age_written_with_a_nonzero_fraction_is_a_422_not_rounded(api, app, written):
    """Decided on the exact decimal the JSON text wrote: 30.50 is not an integer, though its last digit is 0."""
    body = '{"name": "A", "age": ' + written + ', "gender": "f"}'
    assert_error(api("POST", "/actors", data=body, content_type="application/json"), 422, "age")
    assert row_counts(app) == (0, 0, 0)
    for exact in ("30.0", "30.00", "3.0e1", "3e1"):
        body = '{"name": "A", "age": ' + exact + ', "gender": "f"}'
        created = api("POST", "/actors", data=body, content_type="application/json")
        assert created.status_code == 201 and created.json["actor"]["age"] == 30, (exact, created.json)


def test_body_over_64_kib_is_413(api, app):
    body = json.dumps({"title": "X", "release_date": "2020-01-01", "pad": "y" * 70_000})
    assert_error(api("POST", "/movies", data=body, content_type="application/json"), 413)
    assert row_counts(app) == (0, 0, 0)


def padded_movie(size: int) -> bytes:
    """A valid movie, padded with trailing spaces (still valid JSON) to exactly `size` bytes."""
    body = json.dumps({"title": f"Padded to {size}", "release_date": "2020-01-01"}).encode()
    return body + b" " * (size - len(body))


@pytest.mark.parametrize("size,status", [(64 * 1024, 201), (64 * 1024 + 1, 413), (80_000, 413)])
def test_chunked_bodies_are_held_to_the_same_limit(api, app, size, status):
    """A body with no Content-Length (chunked) is not quietly cut at 64 KiB: one byte over it is a 413, where a
    body cut at the limit would still be a valid movie. (tests/test_edge.py sends them to gunicorn.)"""
    body = padded_movie(size)
    assert len(body) == size
    # The test client would send a Content-Length: a chunked request has none, and its server marks the end.
    response = api("POST", "/movies", input_stream=io.BytesIO(body), content_type="application/json",
                   headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    if status == 201:
        assert response.status_code == 201, response.json
        assert response.json["movie"]["title"] == f"Padded to {size}"
        assert row_counts(app) == (1, 0, 0)
    else:
        assert_error(response, status)
        assert row_counts(app) == (0, 0, 0)


def test_method_not_allowed_is_json_405_with_allow(api):
    response = api("PUT", "/movies")
    assert_error(response, 405)
    assert "POST" in response.headers["Allow"]


# --- failures leave no trace, races never 500 -------------------------------------------------


def test_unexpected_exception_is_a_generic_500_and_rolls_back(make_app, _schema, app, caplog):
    failing = make_app()

    @failing.get("/boom")
    def boom():
        db.session.add(Actor(name="ghost", age=1, gender="x"))
        db.session.flush()
        raise RuntimeError("secret detail")

    response = failing.test_client().get("/boom")
    body = assert_error(response, 500)
    assert "secret" not in response.get_data(as_text=True) and body["message"] == "internal server error"
    assert "secret detail" in caplog.text  # logged with its traceback server-side
    assert row_counts(app) == (0, 0, 0)


def test_a_casting_holds_its_actor_against_a_concurrent_delete(api, app):
    """While a casting is being written, the actor is locked: a delete of the actor from another
    connection waits for it, then removes the actor and the casting (never the movie), and the cast
    is answered as it was committed."""
    movie, actor = new_movie(api), new_actor(api)
    with app.app_context():
        engine = db.engine
    deleter: list[threading.Thread] = []
    deleted = threading.Event()

    def delete_actor() -> None:
        with engine.begin() as other:
            other.execute(Actor.__table__.delete())
        deleted.set()

    def delete_actor_meanwhile(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO MOVIE_ACTORS") and not deleter:
            deleter.append(threading.Thread(target=delete_actor))
            deleter[0].start()
            assert not deleted.wait(0.3), "the delete did not wait for the casting's lock"

    event.listen(engine, "before_cursor_execute", delete_actor_meanwhile)
    try:
        response = api("PUT", f"/movies/{movie['id']}/actors/{actor['id']}")
    finally:
        event.remove(engine, "before_cursor_execute", delete_actor_meanwhile)
    assert deleter
    deleter[0].join(timeout=10)
    assert deleted.is_set()
    assert response.status_code == 200, response.json
    assert response.json["movie"]["actors"] == [{"id": actor["id"], "name": actor["name"]}]
    assert row_counts(app) == (1, 0, 0)


def test_concurrent_patch_and_delete_never_500(api, app, producer):
    """PATCH, PATCH and DELETE of one movie at the same moment: each a 200 or a 404, never a 500."""
    outcomes = []
    for round_ in range(8):
        movie = new_movie(api, f"Race {round_}", actor_ids=[new_actor(api, f"Actor {round_}")["id"]])
        barrier = threading.Barrier(3)

        def hit(method, body=None, movie_id=movie["id"], barrier=barrier):
            client = app.test_client()
            barrier.wait(timeout=10)
            response = client.open(f"/movies/{movie_id}", method=method, headers=producer, json=body)
            outcomes.append((method, response.status_code))

        threads = [threading.Thread(target=hit, args=("PATCH", {"title": "New", "actor_ids": []})),
                   threading.Thread(target=hit, args=("DELETE",)),
                   threading.Thread(target=hit, args=("PATCH", {"title": "Other"}))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert len(outcomes) == 24
    assert all(status in (200, 404) for _, status in outcomes), outcomes
    assert [status for method, status in outcomes if method == "DELETE"] == [200] * 8
    assert row_counts(app)[0] == 0


def test_unfiltered_totals_stay_exact_through_writes_and_deletes(api, app):
    """The unfiltered `total` comes from trigger-kept counts: it must always equal COUNT(*)."""
    actors = [new_actor(api, f"A{i}") for i in range(4)]
    movies = [new_movie(api, f"M{i}", actor_ids=[actors[i]["id"]]) for i in range(3)]
    api("DELETE", f"/movies/{movies[0]['id']}")
    api("DELETE", f"/actors/{actors[1]['id']}")
    api("POST", "/movies", json={"title": "bad", "release_date": "nope"})  # rejected: counts unchanged
    assert api("GET", "/movies").json["total"] == row_counts(app)[0] == 2
    assert api("GET", "/actors").json["total"] == row_counts(app)[1] == 3


ALL_TITLES = ["Raids of the Ice", "The Quiet Harbour", "Glass Orchard", "100% Ice_Cold", "Night Train"]
ALL_NAMES = ["Chris Pine", "Gal Gadot", "Viola Davis", "Riz Ahmed", "Florence Pugh"]


# Each case with what its pages show of the catalogue: (titles, total) of the movies, (names, total) of the actors.
@pytest.mark.parametrize("movies_query,actors_query,movies_shown,actors_shown", [
    ("", "", (ALL_TITLES, 5), (ALL_NAMES, 5)),
    ("sort=-title&per_page=3&page=2", "sort=-age&per_page=2&page=2",
     (["Glass Orchard", "100% Ice_Cold"], 5), (["Riz Ahmed", "Gal Gadot"], 5)),
    ("q=ice", "q=a&gender=female", (["Raids of the Ice", "100% Ice_Cold"], 2), (["Gal Gadot", "Viola Davis"], 2)),
    ("released_after=2017-01-01&actor_id=1", "min_age=41&max_age=50&movie_id=1",
     (["Raids of the Ice"], 1), (["Chris Pine", "Gal Gadot"], 2)),
    ("sort=release_date&per_page=100", "sort=name&per_page=100",
     (["100% Ice_Cold", "Raids of the Ice", "Night Train", "The Quiet Harbour", "Glass Orchard"], 5),
     (["Chris Pine", "Florence Pugh", "Gal Gadot", "Riz Ahmed", "Viola Davis"], 5)),
    ("page=9", "page=9", ([], 5), ([], 5)),  # past the end: empty, with the true total
    ("q=e_C", "q=pine", (["100% Ice_Cold"], 1), (["Chris Pine"], 1)),
    ("q=100%25_", "q=_", ([], 0), ([], 0)),  # % and _ are literal: no title holds "100%_", no name a "_"
], ids=["unfiltered", "descending-page-2", "search", "filters", "ascending", "past-the-end", "search-2",
        "literal-wildcards"])
def test_postgresql_list_path_matches_the_portable_one(app, catalogue, movies_query, actors_query, movies_shown,
                                                       actors_shown):
    """On PostgreSQL lists are built by one SQL statement; it must say exactly what the row path says,
    and the connection it ran on in autocommit goes back to the pool as it was."""
    from casting.catalogue import listing
    from casting.catalogue.filters import ACTORS, MOVIES
    from casting.schemas.queries import ActorListQuery, MovieListQuery
    from casting.web import transactions

    def parse(schema, query):
        return schema.model_validate(dict(pair.split("=") for pair in query.replace("%25", "%").split("&") if pair))

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the single-statement path exists only on PostgreSQL")
    movies, actors = parse(MovieListQuery, movies_query), parse(ActorListQuery, actors_query)
    for kind, params, parent, (labels, total) in ((MOVIES, movies, movies.actor_id, movies_shown),
                                                  (ACTORS, actors, actors.movie_id, actors_shown)):
        with app.test_request_context():
            single = listing.page(kind, params, parent)
            used = transactions.reader().connection.dbapi_connection
            assert used.autocommit is True
        assert used.autocommit is False  # reset when the connection went back to the pool
        with app.test_request_context():
            portable = listing.page(kind, params, parent, portable=True)
        assert json.loads(single.body) == json.loads(portable.body) and single.version == portable.version
        label = "title" if kind is MOVIES else "name"
        shown = json.loads(single.body)
        assert ([row[label] for row in shown[kind.key]], shown["total"]) == (labels, total)


@pytest.mark.parametrize("listing,path", [("movies", "/movies?q=ice"), ("actors", "/actors?q=pine")])
def test_search_can_use_the_trigram_index_on_postgresql(app, api, catalogue, listing, path):
    """`q=` (ILIKE '%term%', escaped) is served by migration 0003's GIN trigram index, not a whole-table read."""
    from casting.catalogue import postgres_page

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("pg_trgm exists only on PostgreSQL")
    assert api("GET", path).json["total"] >= 1
    with app.test_request_context():
        statement = postgres_page.page_statement(listing, "id", ("q",))
        compiled = statement.compile(dialect=db.engine.dialect)
        connection = db.session.connection()
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(
            "EXPLAIN " + compiled.string,
            {**compiled.params, "q": "%ice%", "limit": 20, "offset": 0, "page": 1, "per_page": 20}))
        db.session.rollback()
    assert f"ix_{listing}_{'title' if listing == 'movies' else 'name'}_trgm" in plan, plan


# --- the database's own constraints (what the migrations build), past the API's validation ------------

MOVIE = "INSERT INTO movies (title, release_date) VALUES (:title, :release_date)"
ACTOR = "INSERT INTO actors (name, age, gender) VALUES (:name, :age, :gender)"


@pytest.mark.parametrize("statement,values", [
    (MOVIE, {"title": "", "release_date": "2020-01-01"}),
    (MOVIE, {"title": "t" * 201, "release_date": "2020-01-01"}),
    (MOVIE, {"title": None, "release_date": "2020-01-01"}),
    (MOVIE, {"title": "T", "release_date": None}),
    (ACTOR, {"name": "", "age": 30, "gender": "f"}),
    (ACTOR, {"name": "n" * 101, "age": 30, "gender": "f"}),
    (ACTOR, {"name": None, "age": 30, "gender": "f"}),
    (ACTOR, {"name": "N", "age": -1, "gender": "f"}),
    (ACTOR, {"name": "N", "age": 151, "gender": "f"}),
    (ACTOR, {"name": "N", "age": None, "gender": "f"}),
    (ACTOR, {"name": "N", "age": 30, "gender": ""}),
    (ACTOR, {"name": "N", "age": 30, "gender": "g" * 51}),
    (ACTOR, {"name": "N", "age": 30, "gender": None}),
    ("INSERT INTO movie_actors (movie_id, actor_id) VALUES (:movie, 999999)", {}),  # no such actor
    ("INSERT INTO movie_actors (movie_id, actor_id) VALUES (:movie, :actor)", {"again": True}),  # cast twice
])
def test_the_database_refuses_what_the_api_refuses(app, statement, values):
    """Constraints live in the schema too, so a write that skips the API (a script, a bug) cannot store them."""
    with app.app_context():
        movie = Movie(title="Kept", release_date=dt.date(2020, 1, 1))
        actor = Actor(name="Kept", age=30, gender="f", movies=[movie])
        db.session.add_all([movie, actor])
        db.session.commit()
        with pytest.raises(DBAPIError):
            db.session.execute(text(statement), {**values, "movie": movie.id, "actor": actor.id})
            db.session.flush()
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(movie_actors)) == 1


def test_the_database_indexes_castings_by_actor(app):
    with app.app_context():
        indexes = {index["name"]: index["column_names"] for index in inspect(db.engine).get_indexes("movie_actors")}
    assert indexes["ix_movie_actors_actor_id"] == ["actor_id"]


def test_one_description_of_a_record_feeds_every_read():
    """casting/schemas/responses.py's public shapes are the one description of a record: the columns every read takes
    (records.Side) and the summaries each side shows of the other come from them."""
    from casting.catalogue import records
    from casting.schemas import responses

    for side, public, summary in ((records.MOVIE, responses.MoviePublic, responses.MovieSummary),
                                  (records.ACTOR, responses.ActorPublic, responses.ActorSummary)):
        assert ("id", *side.fields, side.embedded, "character", "billing") == tuple(public.model_fields)
        assert ("id", side.label, "character", "billing") == tuple(summary.model_fields)
