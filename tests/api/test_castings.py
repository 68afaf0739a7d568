"""Castings that say who plays whom: a character and a billing order per casting, through every way a cast
is written (a create, a PATCH, the single casting PUT, the whole-cast PUT, a restore) and every way it is read
(a record, a list, the nested lists, a search by character), with the history that names both sides."""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import text

from models import db
from tests.utils.asserters import assert_error
from tests.utils.records import new_actor, new_movie

CAST = "/movies/{}/cast"


def actors_of(api, movie_id: int) -> list[dict]:
    return api("GET", f"/movies/{movie_id}").json["movie"]["actors"]


@pytest.fixture
def troupe(api):
    """Three actors, and a movie with two of them in roles, the third not yet cast."""
    dev, mira, ravi = (new_actor(api, name) for name in ("Dev Patel", "Mira Nair", "Ravi Shah"))
    movie = new_movie(api, "Echoes of June", "2026-06-12", cast=[
        {"actor_id": mira["id"], "character": "Mira", "billing": 2},
        {"actor_id": dev["id"], "character": "Arjun / Young Arjun", "billing": 1},
    ])
    return movie, dev, mira, ravi


def test_a_movie_created_with_its_cast_shows_it_in_billing_order(api, troupe):
    movie, dev, mira, ravi = troupe
    assert movie["actors"] == [
        {"id": dev["id"], "name": "Dev Patel", "character": "Arjun / Young Arjun", "billing": 1},
        {"id": mira["id"], "name": "Mira Nair", "character": "Mira", "billing": 2},
    ]
    assert api("PUT", f"/movies/{movie['id']}/actors/{ravi['id']}").status_code == 200
    # Unbilled last, without character or billing keys of its own.
    assert actors_of(api, movie["id"])[-1] == {"id": ravi["id"], "name": "Ravi Shah"}
    assert api("GET", f"/actors/{dev['id']}").json["actor"]["movies"] == [
        {"id": movie["id"], "title": "Echoes of June", "character": "Arjun / Young Arjun", "billing": 1}]


def test_a_casting_put_sets_its_role_and_a_repeat_changes_nothing(api, troupe):
    movie, dev, mira, ravi = troupe
    path = f"/movies/{movie['id']}/actors/{ravi['id']}"
    first = api("PUT", path, json={"character": "The Stranger", "billing": 3})
    assert first.status_code == 200
    entries = api("GET", "/history").json["total"]
    again = api("PUT", path, json={"character": "The Stranger", "billing": 3})
    assert again.headers["ETag"] == first.headers["ETag"]
    assert api("GET", "/history").json["total"] == entries  # nothing changed, nothing recorded
    assert api("PUT", path).headers["ETag"] == first.headers["ETag"]  # no body: stays as it is
    cleared = api("PUT", path, json={}).json["movie"]["actors"][-1]
    assert cleared == {"id": ravi["id"], "name": "Ravi Shah"}  # a body replaces the role: keys left out go


def test_a_billing_another_actor_holds_is_a_422_and_the_whole_cast_reorders_in_one_request(api, troupe):
    movie, dev, mira, ravi = troupe
    body = assert_error(api("PUT", f"/movies/{movie['id']}/actors/{mira['id']}", json={"billing": 1}), 422, "billing")
    assert f"PUT /movies/{movie['id']}/cast" in body["details"]["billing"][0]
    swapped = api("PUT", CAST.format(movie["id"]), json={"cast": [
        {"actor_id": dev["id"], "character": "Arjun", "billing": 2},
        {"actor_id": mira["id"], "character": "Mira", "billing": 1},
        {"actor_id": ravi["id"]},
    ]})
    assert swapped.status_code == 200, swapped.json
    assert [(a["id"], a.get("billing")) for a in swapped.json["movie"]["actors"]] == [
        (mira["id"], 1), (dev["id"], 2), (ravi["id"], None)]
    left_out = api("PUT", CAST.format(movie["id"]), json={"cast": [{"actor_id": ravi["id"], "billing": 1}]})
    assert [a["id"] for a in left_out.json["movie"]["actors"]] == [ravi["id"]]


@pytest.mark.parametrize(("cast", "problem"), [
    ([{"actor_id": 1, "billing": 1}, {"actor_id": 2, "billing": 1}], "same billing"),
    ([{"actor_id": 1}, {"actor_id": 1}], "actor twice"),
    ([{"actor_id": 1, "billing": 0}], "[0].billing"),
    ([{"actor_id": 1, "billing": 1001}], "[0].billing"),
    ([{"actor_id": 1, "billing": 1.5}], "[0].billing"),
    ([{"actor_id": 1, "billing": "1"}], "[0].billing"),
    ([{"actor_id": 1, "billing": True}], "[0].billing"),
    ([{"actor_id": 1, "billing": None}], "[0].billing"),
    ([{"actor_id": 1, "character": ""}], "[0].character"),
    ([{"actor_id": 1, "character": "a\nb"}], "[0].character"),
    ([{"actor_id": 1, "character": "\u202eevil"}], "[0].character"),
    ([{"actor_id": 1, "character": "x" * 201}], "[0].character"),
    ([{"actor_id": 1, "character": "\u0301\u0301"}], "[0].character"),
    ([{"actor_id": 1, "role": "x"}], "[0].role"),
    ([{"character": "x"}], "[0].actor_id"),
    ([{"actor_id": 999}], "no actor with id 999"),
])
def test_each_rule_of_a_cast_is_a_422_naming_it(api, troupe, cast, problem):
    movie, *_ = troupe
    before = actors_of(api, movie["id"])
    body = assert_error(api("PUT", CAST.format(movie["id"]), json={"cast": cast}), 422, "cast")
    assert problem in " ".join(body["details"]["cast"]), body
    assert actors_of(api, movie["id"]) == before


def test_a_body_gives_actor_ids_or_a_cast_not_both(api):
    actor = new_actor(api)
    body = {"title": "T", "release_date": "2020-01-01", "actor_ids": [actor["id"]], "cast": [{"actor_id": actor["id"]}]}
    assert_error(api("POST", "/movies", json=body), 422, "cast")


def test_actor_ids_keep_the_roles_of_castings_that_stay(api, troupe):
    movie, dev, mira, ravi = troupe
    patched = api("PATCH", f"/movies/{movie['id']}", json={"actor_ids": [dev["id"], ravi["id"]]}).json["movie"]
    assert patched["actors"] == [
        {"id": dev["id"], "name": "Dev Patel", "character": "Arjun / Young Arjun", "billing": 1},
        {"id": ravi["id"], "name": "Ravi Shah"}]
    api("PATCH", f"/actors/{dev['id']}", json={"movie_ids": [movie["id"]]})
    assert actors_of(api, movie["id"])[0]["character"] == "Arjun / Young Arjun"


def test_nested_lists_carry_each_casting_and_a_search_finds_characters(api, troupe):
    movie, dev, mira, ravi = troupe
    other = new_movie(api, "Paper Kingdoms", "2022-06-17", cast=[{"actor_id": dev["id"], "character": "Sunil"}])
    cast = api("GET", f"/movies/{movie['id']}/actors").json["actors"]
    assert [(a["name"], a.get("character"), a.get("billing")) for a in cast] == [
        ("Dev Patel", "Arjun / Young Arjun", 1), ("Mira Nair", "Mira", 2)]
    films = api("GET", f"/actors/{dev['id']}/movies").json["movies"]
    assert [(m["title"], m.get("character")) for m in films] == [("Echoes of June", "Arjun / Young Arjun"),
                                                                  ("Paper Kingdoms", "Sunil")]
    assert [m["id"] for m in api("GET", "/movies?character=young%20ARJ").json["movies"]] == [movie["id"]]
    assert [m["id"] for m in api("GET", "/movies?character=sun").json["movies"]] == [other["id"]]
    assert [a["id"] for a in api("GET", "/actors?character=mir").json["actors"]] == [mira["id"]]
    assert api("GET", "/actors?character=%25").json["total"] == 0  # a wildcard is a character like any other
    assert_error(api("GET", "/movies?character=a%00b"), 400, "character")


@pytest.mark.parametrize("sort", ["id", "-id"])
def test_a_character_search_pages_by_number_and_by_cursor_over_each_record_once(api, troupe, sort):
    """Records found by a character, each once however many of its castings match, in the sort's order, by page
    number and by cursor both ways, with the exact total (PostgreSQL takes the page's ids from the castings)."""
    movie, dev, mira, ravi = troupe
    found = [movie["id"]]  # "Arjun / Young Arjun"
    for n in range(6):
        cast = [{"actor_id": ravi["id"], "character": f"Detective Arjun {n}", "billing": 1}]
        if n % 2:  # two matching castings of one movie: the movie is found once
            cast.append({"actor_id": mira["id"], "character": f"Arjun's sister {n}", "billing": 2})
        found.append(new_movie(api, f"Case {n}", "2020-01-01", cast=cast)["id"])
    new_movie(api, "Unrelated", "2020-01-01", cast=[{"actor_id": dev["id"], "character": "Sunil"}])
    expected = sorted(found, reverse=sort == "-id")
    path = f"/movies?character=arjun&sort={sort}&per_page=3"
    pages = [api("GET", f"{path}&page={page}").json for page in (1, 2, 3, 4)]
    assert [[m["id"] for m in page["movies"]] for page in pages] == [expected[:3], expected[3:6], expected[6:], []]
    assert {page["total"] for page in pages} == {7}
    walked, answer = [], pages[0]
    for _ in range(5):
        walked += [m["id"] for m in answer["movies"]]
        if not answer.get("next_cursor"):
            break
        answer = api("GET", f"{path}&cursor={answer['next_cursor']}").json
    assert walked == expected
    back = api("GET", f"{path}&cursor={answer['prev_cursor']}").json
    assert [m["id"] for m in back["movies"]] == expected[3:6] and back["total"] == 7
    actors = api("GET", f"/actors?character=arjun&sort={sort}&per_page=2").json
    # Dev (Arjun), Ravi (Detective Arjun) and Mira (Arjun's sister); each once
    assert [a["id"] for a in actors["actors"]] == sorted([dev["id"], mira["id"], ravi["id"]],
                                                         reverse=sort == "-id")[:2]
    assert actors["total"] == 3


def test_the_character_search_uses_its_trigram_index_on_postgresql(app, api, troupe):
    from casting.catalogue import postgres_page

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("pg_trgm exists only on PostgreSQL")
    with app.test_request_context():
        compiled = postgres_page.page_statement("movies", "id", ("character",)).compile(dialect=db.engine.dialect)
        connection = db.session.connection()
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(
            "EXPLAIN " + compiled.string,
            {**compiled.params, "character": "%arj%", "limit": 21, "offset": 0, "per_page": 20}))
        db.session.rollback()
    assert "ix_movie_actors_character_trgm" in plan, plan


def test_a_role_changes_the_etag_and_a_field_change_does_not_refuse_a_casting(api, troupe):
    movie, dev, mira, ravi = troupe
    path = f"/movies/{movie['id']}"
    etag = api("GET", path).headers["ETag"]
    api("PATCH", path, json={"release_date": "2027-05-14"})  # someone else: the movie's own fields only
    cast = api("PUT", f"{path}/actors/{ravi['id']}", headers={"If-Match": etag}, json={"character": "Guard"})
    assert cast.status_code == 200, cast.json
    assert cast.headers["ETag"] != etag
    # A change to the cast since the read does refuse it.
    body = assert_error(api("PUT", f"{path}/actors/{mira['id']}", headers={"If-Match": etag},
                            json={"character": "Someone"}), 412)
    assert "changed" in body["message"]
    assert_error(api("PUT", CAST.format(movie["id"]), headers={"If-Match": etag}, json={"cast": []}), 412)
    assert len(actors_of(api, movie["id"])) == 3


def test_a_change_of_role_is_an_entry_on_both_sides_with_the_other_as_it_was(api, troupe):
    movie, dev, mira, ravi = troupe
    api("PUT", f"/movies/{movie['id']}/actors/{dev['id']}", json={"character": "Arjun", "billing": 1})
    api("PATCH", f"/movies/{movie['id']}", json={"title": "Echoes of July"})
    movie_entries = api("GET", f"/movies/{movie['id']}/history").json["history"]
    recast = movie_entries[1]
    assert recast["action"] == "updated"
    assert recast["before"]["actors"][0]["character"] == "Arjun / Young Arjun"
    assert recast["after"]["actors"][0]["character"] == "Arjun"
    actor_entry = api("GET", f"/actors/{dev['id']}/history").json["history"][0]
    assert actor_entry["action"] == "updated"
    assert actor_entry["other"] == {"type": "movie", "id": movie["id"], "title": "Echoes of June"}
    assert actor_entry["after"]["movies"] == [
        {"id": movie["id"], "title": "Echoes of June", "character": "Arjun", "billing": 1}]


def test_a_deleted_movie_is_named_on_its_actors_and_a_restore_brings_its_roles_back(api, troupe):
    movie, dev, mira, ravi = troupe
    assert api("DELETE", f"/movies/{movie['id']}").status_code == 200
    uncast = api("GET", f"/actors/{dev['id']}/history").json["history"][0]
    assert uncast["action"] == "uncast"
    assert uncast["other"] == {"type": "movie", "id": movie["id"], "title": "Echoes of June", "action": "deleted"}
    restored = api("POST", f"/movies/{movie['id']}/restore")
    assert restored.status_code == 201
    assert restored.json["movie"]["actors"] == movie["actors"]
    recast = api("GET", f"/actors/{dev['id']}/history").json["history"][0]
    assert recast["action"] == "cast" and recast["other"]["action"] == "restored"


def test_an_actor_restored_where_their_billing_is_taken_comes_back_unbilled(api, troupe):
    movie, dev, mira, ravi = troupe
    api("DELETE", f"/actors/{dev['id']}")
    api("PUT", f"/movies/{movie['id']}/actors/{ravi['id']}", json={"character": "Lead", "billing": 1})
    restored = api("POST", f"/actors/{dev['id']}/restore")
    assert restored.status_code == 201
    assert restored.json["billing_not_restored"] == [movie["id"]]
    assert restored.json["actor"]["movies"] == [
        {"id": movie["id"], "title": "Echoes of June", "character": "Arjun / Young Arjun"}]


def test_history_names_the_people_their_tokens_name(api, client, headers, issuer):
    from casting.tokens.claims import EMAIL, NAME

    dana = headers("casting-director", **{NAME: "Dana Whitfield", EMAIL: "dana@agency.example"})
    assert client.post("/actors", json={"name": "A", "age": 30, "gender": "f"}, headers=dana).status_code == 201
    plain = headers("casting-director")
    assert client.post("/actors", json={"name": "B", "age": 30, "gender": "f"}, headers=plain).status_code == 201
    hidden = headers("casting-director", **{NAME: "\u202eevil", EMAIL: "not an email"})
    assert client.post("/actors", json={"name": "C", "age": 30, "gender": "f"}, headers=hidden).status_code == 201
    newest = api("GET", "/history?per_page=3").json["history"]
    assert [entry["by"] for entry in newest] == [
        {"name": "local|casting-director"}, {"name": "local|casting-director"},
        {"name": "Dana Whitfield", "email": "dana@agency.example"}]


def test_two_named_people_of_one_role_are_two_subjects(issuer):
    import jwt

    from casting.tokens.local_issuer import subject

    dana, sam = (jwt.decode(issuer.mint("casting-director", name=name), options={"verify_signature": False})
                 for name in ("Dana", "Sam"))
    assert dana["sub"] != sam["sub"] and dana["sub"].startswith("local|casting-director|dana-")
    assert subject("casting-director") == "local|casting-director"
    assert subject("casting-director", "Zoë") != subject("casting-director", "Zoe")


@pytest.mark.parametrize(("role", "status"), [("casting-assistant", 403), ("casting-director", 200),
                                              ("executive-producer", 200)])
def test_roles_are_patch_movies(client, headers, api, troupe, role, status):
    movie, dev, *_ = troupe
    for method, path, body in (("PUT", CAST.format(movie["id"]), {"cast": []}),
                               ("PUT", f"/movies/{movie['id']}/actors/{dev['id']}", {"character": "X"})):
        assert client.open(path, method=method, json=body, headers=headers(role)).status_code == status


def test_statements_per_cast_write_do_not_grow_with_the_cast(api, count_statements):
    small = [new_actor(api, f"S{i}") for i in range(2)]
    large = [new_actor(api, f"L{i}") for i in range(20)]
    counts = []
    for crowd in (small, large):
        movie = new_movie(api, cast=[{"actor_id": a["id"], "billing": i + 1} for i, a in enumerate(crowd)])
        reordered = [{"actor_id": a["id"], "character": f"C{i}", "billing": len(crowd) - i}
                     for i, a in enumerate(crowd)]
        with count_statements() as n:
            assert api("PUT", CAST.format(movie["id"]), json={"cast": reordered}).status_code == 200
        counts.append(n())
    assert counts[0] == counts[1], counts


def test_the_migration_keeps_every_casting(app, make_app, request, local_pem, tmp_path):
    """A database at the schema before castings had roles, with castings in it: upgraded, every casting is
    there without a role; given roles and downgraded, every casting is still there (on the suite's
    database: PostgreSQL in CI, SQLite elsewhere)."""
    from tests.utils.environment import FLASK, ROOT
    from tests.utils.postgres import migrate
    from tests.utils.processes import server_env

    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
    url = request.getfixturevalue("pg").create_database() if postgresql else f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, local_pem, "0008")
    old = make_app(SQLALCHEMY_DATABASE_URI=url)
    with old.app_context():
        db.session.execute(text("INSERT INTO movies (id, title, release_date) VALUES (1, 'M', '2020-01-01')"))
        db.session.execute(text("INSERT INTO actors (id, name, age, gender) "
                                "VALUES (1, 'A', 30, 'f'), (2, 'B', 31, 'm')"))
        db.session.execute(text("INSERT INTO movie_actors (movie_id, actor_id) VALUES (1, 1), (1, 2)"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    migrate(url, local_pem, "0009")
    upgraded = make_app(SQLALCHEMY_DATABASE_URI=url)
    with upgraded.app_context():
        rows = db.session.execute(text("SELECT movie_id, actor_id, character, billing FROM movie_actors "
                                       "ORDER BY actor_id")).all()
        assert [tuple(row) for row in rows] == [(1, 1, None, None), (1, 2, None, None)]
        db.session.execute(text("UPDATE movie_actors SET character = 'Lead', billing = 1 WHERE actor_id = 1"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    downgrade = subprocess.run([FLASK, "--app", "app", "db", "downgrade", "0008"], cwd=ROOT, capture_output=True,
                               text=True, timeout=90,
                               env=server_env(DATABASE_URL=url, LOCAL_ISSUER_PRIVATE_KEY=local_pem))
    assert downgrade.returncode == 0, downgrade.stderr
    down = make_app(SQLALCHEMY_DATABASE_URI=url)
    with down.app_context():
        assert db.session.execute(text("SELECT count(*) FROM movie_actors")).scalar() == 2
        db.session.remove()
        db.engine.dispose()
