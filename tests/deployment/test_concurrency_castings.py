"""Issue 22's castings under collision, for real: gunicorn with the Procfile's settings (4 workers) on PostgreSQL, two
directors on one movie at once, one reordering its whole cast, the other changing characters one casting at a time.

The building blocks are tests/test_concurrency.py's (its scratch database, the fleet of gunicorn servers, its client
calls and pool), imported, not copied. The load is bounded in time and in count, and what came back is counted
(`pytest -s` shows the counts). PostgreSQL is required: unreachable, the test skips, except under CI=true, where it
fails.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from itertools import pairwise

import requests
from sqlalchemy import text

from tests.deployment import test_concurrency
from tests.deployment.test_concurrency import SERVER, call, is_json, run_clients

database = test_concurrency.database  # its fixture: a scratch database, migrated

SECONDS = 5  # of load
MAX_REQUESTS = 2000  # per client, whatever the time
CAST = 6


def test_a_reorder_and_character_edits_at_once_answer_honestly_and_leave_the_last_committed_cast(
        database, pg, fleet, local_pem, local_issuer):
    """For SECONDS, director one keeps replacing the movie's cast with PUT /movies/{id}/cast: a random order, the first
    k billed 1..k and the rest unbilled, the characters as its last answer showed them, no If-Match. Director two keeps
    changing one actor's character with the casting's PUT: every other time with If-Match (the movie's ETag as just
    read, with the billing read then), else without (the character alone, which also clears that actor's billing).

    Every answer is JSON and a 200, 409 (nothing written, retry) or 412 (If-Match stale): never a 404, a 422 or a 5xx.
    Each director gets changes through. Afterwards the table holds no two castings of the movie with one billing, and
    the movie's history, in commit order, is a chain: each change starts from the cast the one before it left, and
    each 200 that changed something carried the cast its entry kept (found by the answer's X-Request-ID). The movie
    is what the last committed change answered: this very cast, in this order, with these characters and billings,
    and that answer's ETag."""
    server = fleet.gunicorn("cast-collisions", DATABASE_URL=database, LOCAL_ISSUER_PRIVATE_KEY=local_pem, **SERVER)
    producer = local_issuer.mint("executive-producer", name="Setup")
    one = local_issuer.mint("casting-director", name="Director One")
    two = local_issuer.mint("casting-director", name="Director Two")
    with requests.Session() as setup:
        actors = [call(setup, server.url, "POST", "/actors", producer,
                       json={"name": f"Actor {n}", "age": 30 + n, "gender": "female"}).json()["actor"]["id"]
                  for n in range(CAST)]
        created = call(setup, server.url, "POST", "/movies", producer, json={
            "title": "Echoes of June", "release_date": "2024-06-21",
            "cast": [{"actor_id": a, "character": f"Role {n}", "billing": n + 1} for n, a in enumerate(actors)]})
        assert created.status_code == 201, created.text
        movie = created.json()["movie"]
    path = f"/movies/{movie['id']}"

    deadline = time.monotonic() + SECONDS
    answers: list[tuple[str, int, str | None, str | None, dict]] = []  # who, status, request id, ETag, body
    lock = threading.Lock()

    def keep(who: str, response: requests.Response) -> dict:
        assert is_json(response), (who, response.status_code, response.text[:300])
        body = response.json()
        with lock:
            answers.append((who, response.status_code, response.headers.get("X-Request-ID"),
                            response.headers.get("ETag"), body))
        return body

    def reorderer() -> None:
        rng = random.Random(1)
        characters = {a["id"]: a.get("character") for a in movie["actors"]}
        with requests.Session() as session:
            for _ in range(MAX_REQUESTS):
                if time.monotonic() > deadline:
                    return
                order = rng.sample(actors, len(actors))
                billed = rng.randint(0, len(order))
                cast = [{"actor_id": a, **({"character": characters[a]} if characters[a] else {}),
                         **({"billing": n + 1} if n < billed else {})} for n, a in enumerate(order)]
                body = keep("reorder", call(session, server.url, "PUT", f"{path}/cast", one, json={"cast": cast}))
                if "movie" in body:
                    characters = {a["id"]: a.get("character") for a in body["movie"]["actors"]}

    def character_editor() -> None:
        rng = random.Random(2)
        with requests.Session() as session:
            for i in range(MAX_REQUESTS):
                if time.monotonic() > deadline:
                    return
                actor = rng.choice(actors)
                character = f"Role {actor}.{i}"
                if i % 2:
                    read = call(session, server.url, "GET", path, two)
                    assert read.status_code == 200, read.text[:300]
                    billing = next((a.get("billing") for a in read.json()["movie"]["actors"] if a["id"] == actor), None)
                    role = {"character": character, **({"billing": billing} if billing else {})}
                    response = call(session, server.url, "PUT", f"{path}/actors/{actor}", two, json=role,
                                    headers={"If-Match": read.headers["ETag"]})
                    keep("character, If-Match", response)
                else:
                    keep("character", call(session, server.url, "PUT", f"{path}/actors/{actor}", two,
                                           json={"character": character}))

    clients = [reorderer, character_editor]
    run_clients(len(clients), lambda n: clients[n](), 120)

    counts = Counter((who, status) for who, status, *_ in answers)
    print(f"\ncast collisions: {len(answers)} writes in {SECONDS} s: "
          + ", ".join(f"{who} {status}: {count}" for (who, status), count in sorted(counts.items())))
    statuses = Counter(status for _, status, *_ in answers)
    assert set(statuses) <= {200, 409, 412}, statuses
    assert counts[("character", 412)] == 0, "no If-Match, no 412"
    assert counts[("reorder", 412)] == 0, "no If-Match, no 412"
    # Both directors got changes through; the If-Match edits were sent (most meet a reorder in between: 412).
    assert counts[("reorder", 200)] >= 3 and counts[("character", 200)] >= 3, counts
    assert sum(count for (who, _), count in counts.items() if who == "character, If-Match") >= 3, counts
    assert len(answers) <= 2 * MAX_REQUESTS

    engine = pg.engine_for(database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT actor_id, billing FROM movie_actors WHERE movie_id = :m"),
                                {"m": movie["id"]}).all()
    finally:
        engine.dispose()
    assert sorted(actor for actor, _ in rows) == sorted(actors), "every actor is still cast"
    billings = [billing for _, billing in rows if billing is not None]
    assert len(billings) == len(set(billings)), f"two castings share a billing: {rows}"

    # The movie's history, oldest first: the changes in commit order (both writes lock the movie first, so their
    # entries are numbered as they commit). Each change starts from the cast the one before left (no change was lost
    # or made on a stale cast), each 200 that changed something carried the cast its entry kept, and the movie now is
    # what the newest one left.
    entries, page = [], 1
    with requests.Session() as session:
        now = call(session, server.url, "GET", path, producer)
        while True:
            listed = call(session, server.url, "GET", f"{path}/history", producer,
                          params={"per_page": 100, "page": page}).json()
            entries += listed["history"]
            if page * 100 >= listed["total"]:
                break
            page += 1
    assert now.status_code == 200
    entries.sort(key=lambda entry: entry["id"])
    assert entries[0]["action"] == "created" and all(entry["action"] == "updated" for entry in entries[1:])
    for earlier, later in pairwise(entries):
        assert later["before"]["actors"] == earlier["after"]["actors"], (earlier["id"], later["id"])
    by_request = {entry["request_id"]: entry for entry in entries}
    committed = [(who, request_id, etag, body) for who, status, request_id, etag, body in answers
                 if status == 200 and request_id in by_request]
    for who, request_id, _, body in committed:
        assert body["movie"]["actors"] == by_request[request_id]["after"]["actors"], (who, request_id)
    unchanged = counts[("reorder", 200)] + counts[("character", 200)] + counts[("character, If-Match", 200)] \
        - len(committed)
    newest = entries[-1]
    last = [(who, etag, body) for who, request_id, etag, body in committed if request_id == newest["request_id"]]
    assert len(last) == 1, f"the newest entry's request {newest['request_id']} is no 200 answer of the run"
    who, etag, body = last[0]
    assert now.json()["movie"] == body["movie"], (who, now.json()["movie"], body["movie"])
    assert now.headers["ETag"] == etag
    assert newest["by"]["name"] == ("Director One" if who == "reorder" else "Director Two")
    if who == "reorder":
        assert sorted(billings) == list(range(1, len(billings) + 1)), billings
    print(f"cast collisions: {len(entries) - 1} changes committed, in a chain; {unchanged} 200s changed nothing; the "
          f"last was {who}'s (request {newest['request_id']}); {len(billings)} of {len(rows)} castings billed")
