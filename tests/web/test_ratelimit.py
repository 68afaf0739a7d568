"""Rate limits (casting/web/ratelimit.py): keys are token subjects or client addresses (never a header's claim),
separate read and write budgets, in memory or in Redis at one command a request, and failing open when Redis is
down. Two instances sharing one Redis are in tests/deployment/test_shared_instances.py."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from casting.web import ratelimit
from tests.utils.asserters import retry_after
from tests.utils.processes import free_port


@pytest.mark.parametrize("proxies", [0, 1])
def test_rate_limit_keys_are_ip_addresses_whatever_x_forwarded_for_says(make_app, app, proxies):
    """Rotating X-Forwarded-For buys no fresh budget without a trusted proxy, and no header becomes a key."""
    from flask import g

    limited = make_app(TRUSTED_PROXY_COUNT=proxies, RATELIMIT_ENABLED=True, RATE_LIMIT_READS="2/hour",
                       PUBLIC_READS=True)
    keys = []

    @limited.after_request
    def key(response):
        keys.append(ratelimit.client_key())
        g.pop("claims", None)
        return response

    client = limited.test_client()
    spoofed = ["10.0.0.1", "10.0.0.2", "a/b:c*d{e}", "10.0.0.3"]
    statuses = [client.get("/movies", headers={"X-Forwarded-For": value}).status_code for value in spoofed]
    if proxies == 0:
        assert statuses == [200, 200, 429, 429]
        assert keys == ["ip:127.0.0.1"] * 4
    else:
        assert statuses == [200, 200, 200, 200]  # a proxy's entries are different clients; garbage is the peer's
        assert keys == ["ip:10.0.0.1", "ip:10.0.0.2", "ip:127.0.0.1", "ip:10.0.0.3"]


@pytest.mark.parametrize("peer,key", [("192.0.2.7", "ip:192.0.2.7"), ("", "ip:0.0.0.0"), ("unix:/x", "ip:0.0.0.0")])
def test_the_rate_limit_key_is_an_address_even_without_one(app, peer, key):
    with app.test_request_context("/movies", environ_base={"REMOTE_ADDR": peer}):
        assert ratelimit.client_key() == key


def test_rate_limits_are_per_subject_with_separate_read_and_write_budgets(make_app, app, headers):
    # Budgets per hour: the windows are fixed, and a run that straddled a minute's end would see a reset.
    limited = make_app(RATELIMIT_ENABLED=True, RATE_LIMIT_READS="3/hour", RATE_LIMIT_WRITES="2/hour")
    client = limited.test_client()
    director, assistant = headers("casting-director"), headers("casting-assistant")
    assert [client.get("/movies", headers=director).status_code for _ in range(4)] == [200, 200, 200, 429]
    blocked = client.get("/actors", headers=director)  # reads share one budget across endpoints
    assert blocked.status_code == 429 and blocked.json["error"] == 429 and int(blocked.headers["Retry-After"]) > 0
    other = client.get("/movies", headers=assistant)
    assert other.status_code == 200  # another subject, another budget
    assert "Retry-After" not in other.headers and other.headers["X-RateLimit-Remaining"] == "2"
    body = {"name": "A", "age": 3, "gender": "x"}
    assert [client.post("/actors", headers=director, json=body).status_code for _ in range(3)] == [201, 201, 429]


def test_rate_limit_without_a_token_is_per_address(make_app, app):
    limited = make_app(RATELIMIT_ENABLED=True, RATE_LIMIT_READS="2/hour", PUBLIC_READS=True)
    client = limited.test_client()
    statuses = [client.get("/movies", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.get("/movies", environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 200


def test_rate_limiter_fails_open_when_redis_is_down(make_app, app, producer, caplog):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0",
                       RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5})
    client = limited.test_client()
    assert [client.get("/movies", headers=producer).status_code for _ in range(3)] == [200] * 3
    assert "rate-limit storage unreachable, counting in memory" in caplog.text  # and the requests went through
    assert caplog.text.count("storage unreachable") == 1  # logged once per outage


def _redis_commands(client):
    """A function that runs an action and counts the commands clients sent to this run's Redis database meanwhile,
    by name, from Redis's MONITOR (a script's own commands apart): Redis's totals per command would count what
    other tests send to other databases meanwhile."""

    def calls_while(action):
        database, done = client.connection_pool.connection_kwargs["db"], f"counted-{uuid.uuid4().hex}"
        sent: Counter = Counter()
        with client.monitor() as monitor:
            result = action()
            client.get(done)  # after everything `action` sent: the end of the count
            for entry in monitor.listen():
                if entry["command"] == f"GET {done}":
                    break
                if entry["db"] == database and entry["client_type"] != "lua":
                    sent[entry["command"].split(" ", 1)[0].lower()] += 1
        return result, {name: sent[name] for name in ("evalsha", "eval", "get", "ttl")}

    return calls_while


def test_redis_budgets_cost_one_redis_command_per_request_and_headers_stay_exact(make_app, app, producer, redis_url):
    """OneTripRedisStorage: the counter's increment brings its time to live back, and the X-RateLimit
    headers are answered from it (the stock storage sends three commands: the script, GET and TTL). A limit under
    200 is leased one request at a time: exact to the request across processes."""
    url, client = redis_url
    client.flushdb()
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="onetrip+" + url,
                       RATELIMIT_STORAGE_OPTIONS={}, RATE_LIMIT_READS="7/hour").test_client()
    token = {"Authorization": producer["Authorization"]}
    limited.get("/movies", headers=token)  # the script is loaded, the window started

    calls_while = _redis_commands(client)

    answers, sent = calls_while(lambda: [limited.get("/movies", headers=token) for _ in range(3)])
    assert sent == {"evalsha": 3, "eval": 0, "get": 0, "ttl": 0}
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["5", "4", "3"]
    assert all(a.headers["X-RateLimit-Limit"] == "7" for a in answers)
    reset = int(answers[-1].headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 3602
    assert client.ttl(next(iter(client.scan_iter("*")))) > 3500
    client.flushdb()


# --- Redis gone (issue 21) ----------------------------------------------------------------------------------------


class Clock:
    """The time ratelimit.py reads (its `time` module), moved by the test: limits' own clock is left alone."""

    def __init__(self):
        self.wall, self.monotonic_now = time.time(), 1000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.monotonic_now


def test_redis_is_tried_again_after_a_pause_that_doubles(make_app, app, producer, monkeypatch):
    """Down at t=0: tried again at 1 s, then 3 s (2 s later), then 7 s (4 s later); never in between. A pause that did
    not double would try Redis (a connect timeout each time) every second through an outage."""
    clock = Clock()
    monkeypatch.setattr(ratelimit, "time", clock)
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0",
                       RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5})
    limiter = limited.extensions["ratelimit"]
    tries = []
    real_hit = limiter.strategy.hit

    def counted_hit(*args, **kwargs):
        tries.append(clock.monotonic_now - 1000.0)
        return real_hit(*args, **kwargs)

    monkeypatch.setattr(limiter.strategy, "hit", counted_hit)
    client = limited.test_client()
    for moment in (0.0, 0.5, 0.99, 1.0, 2.0, 2.99, 3.0, 5.0, 6.99, 7.0):
        clock.monotonic_now = 1000.0 + moment
        assert client.get("/movies", headers=producer).status_code == 200, moment
    assert tries == [0.0, 1.0, 3.0, 7.0]


def test_retry_after_is_at_least_one_second_when_the_window_is_ending(make_app, app, producer, monkeypatch):
    """A 429 counted just as its window ends: Retry-After rounds up to 1, never 0 (a client would retry at once)."""
    limited = make_app(RATELIMIT_ENABLED=True, RATE_LIMIT_READS="1/hour").test_client()
    assert limited.get("/movies", headers=producer).status_code == 200
    clock = Clock()
    clock.wall += 3600  # the moment the header is written: the window's reset has just passed
    monkeypatch.setattr(ratelimit, "time", clock)
    refused = limited.get("/movies", headers=producer)
    assert refused.status_code == 429
    assert retry_after(refused) == 1


def test_with_redis_gone_two_workers_let_through_at_most_the_limit(app, fleet, database_url, local_pem, local_issuer):
    """docs/operations.md: while Redis is down each of WEB_CONCURRENCY workers counts ceil(L / WEB_CONCURRENCY)
    alone. 40 reads from one client, on fresh connections from 4 threads to workers of one thread each, so that both
    workers take some: at most 20 pass, each answer says the worker's share (10), and a 429 says when to come back.
    (A budget per hour: a window ending during the run would give a fresh one.)"""
    server = fleet.gunicorn("redis-gone", DATABASE_URL=database_url, LOCAL_ISSUER_PRIVATE_KEY=local_pem,
                            REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", WEB_CONCURRENCY="2",
                            GUNICORN_THREADS="1", RATE_LIMIT_READS="20/hour")
    token = local_issuer.mint("casting-assistant", sub=f"redis-gone|{uuid.uuid4().hex}")

    def ten(_):
        answers = []
        for _ in range(10):
            response = server.request("GET", "/movies", token, headers={"Connection": "close"})
            answers.append((response.status_code, response.headers.get("X-RateLimit-Limit"),
                            response.headers.get("Retry-After")))
        return answers

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = [answer for batch in pool.map(ten, range(4), timeout=120) for answer in batch]
    counts = Counter(status for status, _, _ in answers)
    print(f"\nRedis down, 20/hour, 2 workers, 40 reads: {dict(counts)}")
    assert set(counts) <= {200, 429} and sum(counts.values()) == 40, counts
    assert 10 <= counts[200] <= 20, counts  # one worker's share at least, the two shares at most
    assert {limit for _, limit, _ in answers} == {"10"}, answers
    assert all(int(wait) >= 1 for status, _, wait in answers if status == 429), answers
    assert "rate-limit storage unreachable" in server.process.output()


def test_large_budgets_are_leased_in_slices_and_never_past_the_limit(make_app, app, producer, redis_url):
    """A limit of 450 is leased 4 requests at a time: one Redis command every 4 requests, headers as exact as one
    a request for a lone process. At 201 (slices of 2), the last lease gets the one request left, and once the
    budget is gone the process refuses without asking Redis again until the window ends."""
    url, client = redis_url
    client.flushdb()
    calls_while = _redis_commands(client)
    token = {"Authorization": producer["Authorization"]}
    leasing = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="onetrip+" + url,
                       RATELIMIT_STORAGE_OPTIONS={}, RATE_LIMIT_READS="450/hour").test_client()
    answers, sent = calls_while(lambda: [leasing.get("/movies", headers=token) for _ in range(8)])
    assert sent == {"evalsha": 2, "eval": 0, "get": 0, "ttl": 0}
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == [str(449 - i) for i in range(8)]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"450"}
    assert [int(client.get(key)) for key in client.scan_iter("*")] == [8]

    client.flushdb()
    small = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="onetrip+" + url,
                     RATELIMIT_STORAGE_OPTIONS={}, RATE_LIMIT_READS="201/hour").test_client()
    statuses = [small.get("/movies", headers=token).status_code for _ in range(203)]
    assert statuses == [200] * 201 + [429] * 2
    refused, sent = calls_while(lambda: [small.get("/movies", headers=token) for _ in range(3)])
    assert [r.status_code for r in refused] == [429] * 3 and sent["evalsha"] == 0
    assert refused[0].headers["X-RateLimit-Remaining"] == "0" and int(refused[0].headers["Retry-After"]) > 3500
    assert [int(client.get(key)) for key in client.scan_iter("*")] == [202]  # 100 slices of 2, and a last one of 1
    client.flushdb()
