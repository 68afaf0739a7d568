"""Conditional requests (conditional.py): strong ETags on records and lists, If-None-Match 304s, If-Match
412s and REQUIRE_IF_MATCH 428s."""

from __future__ import annotations

import pytest

from tests.utils.asserters import assert_error, etag_of
from tests.utils.records import new_actor, new_movie, row_counts

# --- ETags ---------------------------------------------------------------------------------------------------


def test_every_record_response_carries_a_strong_etag_that_follows_the_representation(api):
    actor = new_actor(api)
    created = api("POST", "/movies", json={"title": "Tag", "release_date": "2020-01-01", "actor_ids": [actor["id"]]})
    movie_id = created.json["movie"]["id"]
    first = etag_of(created)
    got = api("GET", f"/movies/{movie_id}")
    assert etag_of(got) == first  # the same representation, the same tag
    assert not first.startswith("W/")

    patched = api("PATCH", f"/movies/{movie_id}", json={"title": "Tag 2"})
    assert etag_of(patched) != first
    assert etag_of(api("GET", f"/movies/{movie_id}")) == etag_of(patched)
    unchanged = api("PATCH", f"/movies/{movie_id}", json={})
    assert etag_of(unchanged) == etag_of(patched)

    uncast = api("DELETE", f"/movies/{movie_id}/actors/{actor['id']}")
    assert etag_of(uncast) != etag_of(patched)
    recast = api("PUT", f"/movies/{movie_id}/actors/{actor['id']}")
    assert recast.json["movie"] == patched.json["movie"]  # back to the same representation, but a tag never
    assert etag_of(recast) not in (etag_of(patched), etag_of(uncast))  # comes back (made from versions)
    assert etag_of(api("GET", f"/movies/{movie_id}")) == etag_of(recast)
    assert etag_of(api("GET", f"/actors/{actor['id']}")) != etag_of(recast)  # another record, another tag


def test_an_etag_changes_when_an_embedded_name_changes(api):
    actor = new_actor(api, "Chris Pine")
    movie = new_movie(api, actor_ids=[actor["id"]])
    movie_tag = etag_of(api("GET", f"/movies/{movie['id']}"))
    actor_tag = etag_of(api("GET", f"/actors/{actor['id']}"))

    api("PATCH", f"/actors/{actor['id']}", json={"name": "Christopher Pine"})
    assert etag_of(api("GET", f"/movies/{movie['id']}")) != movie_tag
    api("PATCH", f"/movies/{movie['id']}", json={"title": "Raids of the Ice II"})
    assert etag_of(api("GET", f"/actors/{actor['id']}")) != actor_tag


def test_a_record_revalidates_with_304(api):
    movie = new_movie(api)
    tag = etag_of(api("GET", f"/movies/{movie['id']}"))
    for header in (tag, f"W/{tag}", f'"nope", {tag}', "*"):
        response = api("GET", f"/movies/{movie['id']}", headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.get_data() == b"" and response.headers["ETag"] == tag
    assert api("GET", f"/movies/{movie['id']}", headers={"If-None-Match": '"other"'}).status_code == 200
    assert api("GET", f"/movies/{movie['id']}", headers={"If-None-Match": "garbage"}).status_code == 200
    api("PATCH", f"/movies/{movie['id']}", json={"title": "Changed"})
    fresh = api("GET", f"/movies/{movie['id']}", headers={"If-None-Match": tag})
    assert fresh.status_code == 200 and fresh.json["movie"]["title"] == "Changed" and etag_of(fresh) != tag
    assert_error(api("GET", "/movies/4242", headers={"If-None-Match": "*"}), 404)


@pytest.mark.parametrize("path", ["/movies", "/actors?sort=-name", "/movies/{movie}/actors", "/actors/{actor}/movies"])
def test_a_list_revalidates_with_304_until_anything_in_the_catalogue_changes(api, path):
    actor = new_actor(api)
    movie = new_movie(api, actor_ids=[actor["id"]])
    path = path.format(movie=movie["id"], actor=actor["id"])
    tag = etag_of(api("GET", path))
    assert etag_of(api("GET", path)) == tag
    assert etag_of(api("GET", path + ("&" if "?" in path else "?") + "per_page=5")) != tag  # another query
    not_modified = api("GET", path, headers={"If-None-Match": tag})
    assert not_modified.status_code == 304 and not_modified.get_data() == b""
    assert not_modified.headers["ETag"] == tag

    api("PATCH", f"/actors/{actor['id']}", json={"name": "Renamed"})  # an embedded name, in every list here
    changed = api("GET", path, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and etag_of(changed) != tag
    assert api("GET", path, headers={"If-None-Match": etag_of(changed)}).status_code == 304


def test_a_write_that_changes_nothing_leaves_list_etags_alone(api):
    actor = new_actor(api)
    movie = new_movie(api, actor_ids=[actor["id"]])
    tag = etag_of(api("GET", "/movies"))
    api("PATCH", f"/movies/{movie['id']}", json={})
    api("PUT", f"/movies/{movie['id']}/actors/{actor['id']}")  # already cast
    api("POST", "/movies", json={"title": ""})  # refused
    assert api("GET", "/movies", headers={"If-None-Match": tag}).status_code == 304


# --- If-Match ------------------------------------------------------------------------------------------------


def test_a_lost_update_is_refused_with_412_and_the_current_etag(api, client, headers):
    actor = new_actor(api, "Viola Davis", 61, "female")
    first_director, second_director = headers("casting-director"), headers("casting-director", sub="auth0|second")
    seen = client.get(f"/actors/{actor['id']}", headers=first_director)
    also_seen = client.get(f"/actors/{actor['id']}", headers=second_director)
    assert etag_of(seen) == etag_of(also_seen)

    saved = client.patch(f"/actors/{actor['id']}", json={"age": 62},
                         headers={**first_director, "If-Match": etag_of(seen)})
    assert saved.status_code == 200 and saved.json["actor"]["age"] == 62
    lost = client.patch(f"/actors/{actor['id']}", json={"gender": "woman"},
                        headers={**second_director, "If-Match": etag_of(also_seen)})
    body = assert_error(lost, 412)
    assert "changed" in body["message"]
    assert lost.headers["ETag"] == etag_of(saved)
    now = api("GET", f"/actors/{actor['id']}").json["actor"]
    assert now["age"] == 62 and now["gender"] == "female"  # nothing of the refused write

    redone = client.patch(f"/actors/{actor['id']}", json={"gender": "woman"},
                          headers={**second_director, "If-Match": lost.headers["ETag"]})
    assert redone.status_code == 200 and redone.json["actor"] == {**now, "gender": "woman"}


@pytest.mark.parametrize("if_match,status", [
    ("*", 200), ("{current}", 200), ('"stale", {current}', 200), ('"stale"', 412), ("W/{current}", 412),
    ("{current_unquoted}", 412), ('"unterminated', 412), ("", 412), (",", 412),
])
def test_if_match_forms(api, if_match, status):
    movie = new_movie(api)
    current = etag_of(api("GET", f"/movies/{movie['id']}"))
    header = if_match.format(current=current, current_unquoted=current.strip('"'))
    response = api("PATCH", f"/movies/{movie['id']}", json={"title": "New"}, headers={"If-Match": header})
    assert response.status_code == status, (header, response.json)
    expected = "New" if status == 200 else movie["title"]
    assert api("GET", f"/movies/{movie['id']}").json["movie"]["title"] == expected


def test_if_match_guards_deletes_and_castings_with_the_movies_etag(api, app):
    actor = new_actor(api)
    movie = new_movie(api)
    stale = etag_of(api("GET", f"/movies/{movie['id']}"))
    cast = api("PUT", f"/movies/{movie['id']}/actors/{actor['id']}", headers={"If-Match": stale})
    assert cast.status_code == 200
    assert_error(api("DELETE", f"/movies/{movie['id']}/actors/{actor['id']}", headers={"If-Match": stale}), 412)
    assert_error(api("PUT", f"/movies/{movie['id']}/actors/{actor['id']}", headers={"If-Match": stale}), 412)
    assert_error(api("DELETE", f"/movies/{movie['id']}", headers={"If-Match": stale}), 412)
    assert row_counts(app) == (1, 1, 1)
    actor_tag = etag_of(api("GET", f"/actors/{actor['id']}"))
    assert_error(api("DELETE", f"/actors/{actor['id']}", headers={"If-Match": '"stale"'}), 412)
    assert api("DELETE", f"/actors/{actor['id']}", headers={"If-Match": actor_tag}).status_code == 200
    current = etag_of(api("GET", f"/movies/{movie['id']}"))
    assert api("DELETE", f"/movies/{movie['id']}", headers={"If-Match": current}).status_code == 200
    assert row_counts(app) == (0, 0, 0)


def test_a_missing_record_is_404_whatever_if_match_says(api):
    assert_error(api("PATCH", "/movies/4242", json={"title": "x"}, headers={"If-Match": '"x"'}), 404)
    assert_error(api("DELETE", "/actors/4242", headers={"If-Match": "*"}), 404)


def test_require_if_match_makes_it_mandatory_on_changes(make_app, app, issuer):
    strict = make_app(REQUIRE_IF_MATCH=True).test_client()
    producer = {"Authorization": f"Bearer {issuer.mint('executive-producer')}"}
    created = strict.post("/movies", json={"title": "Strict", "release_date": "2020-01-01"}, headers=producer)
    assert created.status_code == 201  # creating needs no If-Match: there is nothing to overwrite
    actor = strict.post("/actors", json={"name": "A", "age": 30, "gender": "f"}, headers=producer).json["actor"]
    movie_id, tag = created.json["movie"]["id"], etag_of(created)
    for method, path in (("PATCH", f"/movies/{movie_id}"), ("DELETE", f"/movies/{movie_id}"),
                         ("PUT", f"/movies/{movie_id}/actors/{actor['id']}"),
                         ("DELETE", f"/movies/{movie_id}/actors/{actor['id']}"),
                         ("PATCH", f"/actors/{actor['id']}"), ("DELETE", f"/actors/{actor['id']}")):
        body = assert_error(strict.open(path, method=method, json={} if method == "PATCH" else None,
                                        headers=producer), 428)
        assert "If-Match" in body["message"]
    assert strict.patch(f"/movies/{movie_id}", json={"title": "Strict 2"},
                        headers={**producer, "If-Match": tag}).status_code == 200
    assert strict.get(f"/movies/{movie_id}", headers=producer).json["movie"]["title"] == "Strict 2"


@pytest.mark.parametrize("if_match,status", [
    ("{current}, ", 200), (", {current}", 200), ('"stale", , {current},', 200), (" ,{current}", 200),
])
def test_if_match_ignores_empty_list_elements(api, if_match, status):
    """RFC 9110, section 5.6.1: a recipient ignores empty list elements; `"x", ` names "x" and nothing else."""
    movie = new_movie(api)
    current = etag_of(api("GET", f"/movies/{movie['id']}"))
    header = if_match.format(current=current)
    response = api("PATCH", f"/movies/{movie['id']}", json={"title": "New"}, headers={"If-Match": header})
    assert response.status_code == status, (header, response.json)
    assert api("GET", f"/movies/{movie['id']}").json["movie"]["title"] == "New"


def test_if_none_match_ignores_empty_list_elements(api):
    movie = new_movie(api)
    record = etag_of(api("GET", f"/movies/{movie['id']}"))
    listed = etag_of(api("GET", "/movies"))
    for path, tag in ((f"/movies/{movie['id']}", record), ("/movies", listed)):
        for header in (f"{tag}, ", f", {tag}", f'"other", , {tag},'):
            response = api("GET", path, headers={"If-None-Match": header})
            assert response.status_code == 304, (path, header)
    assert_error(api("PATCH", f"/movies/{movie['id']}", json={"title": "No"}, headers={"If-None-Match": f"{record}, "}),
                 412)


# --- preconditions on every write (issue 21): a false one is a 412 and nothing is written --------------------------


@pytest.mark.parametrize("if_match", ['"bogus"', "*"])
def test_if_match_on_a_create_is_a_412_and_nothing_is_made(api, app, if_match):
    """A create has no current representation for If-Match to name, so any If-Match is false (RFC 9110, 13.1.1)."""
    response = api("POST", "/movies", json={"title": "Never", "release_date": "2020-01-01"},
                   headers={"If-Match": if_match})
    assert_error(response, 412)
    assert_error(api("POST", "/actors", json={"name": "Never", "age": 30, "gender": "f"},
                     headers={"If-Match": if_match}), 412)
    assert row_counts(app) == (0, 0, 0)
    assert api("GET", "/history").json["history"] == []
    assert api("POST", "/movies", json={"title": "Made", "release_date": "2020-01-01"},
               headers={"If-None-Match": "*"}).status_code == 201  # nothing there yet: If-None-Match holds


@pytest.mark.parametrize("if_match", ['"bogus"', "*"])
def test_if_match_on_a_restore_is_a_412_and_nothing_is_restored(api, app, if_match):
    movie = new_movie(api)
    assert api("DELETE", f"/movies/{movie['id']}").status_code == 200
    before = len(api("GET", "/history").json["history"])
    assert_error(api("POST", f"/movies/{movie['id']}/restore", headers={"If-Match": if_match}), 412)
    assert row_counts(app) == (0, 0, 0)
    assert len(api("GET", "/history").json["history"]) == before
    restored = api("POST", f"/movies/{movie['id']}/restore")
    assert restored.status_code == 201 and restored.json["movie"]["title"] == movie["title"]


@pytest.mark.parametrize("method,path,body", [
    ("PATCH", "/movies/{movie}", {"title": "Overwritten"}),
    ("DELETE", "/movies/{movie}", None),
    ("PUT", "/movies/{movie}/actors/{actor}", None),
])
def test_if_none_match_naming_the_current_record_is_a_412_and_nothing_is_written(api, app, method, path, body):
    """If-None-Match on a write asks for it to happen only where the record is not as named: as it is, it is refused."""
    actor = new_actor(api)
    movie = new_movie(api)
    current = etag_of(api("GET", f"/movies/{movie['id']}"))
    before = len(api("GET", "/history").json["history"])
    for header in (current, f'"other", {current}', f"W/{current}", "*"):
        response = api(method, path.format(movie=movie["id"], actor=actor["id"]), json=body,
                       headers={"If-None-Match": header})
        assert_error(response, 412)
        assert response.headers["ETag"] == current
    assert api("GET", f"/movies/{movie['id']}").json["movie"] == movie
    assert row_counts(app) == (1, 1, 0) and len(api("GET", "/history").json["history"]) == before
    done = api(method, path.format(movie=movie["id"], actor=actor["id"]), json=body,
               headers={"If-None-Match": '"other"'})
    assert done.status_code == 200, done.json


def test_a_cast_or_uncast_is_not_refused_for_a_change_to_the_movies_own_fields(api, client, headers):
    """Issue 21: a director's Remove after someone changed only the release date was a 412. A cast's If-Match covers
    the cast part of the movie's ETag ("<whole>.<cast>"): fields do not refuse it, a change of cast does."""
    first, second = new_actor(api, "First"), new_actor(api, "Second")
    movie = new_movie(api, actor_ids=[first["id"]])
    director = headers("casting-director", sub="auth0|other-director")
    seen = etag_of(client.get(f"/movies/{movie['id']}", headers=director))

    assert api("PATCH", f"/movies/{movie['id']}", json={"release_date": "2019-01-01"}).status_code == 200
    changed = etag_of(api("GET", f"/movies/{movie['id']}"))
    assert changed != seen and changed.split(".")[1] == seen.split(".")[1]  # the whole differs, the cast does not
    cast = client.put(f"/movies/{movie['id']}/actors/{second['id']}", headers={**director, "If-Match": seen})
    assert cast.status_code == 200, cast.json
    assert [a["id"] for a in cast.json["movie"]["actors"]] == [first["id"], second["id"]]

    # The cast changed since `seen`: a cast or an uncast from that read is refused, and nothing is written.
    uncast = client.delete(f"/movies/{movie['id']}/actors/{first['id']}", headers={**director, "If-Match": seen})
    assert_error(uncast, 412)
    assert uncast.headers["ETag"] == etag_of(cast)
    # A field edit from the old read is still refused: the whole ETag changed.
    assert_error(client.patch(f"/movies/{movie['id']}", json={"title": "Stale"},
                              headers={**director, "If-Match": seen}), 412)
    uncast = client.delete(f"/movies/{movie['id']}/actors/{first['id']}",
                           headers={**director, "If-Match": etag_of(cast)})
    assert uncast.status_code == 200 and [a["id"] for a in uncast.json["movie"]["actors"]] == [second["id"]]
    assert api("GET", f"/movies/{movie['id']}").json["movie"]["release_date"] == "2019-01-01"
