"""Idempotency-Key (idempotency.py): a retry replays the first outcome and writes nothing; keys per
subject, reuse for another request, keys in use, expiry and purging."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import insert, select, text

from casting.web import idempotency
from models import db, idempotency_keys
from tests.utils.asserters import assert_error, etag_of
from tests.utils.records import new_actor, new_movie, row_counts

# --- Idempotency-Key -----------------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_replays_the_first_outcome_and_writes_nothing(api, app):
    body = {"name": "Once Only", "age": 30, "gender": "female"}
    first = api("POST", "/actors", json=body, headers={"Idempotency-Key": "create-once-1"})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = api("POST", "/actors", json=body, headers={"Idempotency-Key": "create-once-1"})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"] and again.headers["ETag"] == first.headers["ETag"]
    assert row_counts(app) == (0, 1, 0)
    other = api("POST", "/actors", json=body, headers={"Idempotency-Key": "create-once-2"})
    assert other.status_code == 201 and other.json["actor"]["id"] != first.json["actor"]["id"]
    assert row_counts(app) == (0, 2, 0)


def test_keys_belong_to_one_token_subject(api, client, headers, app):
    body = {"name": "Shared Key", "age": 30, "gender": "female"}
    mine = client.post("/actors", json=body, headers={**headers("casting-director", sub="auth0|a"),
                                                      "Idempotency-Key": "same"})
    theirs = client.post("/actors", json=body, headers={**headers("casting-director", sub="auth0|b"),
                                                        "Idempotency-Key": "same"})
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert row_counts(app) == (0, 2, 0)


@pytest.mark.parametrize("change", ["body", "path", "method"])
def test_the_same_key_for_another_request_is_422(api, app, change):
    movie = new_movie(api)
    key = {"Idempotency-Key": f"reused-{change}"}
    assert api("PATCH", f"/movies/{movie['id']}", json={"title": "One"}, headers=key).status_code == 200
    other_movie = new_movie(api, "Another")
    method, path, body = "PATCH", f"/movies/{movie['id']}", {"title": "One"}
    if change == "body":
        body = {"title": "Two"}
    elif change == "path":
        path = f"/movies/{other_movie['id']}"
    else:
        method, body = "DELETE", None
    refused = assert_error(api(method, path, json=body, headers=key), 422, "Idempotency-Key")
    assert "another request" in refused["message"]
    assert [m["title"] for m in api("GET", "/movies").json["movies"]] == ["One", "Another"]


def test_a_kept_error_is_replayed_and_errors_a_retry_could_change_are_not_kept(api, app):
    refused = api("POST", "/movies", json={"title": ""}, headers={"Idempotency-Key": "bad-body"})
    assert_error(refused, 422, "title")
    replayed = api("POST", "/movies", json={"title": ""}, headers={"Idempotency-Key": "bad-body"})
    assert replayed.status_code == 422 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json == refused.json

    movie = new_movie(api)
    stale = {"If-Match": '"stale"', "Idempotency-Key": "precondition"}
    assert_error(api("PATCH", f"/movies/{movie['id']}", json={"title": "X"}, headers=stale), 412)
    current = etag_of(api("GET", f"/movies/{movie['id']}"))
    retried = api("PATCH", f"/movies/{movie['id']}", json={"title": "X"},
                  headers={"If-Match": current, "Idempotency-Key": "precondition"})
    assert retried.status_code == 200 and "Idempotent-Replayed" not in retried.headers
    with app.app_context():
        kept = {row.key: row.status for row in db.session.execute(select(idempotency_keys))}
    assert kept == {"bad-body": 422, "precondition": 200}


@pytest.mark.parametrize("value", ["", " ", "x" * 256, "clé", "tab\there", "line\x7f"])
def test_an_unusable_key_is_400_naming_the_header(api, app, value):
    response = api("POST", "/actors", json={"name": "N", "age": 1, "gender": "f"},
                   headers={"Idempotency-Key": value})
    assert_error(response, 400, "Idempotency-Key")
    assert row_counts(app) == (0, 0, 0)


def test_the_longest_key_is_fine(api):
    key = "k" * 255
    body = {"name": "Long Key", "age": 1, "gender": "f"}
    assert api("POST", "/actors", json=body, headers={"Idempotency-Key": key}).status_code == 201
    assert api("POST", "/actors", json=body, headers={"Idempotency-Key": key}).headers["Idempotent-Replayed"] == "true"


def test_a_replay_writes_no_new_key_and_the_deleted_record_stays_deleted(api, app):
    movie = new_movie(api)
    key = {"Idempotency-Key": "delete-it"}
    first = api("DELETE", f"/movies/{movie['id']}", headers=key)
    assert first.status_code == 200
    again = api("DELETE", f"/movies/{movie['id']}", headers=key)
    assert again.status_code == 200 and again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert_error(api("DELETE", f"/movies/{movie['id']}"), 404)  # without the key it is a new request


def insert_kept_outcome(app, key: str, age: dt.timedelta, subject: str = "local|executive-producer") -> None:
    with app.app_context():
        db.session.execute(insert(idempotency_keys).values(
            subject=subject, key=key, request_fingerprint="0" * 64, status=201, headers="{}", body=b"{}",
            created_at=dt.datetime.now(dt.UTC) - age))
        db.session.commit()


def kept_keys(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(idempotency_keys.c.key)))


def test_an_expired_key_is_forgotten_and_expired_keys_are_purged_without_a_scheduler(api, app, monkeypatch):
    insert_kept_outcome(app, "old", dt.timedelta(hours=25))
    insert_kept_outcome(app, "older", dt.timedelta(days=3), subject="auth0|someone-else")
    insert_kept_outcome(app, "recent", dt.timedelta(hours=23))
    monkeypatch.setattr(idempotency, "_last_purge", -float("inf"))  # this process has not purged yet
    # "old" was a POST of something else: past 24 hours the key means nothing any more.
    response = api("POST", "/actors", json={"name": "Fresh", "age": 1, "gender": "f"},
                   headers={"Idempotency-Key": "old"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert kept_keys(app) == {"old", "recent"}  # "older" purged; "old" kept anew for this request
    insert_kept_outcome(app, "oldest", dt.timedelta(days=9))
    api("POST", "/actors", json={"name": "Later", "age": 1, "gender": "f"}, headers={"Idempotency-Key": "k2"})
    assert "oldest" in kept_keys(app)  # at most one purge a minute per process


def test_the_purge_command_deletes_expired_keys(app, runner_for):
    insert_kept_outcome(app, "expired", dt.timedelta(hours=30))
    insert_kept_outcome(app, "live", dt.timedelta(hours=1))
    result = runner_for(app).invoke(args=["purge-idempotency-keys"])
    assert result.exit_code == 0, result.output
    assert "1" in result.output
    assert kept_keys(app) == {"live"}
    result = runner_for(app).invoke(args=["purge-idempotency-keys", "--older-than-hours", "0"])
    assert result.exit_code == 0 and kept_keys(app) == set()


@pytest.fixture
def runner_for():
    return lambda app: app.test_cli_runner()


def test_a_key_in_use_is_409_and_the_request_runs_once_it_is_free(api, app):
    """While another request holds the key (its advisory lock), a second one is refused at once."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's advisory locks hold keys; SQLite serializes every write instead")
        subject = "local|executive-producer"
        held = idempotency.Key(subject, "in-flight", "").lock_id
        holder = db.engine.connect()
    try:
        holder.execute(text("SELECT pg_advisory_lock(:id)"), {"id": held})
        busy = api("POST", "/actors", json={"name": "Busy", "age": 1, "gender": "f"},
                   headers={"Idempotency-Key": "in-flight"})
        assert "in progress" in assert_error(busy, 409)["message"]
        assert row_counts(app) == (0, 0, 0)
    finally:
        holder.execute(text("SELECT pg_advisory_unlock_all()"))
        holder.close()
    done = api("POST", "/actors", json={"name": "Busy", "age": 1, "gender": "f"},
               headers={"Idempotency-Key": "in-flight"})
    assert done.status_code == 201 and row_counts(app) == (0, 1, 0)


def test_two_requests_with_one_key_at_once_run_once(app, producer):
    """Threads against one process: whichever gets the key writes; the other is a 409 (PostgreSQL) or, on
    SQLite, waits for the write lock and is answered from the kept outcome."""
    barrier = threading.Barrier(4)
    results = []

    def send():
        client = app.test_client()
        barrier.wait(timeout=10)
        response = client.post("/actors", json={"name": "Racer", "age": 5, "gender": "m"},
                               headers={**producer, "Idempotency-Key": "race"})
        results.append((response.status_code, response.headers.get("Idempotent-Replayed"), response.get_json()))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 4
    fresh = [r for r in results if r[0] == 201 and r[1] is None]
    assert len(fresh) == 1, results
    for response in results:
        assert response[0] == 409 or response == (201, "true", fresh[0][2]) or response is fresh[0], results
    assert row_counts(app) == (0, 1, 0)


# --- what one key stands for (issue 21's surviving mutations) -----------------------------------------------------


def test_the_same_key_for_another_method_alone_is_422_not_a_replay(api, app):
    """PUT then DELETE of one casting, with one key and no body either time: only the method differs. Replaying the
    PUT would answer 200 and leave the actor cast."""
    actor, movie = new_actor(api), new_movie(api)
    key = {"Idempotency-Key": "method-only"}
    path = f"/movies/{movie['id']}/actors/{actor['id']}"
    assert api("PUT", path, headers=key).status_code == 200
    refused = assert_error(api("DELETE", path, headers=key), 422, "Idempotency-Key")
    assert "another request" in refused["message"]
    assert row_counts(app) == (1, 1, 1)
    assert api("DELETE", path, headers={"Idempotency-Key": "method-only-2"}).status_code == 200
    assert row_counts(app) == (1, 1, 0)


def test_the_same_key_with_another_query_is_422_not_a_replay(api, app):
    key = {"Idempotency-Key": "query-too"}
    first = api("POST", "/actors?x=1", json={"name": "Query", "age": 30, "gender": "f"}, headers=key)
    assert first.status_code == 201, first.json
    assert api("POST", "/actors?x=1", json={"name": "Query", "age": 30, "gender": "f"},
               headers=key).headers["Idempotent-Replayed"] == "true"
    refused = api("POST", "/actors?x=2", json={"name": "Query", "age": 30, "gender": "f"}, headers=key)
    assert_error(refused, 422, "Idempotency-Key")
    assert row_counts(app) == (0, 1, 0)


def test_an_expired_key_is_forgotten_even_before_any_purge(api, app, monkeypatch):
    """claim() itself checks the age: the key from 25 hours ago (another request) is neither a 422 nor a replay,
    whether or not this process's purge has run."""
    monkeypatch.setattr(idempotency, "_last_purge", float("inf"))  # no purge in this test
    insert_kept_outcome(app, "yesterday", dt.timedelta(hours=25))
    insert_kept_outcome(app, "today", dt.timedelta(hours=23))
    response = api("POST", "/actors", json={"name": "Fresh", "age": 1, "gender": "f"},
                   headers={"Idempotency-Key": "yesterday"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers, response.json
    assert_error(api("POST", "/actors", json={"name": "Fresh", "age": 1, "gender": "f"},
                     headers={"Idempotency-Key": "today"}), 422, "Idempotency-Key")
    assert row_counts(app) == (0, 1, 0)
    again = api("POST", "/actors", json={"name": "Fresh", "age": 1, "gender": "f"},
                headers={"Idempotency-Key": "yesterday"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == response.json


def test_another_subjects_request_in_flight_with_the_same_key_does_not_hold_mine(api, app):
    """The advisory lock is per subject and key: a key value another user has in flight is not this user's."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's advisory locks hold keys; SQLite serializes every write instead")
        theirs = idempotency.Key("auth0|someone-else", "common-key", "").lock_id
        holder = db.engine.connect()
    try:
        holder.execute(text("SELECT pg_advisory_lock(:id)"), {"id": theirs})
        mine = api("POST", "/actors", json={"name": "Mine", "age": 1, "gender": "f"},
                   headers={"Idempotency-Key": "common-key"})
        assert mine.status_code == 201, mine.json
    finally:
        holder.execute(text("SELECT pg_advisory_unlock_all()"))
        holder.close()
    assert row_counts(app) == (0, 1, 0)
