"""Safe writes, in process: ETags and conditional requests, Idempotency-Key, and the retrying transaction.

The races and faults under gunicorn on PostgreSQL (collisions, killed connections) are in
test_concurrency.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading

import pytest
from sqlalchemy import func, insert, select, text

import idempotency
import transactions
from conftest import assert_error, new_actor, new_movie, row_counts
from models import db, idempotency_keys


def etag_of(response) -> str:
    etag = response.headers.get("ETag")
    assert etag and etag.startswith('"') and etag.endswith('"') and len(etag) > 10, etag
    return etag


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
    assert etag_of(recast) == etag_of(patched)  # back to the same representation
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


# --- the retrying transaction --------------------------------------------------------------------------------


@pytest.fixture
def racy_app(make_app, _schema):
    """An app with a write route that fails with a given SQLSTATE, raised by PostgreSQL itself, on its
    first `fail` attempts."""
    racy = make_app()
    calls = {"count": 0, "fail": 0, "code": "40P01"}

    @racy.post("/racy")
    @transactions.safe_write
    def racy_write():
        calls["count"] += 1
        if calls["count"] <= calls["fail"]:
            raise_it = f"DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '{calls['code']}'; END $$"
            db.session.execute(text(raise_it))
        transactions.changed()
        return {"success": True, "attempt": calls["count"]}

    with racy.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the database raises the SQLSTATE itself: PostgreSQL only")
    return racy, calls


@pytest.mark.parametrize("code", ["40P01", "40001", "55P03"])
def test_a_deadlock_or_serialization_failure_is_retried_inside_the_server(racy_app, code):
    racy, calls = racy_app
    calls.update(fail=2, code=code)
    response = racy.test_client().post("/racy")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["attempt"] == 3 == calls["count"]


def test_a_race_that_keeps_failing_is_a_409_after_a_bounded_number_of_attempts(racy_app, app):
    racy, calls = racy_app
    calls.update(fail=100, code="40P01")
    with app.app_context():
        before = db.session.scalar(text("SELECT version FROM catalogue_version"))
    response = racy.test_client().post("/racy")
    assert_error(response, 409)
    assert calls["count"] == transactions.MAX_ATTEMPTS
    with app.app_context():
        assert db.session.scalar(text("SELECT version FROM catalogue_version")) == before  # nothing written


def test_other_database_errors_are_not_retried(racy_app):
    racy, calls = racy_app
    calls.update(fail=100, code="22012")  # division_by_zero: a bug, not a race
    response = racy.test_client().post("/racy")
    assert_error(response, 500)
    assert calls["count"] == 1


def test_a_failing_session_close_never_reaches_the_response(make_app, _schema, monkeypatch, caplog):
    """The teardown that closes the request's session runs after the response is built: when it fails
    (a rollback on a connection that died), it is logged and the connection discarded, never raised."""
    closing = make_app()

    @closing.get("/close-fails")
    def close_fails():
        db.session.execute(text("SELECT 1"))
        session = db.session()

        def broken_close():
            raise RuntimeError("the connection died during the rollback")

        monkeypatch.setattr(session, "close", broken_close)
        return {"success": True}

    response = closing.test_client().get("/close-fails")
    assert response.status_code == 200 and response.get_json() == {"success": True}
    assert "closing the database session failed" in caplog.text


def test_the_access_log_has_the_status_of_a_replay(api, access_lines_for):
    """The access log writes the status the client got, for a replayed write too."""
    with access_lines_for() as lines:
        codes = [api("POST", "/actors", json={"name": "L", "age": 1, "gender": "f"},
                     headers={"Idempotency-Key": "logged"}).status_code for _ in range(2)]
    assert [entry["status"] for entry in lines if entry["path"] == "/actors"] == codes == [201, 201]


@pytest.fixture
def access_lines_for(caplog):
    import logging

    @contextlib.contextmanager
    def capture():
        entries: list[dict] = []
        with caplog.at_level(logging.INFO, logger="casting.access"):
            yield entries
            entries.extend(record.fields for record in caplog.records if record.name == "casting.access")

    return capture


def test_catalogue_version_counts_changes(api, app):
    def version():
        with app.app_context():
            return db.session.scalar(text("SELECT version FROM catalogue_version"))

    start = version()
    actor = new_actor(api)
    created = version()
    api("PATCH", f"/actors/{actor['id']}", json={"age": 50})
    changed = version()
    api("PATCH", f"/actors/{actor['id']}", json={})
    assert start < created < changed == version()  # the PATCH that changed nothing left it alone
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(idempotency_keys)) == 0
