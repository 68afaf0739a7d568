"""Two gunicorn instances ("dynos") sharing one PostgreSQL database and one Redis: a write through one is read
through the other, the rate-limit budget is shared through Redis, and requests still succeed when Redis is down.
PostgreSQL or Redis unreachable skips these tests, except under CI=true, where they fail."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.utils.asserters import assert_error, retry_after
from tests.utils.gunicorn import Fleet
from tests.utils.postgres import migrate
from tests.utils.processes import free_port
from tests.utils.records import actor_body

# --- two instances, one PostgreSQL, one Redis ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_database(pg, local_pem):
    database = pg.create_database()
    migrate(database, local_pem)
    return database


@pytest.fixture(scope="module")
def two_dynos(shared_database, redis_url, local_pem, tmp_path_factory):
    url, _client = redis_url
    servers = Fleet(tmp_path_factory.mktemp("dynos"))
    try:
        settings = {"DATABASE_URL": shared_database, "REDIS_URL": url, "LOCAL_ISSUER_PRIVATE_KEY": local_pem,
                    "RATE_LIMIT_READS": "10/hour", "WEB_CONCURRENCY": "2"}
        yield servers.gunicorn("dyno-a", **settings), servers.gunicorn("dyno-b", **settings)
    finally:
        servers.close()


def test_a_write_through_one_instance_is_read_through_the_other(two_dynos, local_issuer):
    a, b = two_dynos
    producer = local_issuer.mint("executive-producer", sub=f"writer|{uuid.uuid4().hex}")
    created = a.request("POST", "/movies", producer, json={"title": "Shared State", "release_date": "2020-01-02"})
    assert created.status_code == 201, created.text
    movie = created.json()["movie"]
    seen = b.request("GET", f"/movies/{movie['id']}", producer)
    assert seen.status_code == 200 and seen.json()["movie"] == movie, seen.text

    actor = b.request("POST", "/actors", producer, json={**actor_body("Across Dynos"), "movie_ids": [movie["id"]]})
    assert actor.status_code == 201, actor.text
    cast = a.request("GET", f"/movies/{movie['id']}", producer)
    assert cast.status_code == 200, cast.text
    assert cast.json()["movie"]["actors"] == [{"id": actor.json()["actor"]["id"], "name": "Across Dynos"}]


def test_no_instance_answers_304_for_a_record_changed_through_another_or_in_sql(two_dynos, local_issuer,
                                                                               shared_database):
    """A record's ETag is made from versions its row carries (migration 0011): a change through one instance, an
    actor's rename included, or one made in SQL, is seen by the other's next revalidation, never a stale 304."""
    a, b = two_dynos
    producer = local_issuer.mint("executive-producer", sub=f"revalidator|{uuid.uuid4().hex}")
    actor = a.request("POST", "/actors", producer, json=actor_body("Before Rename")).json()["actor"]
    movie = a.request("POST", "/movies", producer, json={"title": "Revalidated", "release_date": "2020-01-02",
                                                          "actor_ids": [actor["id"]]}).json()["movie"]
    path = f"/movies/{movie['id']}"
    tag = a.request("GET", path, producer).headers["ETag"]
    assert a.request("GET", path, producer, headers={"If-None-Match": tag}).status_code == 304
    assert b.request("PATCH", f"/actors/{actor['id']}", producer, json={"name": "After Rename"}).status_code == 200
    fresh = a.request("GET", path, producer, headers={"If-None-Match": tag})
    assert fresh.status_code == 200 and fresh.json()["movie"]["actors"][0]["name"] == "After Rename", fresh.text
    tag = fresh.headers["ETag"]
    engine = create_engine(shared_database, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE actors SET name = 'Renamed in SQL' WHERE id = :id"), {"id": actor["id"]})
    finally:
        engine.dispose()
    for dyno in (a, b):
        fresh = dyno.request("GET", path, producer, headers={"If-None-Match": tag})
        assert fresh.status_code == 200 and fresh.json()["movie"]["actors"][0]["name"] == "Renamed in SQL"
    now = fresh.headers["ETag"]
    assert [dyno.request("GET", path, producer, headers={"If-None-Match": now}).status_code
            for dyno in (a, b)] == [304, 304]


def test_the_rate_limit_budget_is_shared_through_redis(two_dynos, local_issuer, redis_url):
    a, b = two_dynos
    _url, client = redis_url
    subject = f"limited|{uuid.uuid4().hex}"
    token = local_issuer.mint("casting-assistant", sub=subject)
    responses = [(a, b)[i % 2].request("GET", "/movies", token) for i in range(20)]
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * 10 + [429] * 10, statuses
    for response in responses[10:]:
        assert_error(response, 429)
        assert 1 <= retry_after(response) <= 3600
    # The budget really lives in Redis, keyed by the token's subject.
    keys = [key.decode() for key in client.scan_iter(count=1000)]
    assert any(subject in key for key in keys), keys
    # Another subject still has its own budget, on either instance.
    other = local_issuer.mint("casting-assistant", sub=f"other|{uuid.uuid4().hex}")
    assert a.request("GET", "/movies", other).status_code == 200
    assert b.request("GET", "/movies", other).status_code == 200


def test_requests_still_succeed_when_redis_is_down(fleet, shared_database, local_pem, local_issuer):
    closed = free_port()  # nothing listens there
    server = fleet.gunicorn("dyno-no-redis", DATABASE_URL=shared_database, LOCAL_ISSUER_PRIVATE_KEY=local_pem,
                            REDIS_URL=f"redis://127.0.0.1:{closed}/0")
    token = local_issuer.mint("casting-director", sub=f"no-redis|{uuid.uuid4().hex}")
    for i in range(12):
        started = time.monotonic()
        if i % 4 == 3:
            response = server.request("POST", "/actors", token, json=actor_body(f"Fail Open {i}"))
            expected = 201
        else:
            response = server.request("GET", "/actors", token)
            expected = 200
        assert time.monotonic() - started < 3, f"request {i} took too long with Redis down"
        assert response.status_code == expected, (i, response.status_code, response.text[:300])
    assert server.request("GET", "/ready").status_code == 200


def test_leased_budgets_never_admit_past_the_limit_across_processes(fleet, shared_database, local_pem, local_issuer,
                                                                    redis_url):
    """Four processes (two instances of two workers) lease a budget of 400 from Redis in slices of 4: however
    the requests spread over them, no more than 400 are admitted, at most 4 x 3 fewer (requests leased by one
    process and not spent there), and Redis is asked once a slice, not once a request."""
    url, client = redis_url
    settings = {"DATABASE_URL": shared_database, "REDIS_URL": url, "LOCAL_ISSUER_PRIVATE_KEY": local_pem,
                "RATE_LIMIT_READS": "400/hour", "WEB_CONCURRENCY": "2"}
    dynos = [fleet.gunicorn("leasing-a", **settings), fleet.gunicorn("leasing-b", **settings)]
    subject = f"leased|{uuid.uuid4().hex}"
    token = local_issuer.mint("casting-assistant", sub=subject)
    statuses = Counter()
    admitted_by = Counter()
    for i in range(460):  # a new connection each: the kernel spreads them over each instance's workers
        dyno = dynos[i % 2]
        status = dyno.request("GET", "/movies", token).status_code
        statuses[status] += 1
        if status == 200:
            admitted_by[i % 2] += 1
    assert set(statuses) <= {200, 429}, statuses
    assert 400 - 4 * 3 <= statuses[200] <= 400, statuses
    assert admitted_by[0] and admitted_by[1]
    leased = [int(client.get(key)) for key in client.scan_iter(count=1000) if subject in key.decode()]
    # Slices of 4 (at most one more per process once the budget is gone): about 100 commands, not 460.
    assert len(leased) == 1 and 400 <= leased[0] <= 400 + 4 * 4, leased
