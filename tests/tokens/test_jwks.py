"""The issuer's key set (casting/tokens/jwks.py): the JWKS cache against a real HTTP server on 127.0.0.1 that
plays Auth0's `/.well-known/jwks.json` (down, slow, broken, rotated, redirecting, too big), and the cache on its
own with a fake clock for the TTL, cool-down and back-off arithmetic that real time makes slow."""


from __future__ import annotations

import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from casting import errors
from casting.tokens import jwks
from tests.utils.asserters import assert_error, assert_invalid_token
from tests.utils.jwks_server import JwksServer
from tests.utils.tokens import (
    ROLES,
    FakeClock,
    Minter,
    bearer,
    jwks_document,
    new_rsa_key,
)

# --- the JWKS cache over real HTTP -----------------------------------------------------------

REMOTE_ISSUER = "https://test.invalid/"
REMOTE_AUDIENCE = "https://casting-api"
@pytest.fixture(scope="module")
def remote_key() -> rsa.RSAPrivateKey:
    return new_rsa_key()


@pytest.fixture
def jwks_servers():
    """start(port=0) -> a running JwksServer; every one is shut down at teardown."""
    servers: list[JwksServer] = []

    def start(port: int = 0) -> JwksServer:
        servers.append(JwksServer(port))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def remote_app(make_app, built_apps):
    """remote_app(server_url, cooldown, ttl) -> an app that trusts Auth0-style tokens from that JWKS URL."""

    def build(url: str, cooldown: float = 30, ttl: float = 600):
        built = make_app(AUTH0_DOMAIN="test.invalid", API_AUDIENCE=REMOTE_AUDIENCE, JWKS_URL=url,
                         TOKEN_ISSUER=REMOTE_ISSUER, JWKS_COOLDOWN_SECONDS=cooldown, JWKS_TTL_SECONDS=ttl,
                         JWKS_TIMEOUT_SECONDS=1)
        assert built.extensions["local_issuer"] is None
        built_apps.append(built)
        return built

    return build


def remote_minter(key: rsa.RSAPrivateKey, kid: str) -> Minter:
    return Minter(key, kid, REMOTE_ISSUER, REMOTE_AUDIENCE)


def wait_for_background_refresh(timeout: float = 5) -> None:
    for thread in [t for t in threading.enumerate() if t.name == "jwks-refresh"]:
        thread.join(timeout)
        assert not thread.is_alive(), "the background JWKS refresh did not finish"


def test_keys_are_fetched_once_and_cached(jwks_servers, remote_app, remote_key):
    server = jwks_servers()
    server.keys["key-1"] = remote_key
    client = remote_app(server.url).test_client()
    m = remote_minter(remote_key, "key-1")
    for role in ROLES * 10:
        assert client.get("/movies", headers=bearer(m.token(role))).status_code == 200
    assert client.post("/movies", headers=bearer(m.token("casting-assistant")), json={}).status_code == 403
    assert server.fetches == 1


def test_a_rotated_key_is_accepted_after_exactly_one_refresh(jwks_servers, remote_app, remote_key):
    server = jwks_servers()
    server.keys["key-1"] = remote_key
    client = remote_app(server.url, cooldown=0.2).test_client()
    assert client.get("/movies", headers=bearer(remote_minter(remote_key, "key-1").token())).status_code == 200

    rotated = new_rsa_key()
    server.keys["key-2"] = rotated
    time.sleep(0.3)  # past the cool-down that follows the first fetch
    for _ in range(5):
        response = client.get("/movies", headers=bearer(remote_minter(rotated, "key-2").token()))
        assert response.status_code == 200, response.get_data(as_text=True)
    assert client.get("/movies", headers=bearer(remote_minter(remote_key, "key-1").token())).status_code == 200
    assert server.fetches == 2


def test_a_flood_of_unknown_kids_cannot_hammer_the_issuer(jwks_servers, remote_app, remote_key):
    """50 tokens with random kids, sent concurrently, cost at most one refresh inside the cool-down."""
    server = jwks_servers()
    server.keys["key-1"] = remote_key
    flask_app = remote_app(server.url, cooldown=30)

    def attempt(_):
        token = remote_minter(remote_key, secrets.token_urlsafe(12)).token()
        return flask_app.test_client().get("/movies", headers=bearer(token))

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(attempt, range(50)))
    for response in responses:
        assert_invalid_token(response)
    assert server.fetches <= 2
    good = flask_app.test_client().get("/movies", headers=bearer(remote_minter(remote_key, "key-1").token()))
    assert good.status_code == 200
    assert server.fetches <= 2


def test_issuer_down_at_start_is_a_quick_503_and_recovers(jwks_servers, remote_app, remote_key):
    server = jwks_servers()
    port = server.port
    server.stop()  # the port is closed: nothing was ever fetched
    flask_app = remote_app(server.url, cooldown=1)  # a failed first fetch is tried again 0.5 s later
    client = flask_app.test_client()
    token = remote_minter(remote_key, "key-1").token()

    for _ in range(3):
        response, _ = answer_within(10, lambda: client.get("/movies", headers=bearer(token)))
        assert_error(response, 503)
        assert response.headers["Retry-After"].isdigit()
    # Within the back-off the three requests caused a single attempt: none waited for another.
    assert flask_app.extensions["token_verifier"].keys.fetch_count == 1

    revived = jwks_servers(port)
    revived.keys["key-1"] = remote_key
    time.sleep(0.6)  # past the back-off
    response = client.get("/movies", headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert revived.fetches == 1


@pytest.mark.parametrize("status,body", [
    (500, b'{"error": "oops"}'), (200, b"<html>not json</html>"), (200, b'{"keys": "nope"}'), (200, b"[]"),
], ids=["http-500", "not-json", "keys-not-a-list", "not-an-object"])
def test_a_broken_jwks_document_at_start_is_a_503(jwks_servers, remote_app, remote_key, status, body):
    server = jwks_servers()
    server.status, server.body = status, body
    response = remote_app(server.url).test_client().get(
        "/movies", headers=bearer(remote_minter(remote_key, "key-1").token()))
    assert_error(response, 503)
    assert "Retry-After" in response.headers


def test_a_failed_refresh_keeps_the_last_good_keys(jwks_servers, remote_app, remote_key):
    server = jwks_servers()
    server.keys["key-1"] = remote_key
    client = remote_app(server.url, cooldown=0.05, ttl=0.1).test_client()
    m = remote_minter(remote_key, "key-1")
    assert client.get("/movies", headers=bearer(m.token())).status_code == 200
    server.stop()

    for _ in range(3):
        time.sleep(0.15)  # the keys are stale: each request starts a background refresh, which fails
        assert client.get("/movies", headers=bearer(m.token())).status_code == 200
        wait_for_background_refresh()
    # An unknown kid while the issuer is down is a 401, not a 503: keys are known, this one is not among them.
    time.sleep(0.1)
    assert_invalid_token(client.get("/movies", headers=bearer(remote_minter(remote_key, "key-9").token())))
    assert client.get("/movies", headers=bearer(m.token())).status_code == 200
    wait_for_background_refresh()


def test_keys_that_are_not_rs256_signing_keys_are_ignored(jwks_servers, remote_app, remote_key):
    server = jwks_servers()
    jwk = json.loads(RSAAlgorithm.to_jwk(remote_key.public_key()))
    server.body = json.dumps({"keys": [
        {**jwk, "kid": "enc", "use": "enc"}, {**jwk, "kid": "rs512", "alg": "RS512"}, {**jwk, "kid": "good"},
    ]}).encode()
    client = remote_app(server.url).test_client()
    assert client.get("/movies", headers=bearer(remote_minter(remote_key, "good").token())).status_code == 200
    for kid in ("enc", "rs512"):
        assert_invalid_token(client.get("/movies", headers=bearer(remote_minter(remote_key, kid).token())))


def answer_within(seconds: float, call):
    """call() in a thread: its result and how long it took; the test fails (instead of hanging) past `seconds`."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"no answer within {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"], time.monotonic() - started


@pytest.mark.parametrize("headers_too", [False, True], ids=["slow-body", "slow-headers"])
def test_an_issuer_dripping_bytes_is_a_503_within_the_timeout(jwks_servers, remote_app, remote_key, headers_too):
    """One byte every 0.5 s never trips a per-read timeout: the fetch must be bounded in wall-clock time."""
    server = jwks_servers()
    server.keys["key-1"] = remote_key
    server.drip, server.drip_headers = 0.5, headers_too
    flask_app = remote_app(server.url, cooldown=30)  # JWKS_TIMEOUT_SECONDS=1
    keys = flask_app.extensions["token_verifier"].keys
    token = remote_minter(remote_key, "key-1").token()
    dripping = len(json.dumps(server.document())) * server.drip
    assert dripping > 100  # what a fetch bounded per read only would take

    # Bounded by the 1 s timeout, with room for a busy machine, and far below the whole drip.
    response, seconds = answer_within(15, lambda: flask_app.test_client().get("/movies", headers=bearer(token)))
    assert_error(response, 503)
    assert "Retry-After" in response.headers
    assert seconds < 10, f"the 503 took {seconds:.1f} s"
    assert keys.fetch_count == 1
    # Inside the cool-down the next request does not ask the issuer at all.
    response, _ = answer_within(15, lambda: flask_app.test_client().get("/movies", headers=bearer(token)))
    assert_error(response, 503)
    assert keys.fetch_count == 1
    assert server.fetches == 1


def test_a_refresh_from_a_dripping_issuer_keeps_the_last_good_keys(jwks_servers, remote_app, remote_key):
    server = jwks_servers()
    server.keys["key-1"] = remote_key
    flask_app = remote_app(server.url, cooldown=0.2)
    client = flask_app.test_client()
    good = remote_minter(remote_key, "key-1")
    assert client.get("/movies", headers=bearer(good.token())).status_code == 200

    server.drip = 0.5
    time.sleep(0.3)  # past the cool-down: an unknown kid now makes one refresh, which drips
    unknown = remote_minter(remote_key, "key-2").token()
    # Bounded by the 1 s timeout (the whole drip takes minutes), with room for a busy machine.
    response, seconds = answer_within(15, lambda: flask_app.test_client().get("/movies", headers=bearer(unknown)))
    assert_invalid_token(response)  # keys are known, this one is not among them
    assert seconds < 10, f"the answer took {seconds:.1f} s"
    assert client.get("/movies", headers=bearer(good.token())).status_code == 200
    assert flask_app.extensions["token_verifier"].keys.fetch_count == 2


@pytest.mark.parametrize("content_length", [True, False], ids=["declared-length", "read-until-close"])
@pytest.mark.parametrize("size,status", [(400 * 1024, 200), (600 * 1024, 503)], ids=["400KiB", "600KiB"])
def test_a_jwks_document_over_512_kib_is_refused(jwks_servers, remote_app, remote_key, content_length, size, status):
    """The body is capped while it is read (a missing or lying Content-Length changes nothing)."""
    document = jwks_document({"key-1": remote_key})
    compact = json.dumps(document).encode()
    server = jwks_servers()
    server.body = compact[:-1] + b" " * (size - len(compact)) + b"}"  # valid JSON, padded to `size` bytes
    assert len(server.body) == size and json.loads(server.body) == document
    server.content_length = content_length
    response, _ = answer_within(10, lambda: remote_app(server.url).test_client().get(
        "/movies", headers=bearer(remote_minter(remote_key, "key-1").token())))
    if status == 200:
        assert response.status_code == 200, response.get_data(as_text=True)
    else:
        assert_error(response, 503)


def test_a_redirecting_jwks_url_is_not_followed(jwks_servers, remote_app, remote_key):
    elsewhere = jwks_servers()
    elsewhere.keys["key-1"] = remote_key
    server = jwks_servers()
    server.status, server.location, server.body = 302, elsewhere.url, b""
    response = remote_app(server.url).test_client().get(
        "/movies", headers=bearer(remote_minter(remote_key, "key-1").token()))
    assert_error(response, 503)
    assert server.fetches == 1 and elsewhere.fetches == 0


# JwksCache on its own, with a fake clock, for what real time makes slow: TTL and cool-down arithmetic.


class FakeIssuer:
    """A fetch function over a JWKS document that can be changed or made to fail."""

    def __init__(self, key: rsa.RSAPrivateKey):
        self.keys = {"key-1": key}
        self.failing = False
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        if self.failing:
            raise ConnectionError("issuer down")
        return jwks_document(self.keys)


@pytest.fixture
def fake_issuer(remote_key) -> FakeIssuer:
    return FakeIssuer(remote_key)


def test_cache_serves_stale_keys_while_one_background_refresh_runs(fake_issuer):
    clock = FakeClock()
    cache = jwks.JwksCache(fake_issuer, ttl=600, cooldown=30, clock=clock)
    first = cache.key("key-1")
    clock.now += 599
    assert cache.key("key-1") is first and fake_issuer.calls == 1

    fake_issuer.keys["key-2"] = new_rsa_key()
    clock.now += 2  # past the TTL
    assert cache.key("key-1") is first  # answered from the stale set, without waiting
    wait_for_background_refresh()
    assert fake_issuer.calls == 2
    clock.now += 1
    assert cache.key("key-2") is not None and fake_issuer.calls == 2  # the refresh brought the new key


def test_cache_unknown_kid_refreshes_at_most_once_per_cooldown(fake_issuer):
    clock = FakeClock()
    cache = jwks.JwksCache(fake_issuer, ttl=600, cooldown=30, clock=clock)
    cache.key("key-1")
    for second in range(29):
        clock.now += 1
        with pytest.raises(errors.AuthError):
            cache.key(f"unknown-{second}")
    assert fake_issuer.calls == 1
    clock.now += 2
    with pytest.raises(errors.AuthError):
        cache.key("unknown-again")
    assert fake_issuer.calls == 2


def fetch_times(cache: jwks.JwksCache, issuer: FakeIssuer, clock: FakeClock, seconds: int, kid: str = "key-1",
                expect: type[Exception] | None = errors.IssuerUnavailable) -> list[float]:
    """Ask `cache` for `kid` every tenth of a second for `seconds`: when (from the start) a fetch ran."""
    start, fetched = clock.now, []
    for tick in range(seconds * 10):
        clock.now = start + tick / 10
        calls = issuer.calls
        if expect is None:
            cache.key(kid)
        else:
            with pytest.raises(expect):
                cache.key(kid)
        if issuer.calls > calls:
            fetched.append(tick / 10)
    return fetched


def test_cache_retries_a_failed_fetch_soon_then_less_and_less_often(fake_issuer):
    """No keys and a down issuer: every request is a 503, and fetches run 0.5 s after the first failure,
    then 1, 2, 4... s apart, never more than the cool-down (30 s) apart."""
    clock = FakeClock()
    cache = jwks.JwksCache(fake_issuer, ttl=600, cooldown=30, clock=clock)
    fake_issuer.failing = True
    assert fetch_times(cache, fake_issuer, clock, 100) == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5, 61.5, 91.5]


def test_cache_uses_a_recovered_issuer_within_a_second_of_a_failure(fake_issuer):
    clock = FakeClock()
    cache = jwks.JwksCache(fake_issuer, ttl=600, cooldown=30, clock=clock)
    fake_issuer.failing = True
    with pytest.raises(errors.IssuerUnavailable):
        cache.key("key-1")
    fake_issuer.failing = False  # the issuer is back
    clock.now += 0.4
    with pytest.raises(errors.IssuerUnavailable):  # not asked again yet
        cache.key("key-1")
    clock.now += 0.1
    assert cache.key("key-1") is not None and fake_issuer.calls == 2

    # A success starts the count of failures afresh: the next failure is retried 0.5 s later again.
    fake_issuer.keys["key-2"] = new_rsa_key()
    fake_issuer.failing = True
    clock.now += 30  # past the cool-down a success sets for unknown kids
    with pytest.raises(errors.AuthError, match="unknown key"):
        cache.key("key-2")
    fake_issuer.failing = False
    clock.now += 0.5
    assert cache.key("key-2") is not None and fake_issuer.calls == 4


def test_cache_unknown_kids_cannot_make_a_failing_issuer_be_asked_more_often(fake_issuer):
    """While the issuer fails, tokens with unknown kids cost no more fetches than the back-off allows."""
    clock = FakeClock()
    cache = jwks.JwksCache(fake_issuer, ttl=600, cooldown=30, clock=clock)
    cache.key("key-1")
    clock.now += 30
    fake_issuer.failing = True
    times = fetch_times(cache, fake_issuer, clock, 40, kid="unknown", expect=errors.AuthError)
    assert times == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert cache.key("key-1") is not None  # the last good keys kept working throughout


def test_cache_background_refresh_against_a_down_issuer_backs_off(fake_issuer):
    """Stale keys and a down issuer: the last good key keeps working, and refreshes back off as above."""
    clock = FakeClock()
    cache = jwks.JwksCache(fake_issuer, ttl=600, cooldown=30, clock=clock)
    cache.key("key-1")
    fake_issuer.failing = True
    clock.now += 601
    start, fetched = clock.now, []
    for tick in range(40):  # a request every tenth of a second for four seconds
        clock.now = start + tick / 10
        calls = fake_issuer.calls
        assert cache.key("key-1") is not None
        wait_for_background_refresh()
        if fake_issuer.calls > calls:
            fetched.append(tick / 10)
    assert fetched == [0, 0.5, 1.5, 3.5]


def test_cache_concurrent_unknown_kids_share_one_fetch(remote_key):
    """Twenty threads missing the same kid while a slow fetch runs: one fetch, not twenty."""
    release = threading.Event()
    calls = []

    def slow_fetch() -> dict:
        calls.append(1)
        release.wait(5)
        return {"keys": []}

    cache = jwks.JwksCache(slow_fetch, ttl=600, cooldown=30)
    refused = []

    def ask():
        try:
            cache.key("key-1")
        except errors.AuthError as exc:
            refused.append(exc.status)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    release.set()
    for thread in threads:
        thread.join(5)
    assert len(calls) == 1 and refused == [401] * 20
