"""The database goes away and comes back: gunicorn on a throwaway PostgreSQL cluster of its own (initdb, pg_ctl, as
`postgres` when run as root) answers a fast 503 with Retry-After while it is down, keeps /health up, and recovers
without a restart once it is back, with every acknowledged write kept and none of the refused ones."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.utils.asserters import assert_error, retry_after
from tests.utils.clusters import Cluster, required_bindir
from tests.utils.postgres import migrate
from tests.utils.records import actor_body


@pytest.fixture
def cluster():
    """A throwaway PostgreSQL cluster of its own (tests/utils/clusters.py), removed afterwards."""
    made = Cluster(required_bindir())
    try:
        made.initdb()
        made.start()
        yield made
    finally:
        made.remove()


# --- the database goes away and comes back ---------------------------------------------------------------------


def test_database_outage_is_a_fast_503_and_recovers_without_a_restart(cluster, fleet, local_pem, local_issuer):
    migrate(cluster.url, local_pem)
    server = fleet.gunicorn("dyno-outage", DATABASE_URL=cluster.url, LOCAL_ISSUER_PRIVATE_KEY=local_pem,
                            WEB_CONCURRENCY="2")
    token = local_issuer.mint("casting-director", sub=f"outage|{uuid.uuid4().hex}")
    acknowledged: dict[int, str] = {}
    for i in range(6):
        response = server.request("POST", "/actors", token, json=actor_body(f"Survivor {i}"))
        assert response.status_code == 201, response.text
        acknowledged[response.json()["actor"]["id"]] = f"Survivor {i}"
    some_id = next(iter(acknowledged))

    cluster.stop("immediate")
    api_calls = [
        ("GET", "/actors", None), ("GET", f"/actors/{some_id}", None), ("GET", "/movies", None),
        ("GET", f"/actors/{some_id}/movies", None), ("POST", "/actors", actor_body("Lost While Down")),
        ("PATCH", f"/actors/{some_id}", {"age": 41}), ("DELETE", f"/actors/{some_id}", None),
    ]
    for _round in range(3):  # a few rounds, so that both workers meet the outage
        for method, path, body in api_calls:
            started = time.monotonic()
            response = server.request(method, path, token, json=body)
            elapsed = time.monotonic() - started
            assert elapsed < 3, f"{method} {path} took {elapsed:.1f} s with the database down"
            assert_error(response, 503)
            retry_after(response)
        started = time.monotonic()
        ready = server.request("GET", "/ready")
        assert time.monotonic() - started < 3
        assert_error(ready, 503)
        retry_after(ready)
        health = server.request("GET", "/health")
        assert health.status_code == 200 and health.json() == {"status": "ok"}

    cluster.start()
    deadline = time.monotonic() + 20
    statuses: list[int] = []
    while time.monotonic() < deadline:
        statuses = [server.request("GET", "/actors", token, timeout=5).status_code for _ in range(4)]
        if statuses == [200] * 4:
            break
        time.sleep(0.25)
    assert statuses == [200] * 4, f"still {statuses} 20 s after the database came back"
    assert server.process.proc.poll() is None, "gunicorn had to restart"
    assert server.request("GET", "/ready").status_code == 200

    for actor_id, name in acknowledged.items():
        response = server.request("GET", f"/actors/{actor_id}", token)
        assert response.status_code == 200, (actor_id, response.text)
        assert response.json()["actor"]["name"] == name
    listed = server.request("GET", "/actors", token, params={"per_page": "100"})
    assert listed.status_code == 200
    assert sorted(a["id"] for a in listed.json()["actors"]) == sorted(acknowledged), "a 503 wrote something"
    assert listed.json()["total"] == len(acknowledged)
