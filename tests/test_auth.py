"""Authentication and authorisation, end to end with real RS256 tokens (the verifier is never patched).

The RBAC matrix of the contract, token attacks, the JWKS cache against a real
HTTP server, the production guard, the `flask token` command and PUBLIC_READS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

import auth
import config
import errors
import jwks
import local_issuer
from app import create_app
from models import db
from tests.helpers import ROLES, ROOT, JwksServer, assert_error, jwks_document, new_rsa_key, pem

# The permission table of docs/api.md, written out independently of roles.ROLE_PERMISSIONS.
READS = {"get:movies", "get:actors"}
DIRECTOR = READS | {"post:actors", "patch:actors", "delete:actors", "patch:movies", "get:history"}
CONTRACT = {
    "casting-assistant": READS,
    "casting-director": DIRECTOR,
    "executive-producer": DIRECTOR | {"post:movies", "delete:movies"},
}
JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
AUTH_ENV = ("AUTH0_DOMAIN", "API_AUDIENCE", "JWKS_URL", "TOKEN_ISSUER", "APP_ENV", "DYNO", "PUBLIC_READS",
            "LOCAL_ISSUER_PRIVATE_KEY", "DATABASE_URL")


# --- minting tokens by hand, so that any header or claim can be bent -------------------------

DROP = object()  # a claim or header value that means "leave this out"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def rs256(header: dict, payload, key: rsa.RSAPrivateKey) -> str:
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))}"


def hs256(header: dict, payload, secret: bytes) -> str:
    """PyJWT refuses an HMAC secret that looks like a public key, so the forgery is built by hand."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def unsigned(header: dict, payload) -> str:
    return f"{b64json(header)}.{b64json(payload)}."


def changed(base: dict, changes: dict) -> dict:
    result = dict(base)
    for name, value in changes.items():
        if value is DROP:
            result.pop(name, None)
        else:
            result[name] = value
    return result


class Minter:
    """RS256 tokens for one issuer: `claims()` and `header()` take changes, DROP removes an entry."""

    def __init__(self, key: rsa.RSAPrivateKey, kid: str, issuer: str, audience: str):
        self.key, self.kid, self.issuer, self.audience = key, kid, issuer, audience

    def claims(self, role: str = "executive-producer", **changes) -> dict:
        now = int(time.time())
        # A fresh jti makes every token unique, so none is answered from the verifier's cache of verified tokens.
        base = {"iss": self.issuer, "sub": f"test|{role}", "aud": self.audience, "iat": now, "exp": now + 600,
                "jti": secrets.token_hex(8), "permissions": sorted(CONTRACT[role])}
        return changed(base, changes)

    def header(self, **changes) -> dict:
        return changed({"alg": "RS256", "typ": "JWT", "kid": self.kid}, changes)

    def token(self, role: str = "executive-producer", *, header: dict | None = None,
              key: rsa.RSAPrivateKey | None = None, **changes) -> str:
        return rs256(self.header(**(header or {})), self.claims(role, **changes), key or self.key)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}




def assert_invalid_token(response) -> None:
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"'), response.headers




@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return new_rsa_key()


@pytest.fixture
def minter(issuer, signing_key) -> Minter:
    """Tokens the app's local issuer would accept, minted independently of LocalIssuer.mint."""
    return Minter(signing_key, issuer.kid, issuer.issuer, issuer.audience)


@pytest.fixture
def built_apps(app):
    """Apps built in a test with make_app; their pools are closed before `app` empties the tables."""
    apps = []
    yield apps
    for built in apps:
        with built.app_context():
            db.engine.dispose()


# --- 1. the RBAC matrix -------------------------------------------------------------------

# (method, path, permission, body, success status); {movie} and {actor} are rows made for each test.
ENDPOINTS = [
    ("GET", "/movies", "get:movies", None, 200),
    ("POST", "/movies", "post:movies", {"title": "New Film", "release_date": "2024-02-29"}, 201),
    ("GET", "/movies/{movie}", "get:movies", None, 200),
    ("PATCH", "/movies/{movie}", "patch:movies", {"title": "Renamed"}, 200),
    ("DELETE", "/movies/{movie}", "delete:movies", None, 200),
    ("GET", "/movies/{movie}/actors", "get:actors", None, 200),
    ("PUT", "/movies/{movie}/actors/{actor}", "patch:movies", None, 200),
    ("DELETE", "/movies/{movie}/actors/{actor}", "patch:movies", None, 200),
    ("GET", "/actors", "get:actors", None, 200),
    ("POST", "/actors", "post:actors", {"name": "New Actor", "age": 30, "gender": "female"}, 201),
    ("GET", "/actors/{actor}", "get:actors", None, 200),
    ("PATCH", "/actors/{actor}", "patch:actors", {"age": 46}, 200),
    ("DELETE", "/actors/{actor}", "delete:actors", None, 200),
    ("GET", "/actors/{actor}/movies", "get:movies", None, 200),
    ("GET", "/history", "get:history", None, 200),
    ("GET", "/movies/{movie}/history", "get:history", None, 200),
    ("GET", "/actors/{actor}/history", "get:history", None, 200),
    ("POST", "/movies/{deleted_movie}/restore", "delete:movies", None, 201),
    ("POST", "/actors/{deleted_actor}/restore", "delete:actors", None, 201),
]
GETS = [(method, path) for method, path, *_ in ENDPOINTS if method == "GET"]
WRITES = [(method, path, body) for method, path, _, body, _ in ENDPOINTS if method != "GET"]


@pytest.fixture
def rows(client, producer) -> dict:
    """An actor cast in a movie, made through the API, so that every allowed request really succeeds."""
    actor = client.post("/actors", headers=producer, json={"name": "Chris Pine", "age": 45, "gender": "male"})
    assert actor.status_code == 201, actor.json
    movie = client.post("/movies", headers=producer, json={
        "title": "Raids of the Ice", "release_date": "2017-04-29", "actor_ids": [actor.json["actor"]["id"]]})
    assert movie.status_code == 201, movie.json
    deleted = {}
    for kind, body in (("movie", {"title": "Gone", "release_date": "2001-01-01"}),
                       ("actor", {"name": "Gone", "age": 1, "gender": "f"})):
        made = client.post(f"/{kind}s", headers=producer, json=body).json[kind]["id"]
        assert client.delete(f"/{kind}s/{made}", headers=producer).status_code == 200
        deleted[f"deleted_{kind}"] = made
    return {"movie": movie.json["movie"]["id"], "actor": actor.json["actor"]["id"], **deleted}


def catalogue(client, producer, rows) -> tuple:
    """Everything a request could have changed, read back as the producer."""
    return tuple(client.get(path.format(**rows), headers=producer).json
                 for path in ("/movies", "/actors", "/movies/{movie}", "/actors/{actor}"))


@pytest.mark.parametrize("role", [None, *ROLES], ids=lambda role: role or "no-token")
@pytest.mark.parametrize("method,path,permission,body,success", ENDPOINTS,
                         ids=[f"{method} {path}" for method, path, *_ in ENDPOINTS])
def test_rbac_matrix(client, headers, producer, rows, role, method, path, permission, body, success):
    """No token is 401 (plain challenge), a token without the permission 403; otherwise the request succeeds."""
    allowed = role is not None and permission in CONTRACT[role]
    before = None if allowed else catalogue(client, producer, rows)
    response = client.open(path.format(**rows), method=method, json=body,
                           headers=headers(role) if role else {})
    if role is None:
        assert_error(response, 401)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    elif not allowed:
        assert_error(response, 403)
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
        assert permission in response.json["message"]
    else:
        assert response.status_code == success, response.get_data(as_text=True)
        assert response.json["success"] is True
        assert "WWW-Authenticate" not in response.headers
        return
    assert catalogue(client, producer, rows) == before, "a refused request changed something"


def test_matrix_covers_every_guarded_route(app):
    """A route added later without a row in ENDPOINTS would escape the matrix."""
    guarded = set()
    for rule in app.url_map.iter_rules():
        if getattr(app.view_functions[rule.endpoint], "required_permission", None):
            path = re.sub(r"<id:(movie|actor)_id>", r"{\1}", rule.rule)
            guarded |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert guarded == {(method, path.replace("deleted_", "")) for method, path, *_ in ENDPOINTS}


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_health_and_ready_need_no_token(client, path):
    assert client.get(path).status_code == 200
    # Not guarded at all: even a garbage token is ignored there.
    assert client.get(path, headers={"Authorization": "Bearer garbage"}).status_code == 200


@pytest.mark.parametrize("method,path", [
    ("GET", "/movies"), ("POST", "/movies"), ("DELETE", "/movies/1"), ("PATCH", "/actors/1"),
    ("PUT", "/movies/1/actors/1"), ("GET", "/actors/1/movies"),
])
def test_cors_preflight_needs_no_token(client, method, path):
    """Browsers send the preflight without credentials: it must not be answered with a 401."""
    response = client.options(path, headers={
        "Origin": "https://casting.example", "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "Authorization, Content-Type",
    })
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://casting.example")
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()


# --- 2. attacks and malformed tokens --------------------------------------------------------


def public_pem(m: Minter) -> bytes:
    return m.key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)


def served_jwk(m: Minter) -> dict:
    return {**json.loads(RSAAlgorithm.to_jwk(m.key.public_key())), "kid": m.kid, "alg": "RS256", "use": "sig"}


def tampered(m: Minter) -> str:
    """An assistant's real token whose payload now claims the producer's permissions, signature kept."""
    header, payload, signature = m.token("casting-assistant").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["permissions"] = sorted(CONTRACT["executive-producer"])
    return f"{header}.{b64json(claims)}.{signature}"


def stripped_signature(m: Minter) -> str:
    return m.token().rsplit(".", 1)[0] + "."


# name -> a token the app must refuse with 401 invalid_token.
ATTACKS = {
    "alg none": lambda m, other: unsigned(m.header(alg="none"), m.claims()),
    "alg None": lambda m, other: unsigned(m.header(alg="None"), m.claims()),
    "alg none, signature kept": lambda m, other: unsigned(m.header(alg="none"), m.claims())
    + m.token().rsplit(".", 1)[1],
    "alg missing": lambda m, other: m.token(header={"alg": DROP}),
    "RS256 without a signature": lambda m, other: stripped_signature(m),
    "HS256 keyed with the public PEM": lambda m, other: hs256(m.header(alg="HS256"), m.claims(), public_pem(m)),
    "HS256 keyed with the public PEM, stripped": lambda m, other: hs256(
        m.header(alg="HS256"), m.claims(), public_pem(m).strip()),
    "HS256 keyed with the served JWK JSON": lambda m, other: hs256(
        m.header(alg="HS256"), m.claims(), json.dumps(served_jwk(m)).encode()),
    "HS256 keyed with the bare JWK JSON": lambda m, other: hs256(
        m.header(alg="HS256"), m.claims(), RSAAlgorithm.to_jwk(m.key.public_key()).encode()),
    "another RSA key with the same kid": lambda m, other: m.token(key=other),
    "payload tampered after signing": lambda m, other: tampered(m),
    "expired beyond the leeway": lambda m, other: m.token(iat=int(time.time()) - 3600, exp=int(time.time()) - 60),
    "nbf beyond the leeway": lambda m, other: m.token(nbf=int(time.time()) + 120),
    "iat far in the future": lambda m, other: m.token(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200),
    "exp not a number": lambda m, other: m.token(exp="tomorrow"),
    # NumericDates must be JSON numbers in [0, 2**53]: a huge exp once overflowed float() into a 500.
    "exp 2**1024 (overflows a float)": lambda m, other: m.token(exp=2**1024),
    "exp 10**400": lambda m, other: m.token(exp=10**400),
    "exp just past 2**53": lambda m, other: m.token(exp=2**53 + 1),
    "exp 1e300": lambda m, other: m.token(exp=1e300),
    "exp Infinity": lambda m, other: m.token(exp=float("inf")),
    "exp NaN": lambda m, other: m.token(exp=float("nan")),
    "exp a numeric string": lambda m, other: m.token(exp=str(int(time.time()) + 600)),
    "exp true": lambda m, other: m.token(exp=True),
    "iat -2**1024": lambda m, other: m.token(iat=-(2**1024)),
    "iat negative": lambda m, other: m.token(iat=-1),
    "iat a numeric string": lambda m, other: m.token(iat=str(int(time.time()))),
    "nbf -2**1024": lambda m, other: m.token(nbf=-(2**1024)),
    "nbf 2**1024": lambda m, other: m.token(nbf=2**1024),
    "nbf false": lambda m, other: m.token(nbf=False),
    "wrong aud": lambda m, other: m.token(aud="https://another-api"),
    "missing aud": lambda m, other: m.token(aud=DROP),
    "aud list without ours": lambda m, other: m.token(aud=["https://another-api", "https://third-api"]),
    "aud empty list": lambda m, other: m.token(aud=[]),
    "wrong iss": lambda m, other: m.token(iss="https://evil.example/"),
    "missing iss": lambda m, other: m.token(iss=DROP),
    "iss a list": lambda m, other: m.token(iss=[m.issuer]),
    "missing sub": lambda m, other: m.token(sub=DROP),
    "sub not a string": lambda m, other: m.token(sub=42),
    # Every token without a subject would share one rate budget and name nobody in the logs.
    "sub empty": lambda m, other: m.token(sub=""),
    "sub only spaces": lambda m, other: m.token(sub="  "),
    # Tokens meant to live longer than 30 days (TOKEN_MAX_LIFETIME_SECONDS) cannot be withdrawn in time.
    "valid for 100 years": lambda m, other: m.token(exp=int(time.time()) + 100 * 365 * 86400),
    "30 days and a second": lambda m, other: m.token(iat=int(time.time()) - 60,
                                                     exp=int(time.time()) - 60 + 30 * 86400 + 1),
    "issued 10 years ago, still valid": lambda m, other: m.token(iat=int(time.time()) - 10 * 365 * 86400),
    "missing exp": lambda m, other: m.token(exp=DROP),
    "missing iat": lambda m, other: m.token(iat=DROP),
    "missing kid": lambda m, other: m.token(header={"kid": DROP}),
    "empty kid": lambda m, other: m.token(header={"kid": ""}),
    "unknown kid": lambda m, other: m.token(header={"kid": "no-such-key-" + secrets.token_hex(8)}),
    "kid not a string": lambda m, other: m.token(header={"kid": 12345}),
    "unsupported crit header": lambda m, other: m.token(header={"crit": ["exp"]}),
    "header not an object": lambda m, other: rs256([], m.claims(), m.key),
    "payload not an object": lambda m, other: rs256(m.header(), ["get:movies"], m.key),
    "permissions a string": lambda m, other: m.token(permissions="get:movies post:movies"),
    "permissions with a non-string": lambda m, other: m.token(permissions=["get:movies", 7]),
    "permissions null": lambda m, other: m.token(permissions=None),
    "permissions missing": lambda m, other: m.token(permissions=DROP),
}


@pytest.mark.parametrize("name", ATTACKS)
def test_forged_or_broken_tokens_are_401_invalid_token(client, minter, other_key, name):
    response = client.get("/movies", headers=bearer(ATTACKS[name](minter, other_key)))
    assert_invalid_token(response)


@pytest.mark.parametrize("name", ["alg none", "HS256 keyed with the public PEM", "payload tampered after signing"])
def test_forged_tokens_cannot_write(client, minter, other_key, name):
    """The same forgeries aimed at a destructive endpoint change nothing."""
    response = client.post("/movies", headers=bearer(ATTACKS[name](minter, other_key)),
                           json={"title": "Forged", "release_date": "2020-01-01"})
    assert_invalid_token(response)
    assert client.get("/movies", headers=bearer(minter.token())).json["total"] == 0


# name -> an Authorization header value that is not "Bearer <one well-formed token>".
MALFORMED = {
    "scheme only": lambda m: "Bearer",
    "empty token": lambda m: "Bearer ",
    "two segments": lambda m: "Bearer a.b",
    "two tokens": lambda m: "Bearer x y",
    "two real tokens": lambda m: f"Bearer {m.token()} {m.token()}",
    "basic auth": lambda m: "Basic dXNlcjpwYXNz",
    "other scheme, real token": lambda m: f"Token {m.token()}",
    "no scheme, real token": lambda m: m.token(),
    "not base64": lambda m: "Bearer !!!.@@@.###",
    "segments not JSON": lambda m: "Bearer abc.def.ghi",
    "16 KiB token": lambda m: f"Bearer {m.token(padding='x' * 16384)}",
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_authorization_headers_are_401_invalid_token(client, minter, name):
    assert_invalid_token(client.get("/movies", headers={"Authorization": MALFORMED[name](minter)}))


# name -> an Authorization header value the app must accept (the contract and Auth0's real tokens).
ACCEPTED = {
    "lowercase scheme": lambda m: f"bearer {m.token('casting-assistant')}",
    "uppercase scheme": lambda m: f"BEARER {m.token('casting-assistant')}",
    "aud list containing ours (Auth0)": lambda m: f"Bearer {m.token(aud=['https://other', m.audience])}",
    "expired within the leeway": lambda m: f"Bearer {m.token(exp=int(time.time()) - 10)}",
    "nbf within the leeway": lambda m: f"Bearer {m.token(nbf=int(time.time()) + 10)}",
    "iat within the leeway": lambda m: f"Bearer {m.token(iat=int(time.time()) + 10)}",
    "fractional NumericDates (RFC 7519 allows them)": lambda m: "Bearer " + m.token(
        iat=time.time() - 0.5, nbf=time.time() - 0.5, exp=time.time() + 600.5),
    "extra claims (Auth0's azp, scope, gty)": lambda m: f"Bearer {m.token(azp='abc', scope='openid', gty='x')}",
    "a 4 KiB token": lambda m: f"Bearer {m.token(padding='x' * 2500)}",
    "exactly 30 days (Auth0's maximum)": lambda m: "Bearer " + m.token(iat=int(time.time()) - 60,
                                                                     exp=int(time.time()) - 60 + 30 * 86400),
}


@pytest.mark.parametrize("name", ACCEPTED)
def test_valid_token_variants_are_accepted(client, minter, name):
    response = client.get("/movies", headers={"Authorization": ACCEPTED[name](minter)})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("name,change,message", [
    ("sub empty", {"sub": ""}, "token sub claim must be a non-empty string"),
    ("valid for 100 years", {"exp": int(time.time()) + 100 * 365 * 86400},
     "token lifetime (exp - iat) is longer than the 30 days allowed"),
])
def test_refused_tokens_say_why(client, minter, name, change, message):
    response = client.get("/movies", headers=bearer(minter.token(**change)))
    assert_invalid_token(response)
    assert response.json["message"] == message
    assert f'error_description="{message}"' in response.headers["WWW-Authenticate"]


def test_the_longest_token_lifetime_is_a_setting(make_app, built_apps, minter):
    hourly = make_app(TOKEN_MAX_LIFETIME_SECONDS=3600)
    built_apps.append(hourly)
    client = hourly.test_client()
    now = int(time.time())
    assert client.get("/movies", headers=bearer(minter.token(iat=now, exp=now + 3600))).status_code == 200
    refused = client.get("/movies", headers=bearer(minter.token(iat=now, exp=now + 3601)))
    assert_invalid_token(refused)
    assert refused.json["message"] == "token lifetime (exp - iat) is longer than the 3600 seconds allowed"


def test_local_issuer_tokens_and_independent_tokens_agree(client, issuer, minter):
    """LocalIssuer.mint and the hand-built tokens are interchangeable: both pass the same verifier."""
    for token in (issuer.mint("casting-assistant"), minter.token("casting-assistant")):
        assert client.get("/actors", headers=bearer(token)).status_code == 200
        assert client.post("/actors", headers=bearer(token), json={}).status_code == 403


# --- 3. the JWKS cache over real HTTP --------------------------------------------------------

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


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


# The verifier's cache of verified tokens, with a fake clock: an entry lasts until the token's exp or max_age,
# whichever comes first.


def test_a_token_verified_a_second_before_its_exp_is_not_honoured_once_exp_passed():
    clock = FakeClock()
    verified = auth.VerifiedTokens(max_age=300, clock=clock)
    claims = {"sub": "test|x", "exp": int(clock.now) + 1}
    verified.put("token", claims)
    clock.now += 0.5
    assert verified.get("token") == claims
    clock.now += 0.5  # exp itself: PyJWT holds a token expired from its exp on (before any leeway)
    assert verified.get("token") is None
    clock.now += 60
    assert verified.get("token") is None  # forgotten, not revived within max_age


def test_a_verified_token_is_honoured_for_max_age_at_most():
    """A key withdrawn from the key set stops being honoured within max_age, whatever the token's exp."""
    clock = FakeClock()
    verified = auth.VerifiedTokens(max_age=300, clock=clock)
    claims = {"sub": "test|x", "exp": int(clock.now) + 3600}
    verified.put("token", claims)
    clock.now += 299.9
    assert verified.get("token") == claims
    clock.now += 0.1
    assert verified.get("token") is None


def test_a_verified_token_is_honoured_from_the_cache_within_its_lifetime(make_app, built_apps):
    """The app's verifier puts every token it verified in the cache, for no longer than its exp."""
    built = make_app()
    built_apps.append(built)
    verifier = built.extensions["token_verifier"]
    clock = FakeClock()
    clock.now = time.time()
    verifier.verified = auth.VerifiedTokens(max_age=300, clock=clock)
    exp = int(clock.now) + 60
    token = built.extensions["local_issuer"].mint("casting-assistant", exp=exp)
    assert built.test_client().get("/movies", headers=bearer(token)).status_code == 200
    cached = verifier.verified.get(token)
    assert cached is not None and cached["exp"] == exp and cached["sub"] == "local|casting-assistant"
    assert verifier.verify(token) is cached  # answered from the cache: the same claims, not decoded again
    clock.now = exp - 0.001
    assert verifier.verified.get(token) is cached
    clock.now = exp
    assert verifier.verified.get(token) is None


# --- 4. the production guard ---------------------------------------------------------------


@pytest.mark.parametrize("overrides,missing", [
    ({}, "set AUTH0_DOMAIN and API_AUDIENCE"),
    ({"AUTH0_DOMAIN": "casting.eu.auth0.com"}, "set API_AUDIENCE ("),
    ({"API_AUDIENCE": "https://casting-api"}, "set AUTH0_DOMAIN ("),
])
def test_production_without_auth0_refuses_to_start(make_app, overrides, missing):
    with pytest.raises(config.ConfigError, match=re.escape(missing)):
        make_app(PRODUCTION=True, **overrides)


@pytest.mark.parametrize("name,value", [("APP_ENV", "production"), ("DYNO", "web.1")])
def test_production_from_the_environment_refuses_the_local_issuer(monkeypatch, signing_key, database_url, name,
                                                                    value):
    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match="AUTH0_DOMAIN and API_AUDIENCE"):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                    "LOCAL_ISSUER_PRIVATE_KEY": pem(signing_key)})


def test_production_with_auth0_settings_starts_without_a_local_issuer(make_app, built_apps):
    """The guard is not a blanket refusal: a complete production configuration builds."""
    built = make_app(PRODUCTION=True, AUTH0_DOMAIN="casting.eu.auth0.com", API_AUDIENCE="https://casting-api",
                     JWKS_URL="https://casting.eu.auth0.com/.well-known/jwks.json",
                     TOKEN_ISSUER="https://casting.eu.auth0.com/",
                     SQLALCHEMY_DATABASE_URI="postgresql://nobody@127.0.0.1:1/nowhere")
    built_apps.append(built)
    assert built.extensions["local_issuer"] is None
    assert built.extensions["token_verifier"].issuer == "https://casting.eu.auth0.com/"


AUTH0_ENV = {"AUTH0_DOMAIN": "casting.eu.auth0.com", "API_AUDIENCE": "https://casting-api",
             "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere"}


@pytest.mark.parametrize("name,value", [
    ("JWKS_URL", "http://127.0.0.1:8080/.well-known/jwks.json"),
    ("JWKS_URL", "https://evil.example/.well-known/jwks.json"),
    ("TOKEN_ISSUER", "https://evil.example/"),
    ("TOKEN_ISSUER", "https://casting.eu.auth0.com"),  # Auth0's iss ends with a slash
])
@pytest.mark.parametrize("production", [{"APP_ENV": "production"}, {"DYNO": "web.1"}], ids=["APP_ENV", "DYNO"])
@pytest.mark.parametrize("opt_in", [None, "", "false"], ids=["unset", "empty", "false"])
def test_production_refuses_a_key_set_or_issuer_moved_from_auth0_domain(name, value, production, opt_in):
    env = {**AUTH0_ENV, **production, name: value}
    if opt_in is not None:
        env["ALLOW_TEST_ISSUER"] = opt_in
    with pytest.raises(config.ConfigError, match=rf"production .* needs {name} unset or .*{re.escape(repr(value))}"):
        config.resolve(config.load("/srv/instance", env), "/srv/instance")


@pytest.mark.parametrize("overrides", [
    {},
    {"JWKS_URL": "", "TOKEN_ISSUER": ""},  # setup.sh's empty placeholders
    {"JWKS_URL": "https://casting.eu.auth0.com/.well-known/jwks.json", "TOKEN_ISSUER": "https://casting.eu.auth0.com/"},
], ids=["unset", "empty", "the-derived-values"])
def test_production_accepts_the_key_set_and_issuer_of_auth0_domain(overrides):
    settings = config.load("/srv/instance", {**AUTH0_ENV, "APP_ENV": "production", **overrides})
    config.resolve(settings, "/srv/instance")


def test_production_trusts_a_stand_in_issuer_only_with_allow_test_issuer(monkeypatch, built_apps):
    """What bench/run.py and the production-mode tests do: the whole app refuses, then starts with the opt-in."""
    for name in AUTH_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**AUTH0_ENV, "APP_ENV": "production", "JWKS_URL": "http://127.0.0.1:9/.well-known/jwks.json",
                        "TOKEN_ISSUER": "https://stand-in.test/"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ALLOW_TEST_ISSUER", raising=False)
    both = r"needs JWKS_URL unset or .* and TOKEN_ISSUER unset or .*ALLOW_TEST_ISSUER=true"
    with pytest.raises(config.ConfigError, match=both):
        create_app({"TESTING": True})

    monkeypatch.setenv("ALLOW_TEST_ISSUER", "true")
    built = create_app({"TESTING": True})
    built_apps.append(built)
    assert built.config["PRODUCTION"] is True
    assert built.extensions["token_verifier"].issuer == "https://stand-in.test/"


def flask_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def cli_env(signing_key, database_url) -> dict:
    """The environment of a developer's shell: the test key and database, development mode, no Auth0 settings."""
    env = {name: value for name, value in os.environ.items() if name not in AUTH_ENV}
    env.update(LOCAL_ISSUER_PRIVATE_KEY=pem(signing_key), DATABASE_URL=database_url, APP_ENV="development")
    return env


@pytest.mark.parametrize("name,value", [("APP_ENV", "production"), ("DYNO", "web.1")])
def test_token_command_refuses_to_run_in_production(cli_env, name, value):
    result = flask_cli("token", "casting-director", env={**cli_env, name: value})
    assert result.returncode != 0
    assert result.stdout == "", "no token may be printed in production"
    assert "AUTH0_DOMAIN and API_AUDIENCE" in result.stderr
    assert "local token issuer never runs in production" in result.stderr


# --- 5. the token command and the local issuer's key ----------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_token_command_prints_one_jwt_that_the_api_accepts(client, cli_env, signing_key, issuer, role):
    result = flask_cli("token", role, env=cli_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and result.stdout == lines[0] + "\n", result.stdout
    token = lines[0]
    assert JWT_SHAPE.fullmatch(token)

    claims = jwt.decode(token, signing_key.public_key(), algorithms=["RS256"], audience=issuer.audience,
                        issuer=issuer.issuer)
    assert set(claims["permissions"]) == CONTRACT[role]
    assert jwt.get_unverified_header(token)["kid"] == issuer.kid
    assert client.get("/movies", headers=bearer(token)).status_code == 200
    can_post_actors = "post:actors" in CONTRACT[role]
    response = client.post("/actors", headers=bearer(token), json={"name": "CLI", "age": 1, "gender": "x"})
    assert response.status_code == (201 if can_post_actors else 403)


def test_token_command_expires_in(cli_env):
    result = flask_cli("token", "casting-assistant", "--expires-in", "60", env=cli_env)
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60


@pytest.mark.parametrize("args", [["token", "casting-intern"], ["token"], ["token", "casting-director",
                                                                            "--expires-in", "0"]],
                         ids=["unknown-role", "no-role", "zero-lifetime"])
def test_token_command_rejects_bad_arguments(cli_env, args):
    result = flask_cli(*args, env=cli_env)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Error" in result.stderr


def test_token_command_mints_nothing_the_app_would_refuse(cli_env):
    env = {**cli_env, "TOKEN_MAX_LIFETIME_SECONDS": "3600"}
    assert flask_cli("token", "casting-director", "--expires-in", "3600", env=env).returncode == 0
    refused = flask_cli("token", "casting-director", "--expires-in", "3601", env=env)
    assert refused.returncode != 0 and refused.stdout == "" and "3601 is not in the range" in refused.stderr


def test_local_issuer_key_file_is_private_and_reused(tmp_path):
    instance = tmp_path / "instance"
    first = local_issuer.LocalIssuer.from_instance(str(instance), "aud")
    key_file = instance / local_issuer.LOCAL_KEY_FILE
    assert key_file.name == "local-issuer-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = local_issuer.LocalIssuer.from_instance(str(instance), "aud")
    assert second.kid == first.kid and second.audience == "aud"
    assert sorted(p.name for p in instance.iterdir()) == ["local-issuer-key.pem"], "a temporary file was left"
    # The key really is the same: a token of one verifies with the other's JWKS.
    token = first.mint("casting-assistant")
    public = jwt.PyJWK(second.jwks()["keys"][0])
    assert jwt.decode(token, public, algorithms=["RS256"], audience="aud")["sub"] == "local|casting-assistant"


# --- 6. PUBLIC_READS ------------------------------------------------------------------------


@pytest.fixture
def public_client(make_app, built_apps, rows):
    built = make_app(PUBLIC_READS=True)
    built_apps.append(built)
    return built.test_client()


def shown(body: dict):
    """What a read shows, in short: a list's ids, a record's id and its cast or films, a history's entries."""
    if "history" in body:
        return [(entry["action"], entry["record"]["type"], entry["record"]["id"]) for entry in body["history"]]
    for key, embedded in (("movies", "actors"), ("actors", "movies")):
        if key in body:
            return [item["id"] for item in body[key]]
        if key[:-1] in body:
            return body[key[:-1]]["id"], [item["id"] for item in body[key[:-1]][embedded]]
    raise AssertionError(body)


# What each catalogue GET shows of `rows`: the movie cast with the actor...
PUBLIC_READS_SHOW = {
    "/movies": lambda r: [r["movie"]],
    "/movies/{movie}": lambda r: (r["movie"], [r["actor"]]),
    "/movies/{movie}/actors": lambda r: [r["actor"]],
    "/actors": lambda r: [r["actor"]],
    "/actors/{actor}": lambda r: (r["actor"], [r["movie"]]),
    "/actors/{actor}/movies": lambda r: [r["movie"]],
}
# ... and what each history GET shows a director: also a movie and an actor made then deleted.
HISTORY_SHOWN = {
    "/history": lambda r: [("deleted", "actor", r["deleted_actor"]), ("created", "actor", r["deleted_actor"]),
                           ("deleted", "movie", r["deleted_movie"]), ("created", "movie", r["deleted_movie"]),
                           ("cast", "actor", r["actor"]), ("created", "movie", r["movie"]),
                           ("created", "actor", r["actor"])],
    "/movies/{movie}/history": lambda r: [("created", "movie", r["movie"])],
    "/actors/{actor}/history": lambda r: [("cast", "actor", r["actor"]), ("created", "actor", r["actor"])],
}
HISTORY_GETS = [(method, path) for method, path in GETS if path in HISTORY_SHOWN]


def test_public_reads_split_the_gets_into_the_catalogue_and_the_history():
    assert {path for _, path in GETS} == set(PUBLIC_READS_SHOW) | set(HISTORY_SHOWN)


CATALOGUE_GETS = [(method, path) for method, path in GETS if path in PUBLIC_READS_SHOW]


@pytest.mark.parametrize("method,path", CATALOGUE_GETS, ids=[path for _, path in CATALOGUE_GETS])
def test_public_reads_open_the_catalogue(public_client, producer, rows, method, path):
    """Without a token, every catalogue GET answers what a token holder is answered."""
    url = path.format(**rows)
    response = public_client.open(url, method=method)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["success"] is True
    assert shown(response.json) == PUBLIC_READS_SHOW[path](rows)
    with_token = public_client.open(url, method=method, headers=producer)
    assert with_token.status_code == 200 and response.json == with_token.json


@pytest.mark.parametrize("method,path", HISTORY_GETS, ids=[path for _, path in HISTORY_GETS])
def test_public_reads_keep_the_history_behind_its_permission(public_client, headers, rows, method, path):
    """The history names who changed what: not for anonymous readers, nor for the assistant, on any deployment."""
    url = path.format(**rows)
    anonymous = public_client.open(url, method=method)
    assert_error(anonymous, 401)
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert_error(public_client.open(url, method=method, headers=headers("casting-assistant")), 403)
    director = public_client.open(url, method=method, headers=headers("casting-director"))
    assert director.status_code == 200, director.json
    assert shown(director.json) == HISTORY_SHOWN[path](rows)


@pytest.mark.parametrize("method,path,body", WRITES, ids=[f"{method} {path}" for method, path, _ in WRITES])
def test_public_reads_keep_writes_guarded(public_client, headers, rows, method, path, body):
    anonymous = public_client.open(path.format(**rows), method=method, json=body)
    assert_error(anonymous, 401)
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assistant = public_client.open(path.format(**rows), method=method, json=body,
                                   headers=headers("casting-assistant"))
    assert_error(assistant, 403)


@pytest.mark.parametrize("name", ["alg none", "expired beyond the leeway", "another RSA key with the same kid"])
def test_public_reads_still_reject_a_bad_token(public_client, minter, other_key, name):
    """A token that is sent is checked even where none is needed."""
    assert_invalid_token(public_client.get("/movies", headers=bearer(ATTACKS[name](minter, other_key))))
    assert_invalid_token(public_client.get("/movies", headers={"Authorization": "Bearer a.b"}))
