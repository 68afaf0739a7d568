"""Imports beside single writes on the same records, at once: every answer an honest one (no 5xx), each import
written whole or not at all, and the history still explaining every record's state. Bounded in time and in
count; the counts are printed (`pytest -s`)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

from tests.api.test_imports import csv_text
from tests.utils.records import new_actor, new_movie

SECONDS = 6
ROUNDS = 200  # per client, at most


def test_imports_and_single_writes_on_the_same_records_give_only_honest_answers(app, api, producer):
    actors = [new_actor(api, f"Actor {n}", 30, "female") for n in range(40)]
    movies = [new_movie(api, f"Movie {n}", "2020-01-01") for n in range(8)]
    ids = [actor["id"] for actor in actors]
    answers: dict[str, Counter] = {name: Counter() for name in ("import actors", "import castings", "patch",
                                                                 "cast", "delete", "restore")}
    imports: list[tuple[str, dict]] = []  # (status, report) of each import answered
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS
    random_ = random.Random(23)

    def record(kind: str, response) -> None:
        with lock:
            answers[kind][response.status_code] += 1
            if kind.startswith("import") and response.json and "import" in response.json:
                imports.append((response.status_code, response.json["import"]))

    def client(work) -> None:
        session = app.test_client()
        for round_ in range(ROUNDS):
            if time.monotonic() > deadline:
                return
            work(session, round_)

    def import_actors(session, round_):
        rows = [f"{actor_id},Actor {n},{30 + round_ % 50},female" for n, actor_id in enumerate(ids)]
        response = session.post("/imports?type=actors&match=id", data=csv_text("id,name,age,gender", *rows),
                                headers={**producer, "Content-Type": "text/csv"})
        record("import actors", response)

    def import_castings(session, round_):
        movie = movies[round_ % len(movies)]["id"]
        chosen = random_.sample(ids, 5)
        rows = [f"{movie},{actor_id},Role {round_}," for actor_id in chosen]  # no billing: none to collide on
        response = session.post("/imports?type=castings&match=id",
                                data=csv_text("movie_id,actor_id,character,billing", *rows),
                                headers={**producer, "Content-Type": "text/csv"})
        record("import castings", response)

    def single_writes(session, round_):
        actor_id, movie_id = random_.choice(ids), random_.choice(movies)["id"]
        record("patch", session.patch(f"/actors/{actor_id}", json={"name": f"Renamed {round_}"}, headers=producer))
        record("cast", session.put(f"/movies/{movie_id}/actors/{actor_id}", headers=producer))

    def deletes(session, round_):
        actor_id = random_.choice(ids)
        record("delete", session.delete(f"/actors/{actor_id}", headers=producer))
        record("restore", session.post(f"/actors/{actor_id}/restore", headers=producer))

    threads = [threading.Thread(target=client, args=(work,))
               for work in (import_actors, import_castings, single_writes, deletes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 60)
    assert not any(thread.is_alive() for thread in threads), "a client did not finish"
    print("\n" + "; ".join(f"{kind}: {dict(counts)}" for kind, counts in answers.items()))

    honest = {"import actors": {200, 409, 422}, "import castings": {200, 409, 422}, "patch": {200, 404, 409},
              "cast": {200, 404, 409}, "delete": {200, 404, 409}, "restore": {201, 404, 409}}
    for kind, counts in answers.items():
        assert set(counts) <= honest[kind], (kind, counts)
        assert sum(counts.values()) > 0, kind
    assert answers["import actors"][200] > 0 and answers["import castings"][200] > 0
    # An import answered 200 wrote exactly what it reports, under its request id; one refused wrote nothing.
    for status, report in imports:
        entries = api("GET", f"/history?per_page=1&request_id={report['request_id']}").json["total"]
        if status != 200:
            assert entries == 0, report
        elif report["type"] == "actors":
            assert entries == report["updated"] + report["created"], report
        else:
            assert (entries == 0) == (report["created"] + report["updated"] == 0), report
    # Every record is what its newest history entry says it became.
    for actor_id in ids:
        current = api("GET", f"/actors/{actor_id}")
        newest = api("GET", f"/actors/{actor_id}/history?per_page=1").json["history"][0]
        if current.status_code == 404:
            assert newest["action"] == "deleted"
            continue
        shown = current.json["actor"]
        assert newest["after"]["name"] == shown["name"] and newest["after"]["age"] == shown["age"]
        assert newest["after"]["movie_ids"] == sorted(movie["id"] for movie in shown["movies"]), actor_id


def test_a_record_changed_between_the_imports_read_and_its_lock_makes_it_decide_again(app, api, producer, client,
                                                                                      monkeypatch):
    """PostgreSQL (SQLite's write lock keeps any other writer out from the start): the import reads without locks;
    a PATCH that commits before the import locks the record makes it run again, and the second run decides from
    the record as the PATCH left it, never from the stale read."""
    from casting.catalogue import matching
    from models import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            import pytest

            pytest.skip("SQLite holds its write lock from the import's first statement")
    dev = new_actor(api, "Dev Patel", 36, "male")
    found, runs = matching.found, []

    def then_someone_patches(side, match, keys):
        read = found(side, match, keys)
        runs.append(read)
        if len(runs) == 1:  # another client, in a thread of its own (its own contexts and connection)
            answers = []
            patch = threading.Thread(target=lambda: answers.append(app.test_client().patch(
                f"/actors/{dev['id']}", json={"age": 37}, headers=producer).status_code))
            patch.start()
            patch.join(timeout=30)
            assert answers == [200]
        return read

    monkeypatch.setattr(matching, "found", then_someone_patches)
    response = client.post("/imports?type=actors", data=csv_text("name,age,gender", "Dev Patel,37,male"),
                           headers={**producer, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.json
    assert len(runs) == 2  # read, found changed under the lock, read again
    # The PATCH already made Dev 37: the import, deciding again, changes nothing and records nothing (deciding
    # from its first read, it would have "updated" 37 to 37 with an entry saying so).
    report = response.json["import"]
    assert (report["updated"], report["unchanged"]) == (0, 1)
    assert api("GET", f"/history?request_id={report['request_id']}").json["total"] == 0
    assert api("GET", f"/actors/{dev['id']}").json["actor"]["age"] == 37
