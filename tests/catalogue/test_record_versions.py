"""Record versions (migration 0011), which every record's ETag is made from: the triggers change a record's version
whenever its JSON changes, however the change is made (the API or SQL: its fields, its castings, a name or a
title embedded in it), its cast version whenever its castings change, and a record's 304 reads one row."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from models import db
from tests.utils.asserters import assert_error, etag_of
from tests.utils.records import new_actor, new_movie


def _sql(app, statement: str, **values) -> None:
    """A change made outside the API (psql, a script), committed."""
    with app.app_context():
        db.session.execute(text(statement), values)
        db.session.commit()
        db.session.remove()


def _tag(api, path: str) -> str:
    return etag_of(api("GET", path))


def _revalidated(api, path: str, tag: str):
    """GET with If-None-Match: the tag held; the answer."""
    return api("GET", path, headers={"If-None-Match": tag})


@pytest.fixture
def cast(api):
    """A movie with two actors, one of them as a character, and the paths to each."""
    lead, other = new_actor(api, "Lead Actor"), new_actor(api, "Other Actor")
    movie = new_movie(api, "Versioned", actor_ids=[lead["id"], other["id"]])
    api("PUT", f"/movies/{movie['id']}/actors/{lead['id']}", json={"character": "Hero", "billing": 1})
    return {"movie": f"/movies/{movie['id']}", "lead": f"/actors/{lead['id']}", "other": f"/actors/{other['id']}",
            "ids": (movie["id"], lead["id"], other["id"])}


def test_a_change_in_sql_to_a_records_own_fields_changes_its_tag_and_only_its_tag(api, app, cast):
    movie_id, lead_id, _ = cast["ids"]
    tags = {name: _tag(api, cast[name]) for name in ("movie", "lead", "other")}
    _sql(app, "UPDATE movies SET release_date = '1999-09-09' WHERE id = :id", id=movie_id)
    fresh = _revalidated(api, cast["movie"], tags["movie"])
    assert fresh.status_code == 200 and fresh.json["movie"]["release_date"] == "1999-09-09"
    # The release date is in no actor's record: theirs still revalidate.
    assert _revalidated(api, cast["lead"], tags["lead"]).status_code == 304
    # An UPDATE that leaves every column as it was leaves the version too.
    now = etag_of(fresh)
    _sql(app, "UPDATE movies SET title = title WHERE id = :id", id=movie_id)
    _sql(app, "UPDATE actors SET age = age WHERE id = :id", id=lead_id)
    assert _revalidated(api, cast["movie"], now).status_code == 304
    assert _revalidated(api, cast["lead"], tags["lead"]).status_code == 304


@pytest.mark.parametrize("through", ["api", "sql"])
def test_a_rename_changes_the_tags_of_the_movies_the_actor_is_in_but_not_their_casts(api, app, cast, through):
    movie_id, lead_id, _ = cast["ids"]
    movie_tag, other_tag = _tag(api, cast["movie"]), _tag(api, cast["other"])
    if through == "api":
        assert api("PATCH", cast["lead"], json={"name": "Renamed Lead"}).status_code == 200
    else:
        _sql(app, "UPDATE actors SET name = 'Renamed Lead' WHERE id = :id", id=lead_id)
    fresh = _revalidated(api, cast["movie"], movie_tag)
    assert fresh.status_code == 200, fresh.status_code
    assert {"id": lead_id, "name": "Renamed Lead", "character": "Hero", "billing": 1} in fresh.json["movie"]["actors"]
    assert etag_of(fresh) != movie_tag
    assert _revalidated(api, cast["other"], other_tag).status_code == 304  # not in the other actor's record
    # A cast made from the older read still goes through: names are not the cast's business.
    recast = api("PUT", f"{cast['movie']}/actors/{cast['ids'][2]}", json={"character": "Sidekick"},
                 headers={"If-Match": movie_tag})
    assert recast.status_code == 200, recast.json
    # A PATCH of the movie from the older read does not: its representation changed.
    assert_error(api("PATCH", cast["movie"], json={"title": "Late"}, headers={"If-Match": movie_tag}), 412)
    assert api("GET", f"/movies/{movie_id}").json["movie"]["title"] == "Versioned"


@pytest.mark.parametrize("through", ["api", "sql"])
def test_a_retitle_changes_the_tags_of_the_movies_actors(api, app, cast, through):
    movie_id, _, _ = cast["ids"]
    lead_tag, other_tag = _tag(api, cast["lead"]), _tag(api, cast["other"])
    if through == "api":
        assert api("PATCH", cast["movie"], json={"title": "Retitled"}).status_code == 200
    else:
        _sql(app, "UPDATE movies SET title = 'Retitled' WHERE id = :id", id=movie_id)
    for path, tag in ((cast["lead"], lead_tag), (cast["other"], other_tag)):
        fresh = _revalidated(api, path, tag)
        assert fresh.status_code == 200 and fresh.json["actor"]["movies"][0]["title"] == "Retitled"


@pytest.mark.parametrize("change", [
    "INSERT INTO movie_actors (movie_id, actor_id) VALUES (:movie, :newcomer)",
    "UPDATE movie_actors SET character = 'Villain' WHERE movie_id = :movie AND actor_id = :other",
    "DELETE FROM movie_actors WHERE movie_id = :movie AND actor_id = :other",
])
def test_a_casting_changed_in_sql_changes_both_sides_tags_and_the_movies_cast_part(api, app, cast, change):
    movie_id, lead_id, other_id = cast["ids"]
    newcomer = new_actor(api, "Newcomer")
    tags = {name: _tag(api, cast[name]) for name in ("movie", "lead", "other")}
    newcomer_tag = _tag(api, f"/actors/{newcomer['id']}")
    before = api("GET", cast["movie"]).json["movie"]
    _sql(app, change, movie=movie_id, other=other_id, newcomer=newcomer["id"])
    fresh = _revalidated(api, cast["movie"], tags["movie"])
    assert fresh.status_code == 200 and fresh.json["movie"] != before
    # The actor whose casting changed: a new tag; the lead, whose casting did not: the same.
    touched = (f"/actors/{newcomer['id']}", newcomer_tag) if "INSERT" in change else (cast["other"], tags["other"])
    assert _revalidated(api, *touched).status_code == 200
    assert _revalidated(api, cast["lead"], tags["lead"]).status_code == 304
    # The cast changed: a casting PUT from the older read is refused.
    refused = api("PUT", f"/movies/{movie_id}/actors/{lead_id}", json={"character": "Late"},
                  headers={"If-Match": tags["movie"]})
    assert_error(refused, 412)


def test_casts_through_the_api_change_the_cast_part_and_titles_do_not(api, cast):
    movie_id, lead_id, other_id = cast["ids"]
    tag = _tag(api, cast["movie"])
    retitled = api("PATCH", cast["movie"], json={"title": "Only the Title"})
    assert etag_of(retitled) != tag
    # The cast part is what a casting PUT compares: unchanged by a retitle.
    assert api("DELETE", f"/movies/{movie_id}/actors/{other_id}", headers={"If-Match": tag}).status_code == 200
    assert_error(api("PUT", f"/movies/{movie_id}/actors/{other_id}", headers={"If-Match": tag}), 412)
    # Sending the same role again changes nothing: the same tag.
    now = _tag(api, cast["movie"])
    again = api("PUT", f"/movies/{movie_id}/actors/{lead_id}", json={"character": "Hero", "billing": 1})
    assert again.status_code == 200 and etag_of(again) == now


def test_a_deleted_and_restored_record_never_shows_a_tag_it_had(api, app, cast):
    movie_id = cast["ids"][0]
    old = _tag(api, cast["movie"])
    assert api("DELETE", cast["movie"]).status_code in (200, 204)
    assert api("POST", f"/movies/{movie_id}/restore").status_code == 201
    restored = _revalidated(api, cast["movie"], old)
    assert restored.status_code == 200 and etag_of(restored) != old
    # Emptied and made again in SQL with the same id: still a new tag.
    again = etag_of(restored)
    _sql(app, "DELETE FROM movies WHERE id = :id", id=movie_id)
    _sql(app, "INSERT INTO movies (id, title, release_date) VALUES (:id, 'Versioned', '2017-04-29')", id=movie_id)
    assert _revalidated(api, cast["movie"], again).status_code == 200


def test_castings_emptied_at_once_change_every_tag(api, app, cast):
    """PostgreSQL's TRUNCATE (its own trigger); SQLite has none: a DELETE of every row (its row triggers)."""
    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
    tags = {name: _tag(api, cast[name]) for name in ("movie", "lead", "other")}
    _sql(app, "TRUNCATE movie_actors" if postgresql else "DELETE FROM movie_actors")
    for name, tag in tags.items():
        assert _revalidated(api, cast[name], tag).status_code == 200, name


def test_a_records_304_reads_its_versions_row_and_nothing_else(api, app, cast):
    with app.app_context():
        engine = db.engine
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    tag = _tag(api, cast["movie"])
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert _revalidated(api, cast["movie"], tag).status_code == 304
    finally:
        event.remove(engine, "before_cursor_execute", record)
    seen = [statement for statement in seen if statement not in ("BEGIN", "COMMIT", "ROLLBACK")]
    assert len(seen) == 1 and "movie_actors" not in seen[0] and " actors" not in seen[0], seen
    assert_error(_revalidated(api, "/movies/424242", tag), 404)


@pytest.mark.parametrize("side", ["movies", "actors"])
def test_a_304_for_an_id_no_record_can_have_is_a_404(api, side):
    """The path takes up to ten digits; ids past the largest a record can have (2**31 - 1) find nothing, also on the
    304's prepared read, whose integer parameter PostgreSQL refuses past that (a 500 once, found by schemathesis)."""
    for record_id in (2**31 - 1, 2**31, 9_999_999_999, 0):
        for _ in range(2):  # the second on a connection where the read is prepared
            assert_error(api("GET", f"/{side}/{record_id}", headers={"If-None-Match": '"x"'}), 404)
