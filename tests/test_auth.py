"""Authentication and authorisation (the root's auth.py), end to end with real RS256 tokens (the verifier is never
patched): the RBAC matrix of the contract, token attacks and malformed headers, the verifier's cache of verified
tokens, and PUBLIC_READS.

The issuer's key set (casting/tokens/jwks.py) and the local issuer with `flask token` have their tests in tests/tokens/;
the production guard of the Auth0 settings is in tests/test_config.py.
"""


from __future__ import annotations

import base64
import json
import re
import secrets
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

import auth
from casting.errors import AuthError
from casting.tokens.jwks import JwksCache
from tests.utils.asserters import assert_error, assert_invalid_token
from tests.utils.tokens import (
    CONTRACT,
    DROP,
    ROLES,
    FakeClock,
    Minter,
    b64json,
    bearer,
    hs256,
    jwks_document,
    new_rsa_key,
    rs256,
    unsigned,
)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return new_rsa_key()


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
    ("PUT", "/movies/{movie}/cast", "patch:movies", {"cast": []}, 200),
    ("GET", "/movies/export", "get:movies", None, 200),
    ("GET", "/castings/export", "get:movies", None, 200),
    ("GET", "/actors", "get:actors", None, 200),
    ("GET", "/actors/export", "get:actors", None, 200),
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
# The JSON reads (the exports' files have tests of their own, tests/api/test_exports.py, PUBLIC_READS included).
GETS = [(method, path) for method, path, *_ in ENDPOINTS if method == "GET" and not path.endswith("/export")]
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
        assert response.status_code == success, response.get_data(as_text=True)[:500]
        if response.mimetype == "application/json":
            assert response.json["success"] is True
        else:  # an export's file, read to its end line
            assert response.get_data(as_text=True).rstrip().splitlines()[-1].startswith("#end,")
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


# --- 3. the verifier's cache of verified tokens --------------------------------------------

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


def test_a_cached_token_is_refused_once_its_key_has_left_the_key_set():
    """Rotation: a token verified a moment ago is honoured from the cache only while its signing key is still in
    the key set in memory; once a refresh has dropped the key, the next request verifies it again and is refused
    (unknown key), long before max_age. A token of the key that stays is still answered from the cache."""
    clock = FakeClock()
    old_key, new_key = new_rsa_key(), new_rsa_key()
    published = {"old": old_key, "new": new_key}
    cache = JwksCache(lambda: jwks_document(published), ttl=600, cooldown=30, clock=clock)
    verifier = auth.TokenVerifier(cache, "https://issuer.test/", "casting")
    verifier.verified = auth.VerifiedTokens(max_age=300, clock=lambda: clock.now)
    old = Minter(old_key, "old", "https://issuer.test/", "casting")
    new = Minter(new_key, "new", "https://issuer.test/", "casting")
    now = int(time.time())  # PyJWT reads the real time; the caches read the fake clock
    old_token, new_token = (m.token(iat=now, exp=now + 3600) for m in (old, new))
    old_claims, new_claims = verifier.verify(old_token), verifier.verify(new_token)
    assert verifier.verify(old_token) is old_claims and verifier.verify(new_token) is new_claims  # cached
    del published["old"]
    clock.now += 31  # past the cooldown: a token naming an unknown key refreshes the set
    with pytest.raises(AuthError) as refused:
        verifier.verify(Minter(new_rsa_key(), "unknown", "https://issuer.test/", "casting").token(iat=now,
                                                                                               exp=now + 3600))
    assert refused.value.message == "token signed with an unknown key"
    assert not cache.known("old") and cache.known("new")
    with pytest.raises(AuthError) as refused:
        verifier.verify(old_token)  # 31 s after it was cached, well within max_age
    assert refused.value.message == "token signed with an unknown key"
    assert verifier.verified.get(old_token) is None
    assert verifier.verify(new_token) is new_claims  # still from the cache


# --- 4. PUBLIC_READS ------------------------------------------------------------------------


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


# --- 5. what a subject may be (issue 21) ------------------------------------------------------------------------

# A `sub` the history's and the idempotency keys' VARCHAR(255) columns cannot hold on PostgreSQL (every write was a
# 500, reads a 200; SQLite stored them), or that would disguise a history entry or a log line.
BAD_SUBJECTS = {"256 characters": "auth0|" + "x" * 250, "NUL": "auth0|a\x00b", "lone surrogate": "auth0|\ud800",
                "right-to-left override": "auth0|\u202eevil", "left-to-right embedding": "auth0|\u202aa",
                "isolate": "auth0|\u2066a", "newline": "auth0|a\nb", "tag character": "auth0|\U000e0041"}


@pytest.mark.parametrize("name", BAD_SUBJECTS)
def test_a_subject_the_columns_or_the_logs_cannot_take_is_401_naming_the_claim(app, client, minter, name):
    token = bearer(minter.token(sub=BAD_SUBJECTS[name]))
    for response in (client.get("/movies", headers=token),
                     client.post("/movies", headers=token, json={"title": "Nobody", "release_date": "2020-01-01"}),
                     client.post("/actors", headers={**token, "Idempotency-Key": "k1"},
                                 json={"name": "Nobody", "age": 30, "gender": "f"})):
        assert_invalid_token(response)
        assert response.json["message"].startswith("token sub claim "), response.json
    assert client.get("/movies", headers=bearer(minter.token())).json["total"] == 0
    assert client.get("/history", headers=bearer(minter.token())).json["history"] == []


def test_a_255_character_subject_writes_and_is_named_in_the_history_and_the_log(app, client, minter, caplog):
    """The longest subject the columns hold works end to end: a keyed write (its outcome kept under the subject), its
    replay, its history entry; and the access log line is one JSON line naming it exactly, quotes and all."""
    import logging

    from casting.web.middleware import JsonFormatter

    subject = 'auth0|"}, {"sub": "admin' + "y" * (255 - 24)
    assert len(subject) == 255
    token = {**bearer(minter.token(sub=subject)), "Idempotency-Key": "longest"}
    with caplog.at_level(logging.INFO, logger="casting.access"):
        created = client.post("/movies", headers=token, json={"title": "Longest", "release_date": "2020-01-01"})
    assert created.status_code == 201, created.json
    replayed = client.post("/movies", headers=token, json={"title": "Longest", "release_date": "2020-01-01"})
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json == created.json
    entries = client.get("/history", headers=bearer(minter.token())).json["history"]
    assert [(e["action"], e["subject"]) for e in entries] == [("created", subject)]
    records = [r for r in caplog.records if r.name == "casting.access" and r.fields["status"] == 201]
    lines = [JsonFormatter().format(r) for r in records]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert json.loads(lines[0])["sub"] == subject
