"""History and undo: the entries each write makes, reading them, and restoring a deleted record."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from sqlalchemy import func, select, text

from models import db, history
from tests.utils.asserters import assert_error
from tests.utils.records import new_actor, new_movie, row_counts

INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def entries(api, path="/history", **params) -> list[dict]:
    response = api("GET", path, query_string={"per_page": 100, **params})
    assert response.status_code == 200, response.json
    return response.json["history"]


def summary(found: list[dict]) -> list[tuple]:
    """(action, type, id, before, after) of each entry, oldest first: a snapshot's fields and cast as ids (the cast
    as it was shown, names and roles, is checked to name those same records, and is tests/api/test_castings.py's)."""
    return [(e["action"], e["record"]["type"], e["record"]["id"], _ids_only(e["before"]), _ids_only(e["after"]))
            for e in reversed(found)]


def _ids_only(snapshot: dict | None) -> dict | None:
    if snapshot is None:
        return None
    embedded, ids = ("actors", "actor_ids") if "actor_ids" in snapshot else ("movies", "movie_ids")
    kept = {key: value for key, value in snapshot.items() if key != embedded}
    assert sorted(item["id"] for item in snapshot[embedded]) == kept[ids], snapshot
    return kept


def movie_snap(title, date, actor_ids):
    return {"title": title, "release_date": date, "actor_ids": actor_ids}


def actor_snap(name, age, gender, movie_ids):
    return {"name": name, "age": age, "gender": gender, "movie_ids": movie_ids}


@pytest.fixture
def director(client, headers):
    token = headers("casting-director", sub="auth0|director-1")

    def call(method, path, **kwargs):
        return client.open(path, method=method, headers={**token, **kwargs.pop("headers", {})}, **kwargs)

    return call


# --- what each write records ---------------------------------------------------------------------------------


def test_each_write_records_exactly_its_entries_with_the_subject_and_request(api, director):
    a = new_actor(api, "Chris Pine", 45, "male")
    b = new_actor(api, "Gal Gadot", 41, "female")
    m = new_movie(api, "Raids of the Ice", "2017-04-29", actor_ids=[a["id"]])
    assert summary(entries(api)) == [
        ("created", "actor", a["id"], None, actor_snap("Chris Pine", 45, "male", [])),
        ("created", "actor", b["id"], None, actor_snap("Gal Gadot", 41, "female", [])),
        ("created", "movie", m["id"], None, movie_snap("Raids of the Ice", "2017-04-29", [a["id"]])),
        ("cast", "actor", a["id"], actor_snap("Chris Pine", 45, "male", []),
         actor_snap("Chris Pine", 45, "male", [m["id"]])),
    ]
    done = len(entries(api))

    patched = director("PATCH", f"/movies/{m['id']}", json={"title": "Raids II", "actor_ids": [b["id"]]},
                       headers={"X-Request-ID": "patch-raids-1"})
    assert patched.status_code == 200
    new = entries(api)[: len(entries(api)) - done]
    assert summary(new) == [
        ("updated", "movie", m["id"], movie_snap("Raids of the Ice", "2017-04-29", [a["id"]]),
         movie_snap("Raids II", "2017-04-29", [b["id"]])),
        ("cast", "actor", b["id"], actor_snap("Gal Gadot", 41, "female", []),
         actor_snap("Gal Gadot", 41, "female", [m["id"]])),
        ("uncast", "actor", a["id"], actor_snap("Chris Pine", 45, "male", [m["id"]]),
         actor_snap("Chris Pine", 45, "male", [])),
    ]
    assert {e["subject"] for e in new} == {"auth0|director-1"}
    assert {e["request_id"] for e in new} == {"patch-raids-1"}
    assert all(INSTANT.fullmatch(e["at"]) for e in new)
    assert [e["id"] for e in new] == sorted((e["id"] for e in new), reverse=True)  # newest first


def test_castings_and_deletes_record_both_sides(api):
    a, b = new_actor(api, "A", 30, "f"), new_actor(api, "B", 31, "m")
    m = new_movie(api, "M", "2020-01-01", actor_ids=[b["id"]])
    start = len(entries(api))
    assert api("PUT", f"/movies/{m['id']}/actors/{a['id']}").status_code == 200
    assert api("PUT", f"/movies/{m['id']}/actors/{a['id']}").status_code == 200  # already cast: nothing to record
    assert api("DELETE", f"/movies/{m['id']}/actors/{b['id']}").status_code == 200
    assert api("DELETE", f"/movies/{m['id']}").status_code == 200
    found = entries(api)
    assert summary(found[: len(found) - start]) == [
        ("cast", "movie", m["id"], movie_snap("M", "2020-01-01", [b["id"]]),
         movie_snap("M", "2020-01-01", [a["id"], b["id"]])),
        ("cast", "actor", a["id"], actor_snap("A", 30, "f", []), actor_snap("A", 30, "f", [m["id"]])),
        ("uncast", "movie", m["id"], movie_snap("M", "2020-01-01", [a["id"], b["id"]]),
         movie_snap("M", "2020-01-01", [a["id"]])),
        ("uncast", "actor", b["id"], actor_snap("B", 31, "m", [m["id"]]), actor_snap("B", 31, "m", [])),
        ("deleted", "movie", m["id"], movie_snap("M", "2020-01-01", [a["id"]]), None),
        ("uncast", "actor", a["id"], actor_snap("A", 30, "f", [m["id"]]), actor_snap("A", 30, "f", [])),
    ]


def test_changes_that_change_nothing_refusals_and_replays_record_nothing(api, app):
    m = new_movie(api, "Same")
    a = new_actor(api)
    start = len(entries(api))
    assert api("PATCH", f"/movies/{m['id']}", json={}).status_code == 200
    assert api("PATCH", f"/movies/{m['id']}", json={"title": "Same"}).status_code == 200
    assert_error(api("PATCH", f"/movies/{m['id']}", json={"title": ""}), 422)
    assert_error(api("PATCH", f"/movies/{m['id']}", json={"title": "X"}, headers={"If-Match": '"stale"'}), 412)
    assert_error(api("DELETE", f"/movies/{m['id']}/actors/{a['id']}"), 404)
    key = {"Idempotency-Key": "history-once"}
    assert api("PATCH", f"/actors/{a['id']}", json={"age": 50}, headers=key).status_code == 200
    replay = api("PATCH", f"/actors/{a['id']}", json={"age": 50}, headers=key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert [e["action"] for e in entries(api)][: len(entries(api)) - start] == ["updated"]


def test_an_actor_side_change_of_movies_records_the_movies_too(api):
    m1, m2 = new_movie(api, "One"), new_movie(api, "Two")
    a = new_actor(api, "Dev Patel", 36, "male", movie_ids=[m1["id"]])
    start = len(entries(api))
    assert api("PATCH", f"/actors/{a['id']}", json={"movie_ids": [m2["id"]]}).status_code == 200
    found = entries(api)
    assert summary(found[: len(found) - start]) == [
        ("updated", "actor", a["id"], actor_snap("Dev Patel", 36, "male", [m1["id"]]),
         actor_snap("Dev Patel", 36, "male", [m2["id"]])),
        ("cast", "movie", m2["id"], movie_snap("Two", "2017-04-29", []), movie_snap("Two", "2017-04-29", [a["id"]])),
        ("uncast", "movie", m1["id"], movie_snap("One", "2017-04-29", [a["id"]]), movie_snap("One", "2017-04-29", [])),
    ]


def test_a_write_and_its_entries_commit_together(app, api, monkeypatch):
    """When writing the entries fails, the change is not stored either (one transaction)."""
    from casting.catalogue import history as history_module

    def broken(entries):
        db.session.execute(text("SELECT no_such_column FROM history"))

    monkeypatch.setattr(history_module, "write", broken)
    assert_error(api("POST", "/actors", json={"name": "Ghost", "age": 1, "gender": "x"}), 500)
    assert row_counts(app) == (0, 0, 0)


# --- reading it ------------------------------------------------------------------------------------------------


def test_filters_pagination_and_the_per_record_history(api, director, client, headers):
    a = new_actor(api, "A", 30, "f")
    m = new_movie(api, "M", actor_ids=[a["id"]])
    director("PATCH", f"/actors/{a['id']}", json={"age": 31})
    assert [e["action"] for e in entries(api, type="actor")] == ["updated", "cast", "created"]
    assert [e["record"]["id"] for e in entries(api, action="created")] == [m["id"], a["id"]]
    assert [e["action"] for e in entries(api, subject="auth0|director-1")] == ["updated"]
    page = api("GET", "/history", query_string={"per_page": 2, "page": 2}).json
    assert page["total"] == 4 and page["page"] == 2 and page["per_page"] == 2
    assert [(e["action"], e["record"]["type"]) for e in page["history"]] == [("created", "movie"), ("created", "actor")]
    assert [e["action"] for e in entries(api, f"/actors/{a['id']}/history")] == ["updated", "cast", "created"]
    assert [e["action"] for e in entries(api, f"/movies/{m['id']}/history")] == ["created"]
    assert [e["action"] for e in entries(api, f"/actors/{a['id']}/history", action="cast")] == ["cast"]

    every = entries(api)
    newest = dt.datetime.fromisoformat(every[0]["at"].replace("Z", "+00:00"))
    oldest = dt.datetime.fromisoformat(every[-1]["at"].replace("Z", "+00:00"))
    assert len(entries(api, since=every[-1]["at"], until=every[0]["at"])) == 4  # inclusive at both ends
    later = (newest + dt.timedelta(seconds=1)).isoformat()
    assert entries(api, since=later) == []
    earlier = (oldest - dt.timedelta(seconds=1)).astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat()
    assert len(entries(api, until=earlier)) == 0 and len(entries(api, since=earlier)) == 4


@pytest.mark.parametrize("query,parameter", [
    ("type=person", "type"), ("action=renamed", "action"), ("since=2026-11-28", "since"),
    ("until=yesterday", "until"), ("since=2026-02-30T00:00:00Z", "since"), ("subject=", "subject"),
    ("page=0", "page"), ("per_page=101", "per_page"), ("colour=red", "colour"), ("type=movie&type=actor", "type"),
])
def test_bad_history_filters_are_400_naming_the_parameter(api, query, parameter):
    assert_error(api("GET", f"/history?{query}"), 400, parameter)


def test_a_deleted_records_history_is_still_there_and_an_unknown_one_is_404(api):
    m = new_movie(api)
    assert api("DELETE", f"/movies/{m['id']}").status_code == 200
    assert [e["action"] for e in entries(api, f"/movies/{m['id']}/history")] == ["deleted", "created"]
    assert_error(api("GET", "/movies/4242/history"), 404)
    assert_error(api("GET", "/actors/4242/history"), 404)


def test_a_record_made_outside_the_api_has_an_empty_history(app, api):
    with app.app_context():
        db.session.execute(text("INSERT INTO actors (name, age, gender) VALUES ('Seeded', 40, 'f')"))
        db.session.commit()
        actor_id = db.session.scalar(text("SELECT max(id) FROM actors"))
    response = api("GET", f"/actors/{actor_id}/history")
    assert response.status_code == 200 and response.json["history"] == [] and response.json["total"] == 0


def test_history_lists_revalidate_until_a_change(api):
    new_movie(api)
    tag = api("GET", "/history").headers["ETag"]
    assert api("GET", "/history", headers={"If-None-Match": tag}).status_code == 304
    new_actor(api)
    assert api("GET", "/history", headers={"If-None-Match": tag}).status_code == 200


# --- undo a delete ---------------------------------------------------------------------------------------------


def test_restore_brings_back_the_record_and_its_castings_to_survivors(api, app):
    a, b = new_actor(api, "A", 30, "f"), new_actor(api, "B", 31, "m")
    m = new_movie(api, "Lost and Found", "2001-02-03", actor_ids=[a["id"], b["id"]])
    assert api("DELETE", f"/movies/{m['id']}").status_code == 200
    assert api("DELETE", f"/actors/{b['id']}").status_code == 200
    start = len(entries(api))
    restored = api("POST", f"/movies/{m['id']}/restore")
    assert restored.status_code == 201, restored.json
    assert restored.headers["Location"] == f"/movies/{m['id']}"
    assert restored.json["movie"] == {"id": m["id"], "title": "Lost and Found", "release_date": "2001-02-03",
                                      "actors": [{"id": a["id"], "name": "A"}]}
    assert restored.json["actors_not_restored"] == [b["id"]]
    assert restored.headers["ETag"] == api("GET", f"/movies/{m['id']}").headers["ETag"]
    assert api("GET", f"/actors/{a['id']}").json["actor"]["movies"] == [{"id": m["id"], "title": "Lost and Found"}]
    found = entries(api)
    assert summary(found[: len(found) - start]) == [
        ("restored", "movie", m["id"], None, movie_snap("Lost and Found", "2001-02-03", [a["id"]])),
        ("cast", "actor", a["id"], actor_snap("A", 30, "f", []), actor_snap("A", 30, "f", [m["id"]])),
    ]
    # Restoring the actor too: cast again in the movie, which is back.
    actor_back = api("POST", f"/actors/{b['id']}/restore")
    assert actor_back.status_code == 201 and actor_back.json["movies_not_restored"] == []
    assert actor_back.json["actor"]["movies"] == [] or actor_back.json["actor"]["movies"] == [
        {"id": m["id"], "title": "Lost and Found"}]
    assert row_counts(app)[:2] == (1, 2)


def test_restore_refuses_a_record_that_exists_and_one_that_never_was(api):
    m = new_movie(api)
    body = assert_error(api("POST", f"/movies/{m['id']}/restore"), 409)
    assert "exists" in body["message"]
    assert_error(api("POST", "/movies/4242/restore"), 404)
    assert_error(api("POST", "/actors/4242/restore"), 404)
    assert api("DELETE", f"/movies/{m['id']}").status_code == 200
    assert api("POST", f"/movies/{m['id']}/restore").status_code == 201
    assert_error(api("POST", f"/movies/{m['id']}/restore"), 409)  # restored already
    assert_error(api("POST", f"/movies/{m['id']}/restore", data="{}", content_type="application/json"), 400)


def test_ids_stay_unique_a_new_record_never_takes_a_deleted_ones_id(api):
    first = new_movie(api, "First")
    newest = new_movie(api, "Newest")
    assert api("DELETE", f"/movies/{newest['id']}").status_code == 200
    later = new_movie(api, "Later")
    assert later["id"] > newest["id"]  # SQLite too: AUTOINCREMENT
    assert api("POST", f"/movies/{newest['id']}/restore").status_code == 201
    after = new_movie(api, "After the restore")
    assert after["id"] not in {first["id"], newest["id"], later["id"]}


def test_a_concurrent_delete_and_restore_end_in_one_consistent_state(app, producer, api):
    for round_ in range(6):
        m = new_movie(api, f"Contested {round_}")
        if round_ % 2:  # half the rounds start from a deleted movie
            assert api("DELETE", f"/movies/{m['id']}").status_code == 200
        barrier = threading.Barrier(2)
        outcome: dict[str, int] = {}

        def send(method, path, name, barrier=barrier, outcome=outcome):
            client = app.test_client()
            barrier.wait(timeout=10)
            outcome[name] = client.open(path, method=method, headers=producer).status_code

        threads = [threading.Thread(target=send, args=("DELETE", f"/movies/{m['id']}", "delete")),
                   threading.Thread(target=send, args=("POST", f"/movies/{m['id']}/restore", "restore"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert set(outcome.values()) <= {200, 201, 404, 409}, outcome
        exists = api("GET", f"/movies/{m['id']}").status_code == 200
        last = entries(api, f"/movies/{m['id']}/history")[0]["action"]
        assert last == ("restored" if exists else "deleted") or (exists and last == "created"), (outcome, last)
        if outcome["restore"] == 201 and outcome["delete"] == 404:
            assert exists
        if outcome["delete"] == 200 and outcome["restore"] == 409:
            assert not exists


# --- operations ------------------------------------------------------------------------------------------------


def test_the_purge_command_deletes_entries_older_than_a_date(app, api):
    new_movie(api)
    with app.app_context():
        db.session.execute(history.update().values(at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
        db.session.commit()
    new_actor(api)
    result = app.test_cli_runner().invoke(args=["purge-history", "--before", "2021-01-01"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 history entries" in result.output
    assert [e["action"] for e in entries(api)] == ["created"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(history)) == 1
    refused = app.test_cli_runner().invoke(args=["purge-history", "--before", "soon"])
    assert refused.exit_code != 0


@pytest.mark.parametrize("instant", ["1280-01-06T19:50:42.804+22:36", "0001-01-01T00:00:00+01:00",
                                     "9999-12-31T23:59:59-05:00", "2026-01-01t00:00:00z", "2016-12-31T23:59:60Z"])
def test_any_rfc_3339_instant_is_a_valid_filter(api, instant):
    """Offsets past PostgreSQL's ±15:59, leap seconds, lower-case letters and the first and last years."""
    new_movie(api)
    for name in ("since", "until"):
        response = api("GET", "/history", query_string={name: instant})
        assert response.status_code == 200, response.json


def test_writes_run_as_many_statements_whatever_the_size_of_the_cast(api, count_statements):
    """The history costs a constant number of statements per write: one read of the other side's records
    and one insert of every entry, however many records a change touches."""
    actors = [new_actor(api, f"Actor {i}")["id"] for i in range(20)]
    counts = {}
    for size in (1, 10):
        cast = actors[:size]
        with count_statements() as created:
            movie = new_movie(api, f"Cast of {size}", actor_ids=cast)
        with count_statements() as recast:
            assert api("PATCH", f"/movies/{movie['id']}", json={"actor_ids": actors[10:10 + size]}).status_code == 200
        with count_statements() as deleted:
            assert api("DELETE", f"/movies/{movie['id']}").status_code == 200
        with count_statements() as restored:
            assert api("POST", f"/movies/{movie['id']}/restore").status_code == 201
        counts[size] = (created(), recast(), deleted(), restored())
    assert counts[1] == counts[10], counts


def test_restore_of_a_record_deleted_outside_the_api_is_a_404(app, api):
    """The newest entry of a movie deleted with SQL is no delete: there is no snapshot to undo, and restoring from
    an older entry would bring back a title it no longer had (a 201 with "Old title")."""
    m = new_movie(api, "Old title")
    assert api("PATCH", f"/movies/{m['id']}", json={"title": "New title"}).status_code == 200
    with app.app_context():
        db.session.execute(text("DELETE FROM movies WHERE id = :id"), {"id": m["id"]})
        db.session.commit()
    start = len(entries(api))
    body = assert_error(api("POST", f"/movies/{m['id']}/restore"), 404)
    assert "no deleted movie" in body["message"]
    assert row_counts(app) == (0, 0, 0) and len(entries(api)) == start
    a = new_actor(api, "Gone", 40, "f")
    with app.app_context():
        db.session.execute(text("DELETE FROM actors WHERE id = :id"), {"id": a["id"]})
        db.session.commit()
    assert_error(api("POST", f"/actors/{a['id']}/restore"), 404)


def test_a_purge_changes_the_history_lists_etags(app, api):
    """A purge bumps the catalogue version: a history list revalidated afterwards is a 200 without the purged
    entries, never a 304 showing them still."""
    m = new_movie(api)
    with app.app_context():
        db.session.execute(history.update().values(at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
        db.session.commit()
    a = new_actor(api)
    tags = {path: api("GET", path).headers["ETag"] for path in ("/history", f"/movies/{m['id']}/history")}
    assert all(api("GET", path, headers={"If-None-Match": tag}).status_code == 304 for path, tag in tags.items())
    result = app.test_cli_runner().invoke(args=["purge-history", "--before", "2021-01-01"])
    assert result.exit_code == 0, result.output
    listed = api("GET", "/history", headers={"If-None-Match": tags["/history"]})
    assert listed.status_code == 200 and [e["record"]["id"] for e in listed.json["history"]] == [a["id"]]
    own = api("GET", f"/movies/{m['id']}/history", headers={"If-None-Match": tags[f"/movies/{m['id']}/history"]})
    assert own.status_code == 200 and own.json["history"] == []
