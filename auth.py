"""Bearer tokens: reading the header, the JWKS cache, RS256 verification, and requires_auth.

Production tokens come from Auth0; without AUTH0_DOMAIN a local issuer signs
them instead. Both are checked by the same code: the key named by the token's
`kid` is looked up in a JWKS (fetched over HTTP from Auth0, or handed over by
the local issuer) and the token must verify against it with RS256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from functools import wraps
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, current_app, g, request
from jwt.algorithms import RSAAlgorithm

import ratelimit
from config import MAX_TOKEN_LIFETIME_SECONDS, ConfigError
from errors import STATUS_MESSAGES, ApiError, ServiceUnavailable

log = logging.getLogger(__name__)

# Fixed here, never taken from the token or the environment.
ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 30
MAX_AUTHORIZATION_BYTES = 8192
MAX_JWKS_BYTES = 512 * 1024  # Auth0's key set is a few KiB
# NumericDate claims (exp, iat, nbf) beyond this are absurd (year 285 million) and no longer exact as floats.
MAX_NUMERIC_DATE = 2**53
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

ROLE_PERMISSIONS = {
    "casting-assistant": ["get:actors", "get:movies"],
    "casting-director": [
        "delete:actors", "get:actors", "get:history", "get:movies", "patch:actors", "patch:movies", "post:actors",
    ],
    "executive-producer": [
        "delete:actors", "delete:movies", "get:actors", "get:history", "get:movies",
        "patch:actors", "patch:movies", "post:actors", "post:movies",
    ],
}
PERMISSIONS = ROLE_PERMISSIONS["executive-producer"]

LOCAL_ISSUER = "urn:casting-agency:local-issuer"
LOCAL_AUDIENCE = "casting-agency-api"
LOCAL_KEY_FILE = "local-issuer-key.pem"


class AuthError(ApiError):
    """401 (no valid token) or 403 (valid token, missing permission), with the RFC 6750 challenge."""

    def __init__(self, status: int, description: str | None):
        if description is None:
            challenge = "Bearer"
            message = STATUS_MESSAGES[401]
        else:
            code = "invalid_token" if status == 401 else "insufficient_scope"
            challenge = f'Bearer error="{code}", error_description="{description}"'
            message = description
        super().__init__(status, message, headers={"WWW-Authenticate": challenge})


class IssuerUnavailable(ServiceUnavailable):
    def __init__(self):
        super().__init__("the token issuer's key set cannot be fetched; try again shortly")


def invalid(description: str) -> AuthError:
    return AuthError(401, description)


# --- the key set ------------------------------------------------------------------


class JwksFetchError(Exception):
    """A JWKS fetch that produced no document; the cache counts it as a failed refresh."""


def http_jwks_fetcher(url: str, timeout: float, max_bytes: int = MAX_JWKS_BYTES) -> Callable[[], dict]:
    """A fetch of the JWKS at `url` that returns or fails within `timeout` seconds of wall-clock time.

    `requests`' own timeout bounds each connect and each socket read, not the
    whole exchange: a server sending one byte at a time never trips it, and
    name resolution ignores it. So the request runs in a worker thread that the
    caller (who holds the cache lock) waits for at most `timeout`. The worker
    follows no redirect, stops reading at the deadline or past `max_bytes`, and
    only one runs at a time: while a fetch that outlived its caller is still
    running, further attempts fail at once instead of piling up threads.
    """
    running = threading.Lock()

    def fetch() -> dict:
        if not running.acquire(blocking=False):
            raise JwksFetchError("the previous JWKS fetch has not finished yet")
        deadline = time.monotonic() + timeout
        done = threading.Event()
        outcome: dict = {}

        def work() -> None:
            try:
                outcome["document"] = _get_jwks(url, timeout, deadline, max_bytes)
            except Exception as exc:  # handed to the caller, if it is still waiting
                outcome["error"] = exc
            finally:
                running.release()
                done.set()

        threading.Thread(target=work, name="jwks-fetch", daemon=True).start()
        if not done.wait(timeout):
            raise JwksFetchError(f"no JWKS from {url} within {timeout:g} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["document"]

    return fetch


def _get_jwks(url: str, timeout: float, deadline: float, max_bytes: int) -> dict:
    with requests.get(url, timeout=timeout, stream=True, allow_redirects=False,
                      headers={"Accept": "application/json"}) as response:
        if response.status_code != 200:
            raise JwksFetchError(f"the JWKS URL answered HTTP {response.status_code}")
        body = bytearray()
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            body += chunk
            if len(body) > max_bytes:
                raise JwksFetchError(f"the JWKS document is larger than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise JwksFetchError("the JWKS document arrived too slowly")
    return json.loads(body)


class JwksCache:
    """The issuer's signing keys by `kid`, fetched rarely and never by a flood of bad tokens.

    - Keys are kept for `ttl` seconds; after that they are still used while one
      background refresh fetches new ones, so a request never waits for it.
    - An unknown `kid` triggers one inline refresh (a rotated key).
    - After a fetch that worked, the next one waits `cooldown` seconds, whatever
      the number of tokens with unknown kids. After one that failed, the next
      waits `retry` seconds, doubling with each failure in a row up to
      `cooldown`: an issuer that is back is used again within seconds, and one
      that stays down is asked less and less often.
    - A failed fetch keeps the last good keys; with none at all the caller gets
      IssuerUnavailable (a 503).
    """

    def __init__(self, fetch: Callable[[], dict], ttl: float = 600, cooldown: float = 30, retry: float = 0.5,
                 clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch
        self._ttl = ttl
        self._cooldown = cooldown
        self._retry = retry
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._fetched_at = 0.0
        self._next_fetch_at: float | None = None  # None: nothing fetched yet
        self._failures = 0  # failed fetches in a row
        self._refreshing = False
        self.fetch_count = 0

    def key(self, kid: str) -> jwt.PyJWK:
        keys, stale = self._keys, self._clock() - self._fetched_at > self._ttl
        if keys is not None and kid in keys:
            if stale:
                self._refresh_in_background()
            return keys[kid]
        with self._lock:
            if self._keys is None or kid not in self._keys:
                self._refresh_if_allowed()
            if self._keys is None:
                raise IssuerUnavailable()
            if kid not in self._keys:
                raise invalid("token signed with an unknown key")
            return self._keys[kid]

    def _may_fetch(self) -> bool:
        return self._next_fetch_at is None or self._clock() >= self._next_fetch_at

    def _refresh_if_allowed(self) -> None:
        if self._may_fetch():
            self._refresh()

    def _refresh(self) -> None:
        self.fetch_count += 1
        # Claimed before the fetch, so that no other fetch starts while this one runs (a background one).
        self._next_fetch_at = self._clock() + self._cooldown
        try:
            document = self._fetch()
            keys = {
                jwk["kid"]: jwt.PyJWK(jwk, algorithm="RS256")
                for jwk in document["keys"]
                if jwk.get("kty") == "RSA" and jwk.get("kid") and jwk.get("use", "sig") == "sig"
                and jwk.get("alg", "RS256") == "RS256"
            }
        except Exception as exc:  # a network error, bad JSON or a bad key: keep what we had
            delay = min(self._cooldown, self._retry * 2**self._failures)
            self._failures += 1
            self._next_fetch_at = self._clock() + delay
            log.warning("JWKS fetch failed (%d in a row, next attempt in %g s at the earliest), keeping %d cached "
                        "keys: %s", self._failures, delay, len(self._keys or {}), exc)
            return
        self._keys = keys
        self._failures = 0
        self._fetched_at = self._clock()
        self._next_fetch_at = self._fetched_at + self._cooldown

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self._refreshing or not self._may_fetch():
                return
            self._refreshing = True

        def run():
            try:
                with self._lock:
                    self._refresh_if_allowed()
            finally:
                self._refreshing = False

        threading.Thread(target=run, name="jwks-refresh", daemon=True).start()


# --- verification -------------------------------------------------------------------

_JWT_ERRORS = [
    (jwt.ExpiredSignatureError, "token has expired"),
    (jwt.ImmatureSignatureError, "token is not valid yet"),
    (jwt.InvalidAudienceError, "token is for another audience"),
    (jwt.InvalidIssuerError, "token is from another issuer"),
    (jwt.InvalidAlgorithmError, "token algorithm is not allowed"),
    (jwt.InvalidSignatureError, "token signature does not verify"),
]


class VerifiedTokens:
    """Tokens that already verified, so a client's next request skips the signature check.

    Bounded (least recently used go first) and short-lived: an entry lasts until
    the token expires or `max_age` seconds pass, whichever is sooner, so a key
    withdrawn from the JWKS stops being honoured within `max_age`.
    """

    def __init__(self, size: int = 2048, max_age: float = 300, clock: Callable[[], float] = time.time):
        self._size = size
        self._max_age = max_age
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> dict | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[token]
                return None
            self._entries.move_to_end(token)
            return entry[1]

    def put(self, token: str, claims: dict) -> None:
        until = min(float(claims["exp"]), self._clock() + self._max_age)
        with self._lock:
            self._entries[token] = (until, claims)
            self._entries.move_to_end(token)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class TokenVerifier:
    def __init__(self, keys: JwksCache, issuer: str, audience: str, max_lifetime: float = MAX_TOKEN_LIFETIME_SECONDS):
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.max_lifetime = max_lifetime
        self.verified = VerifiedTokens()

    def verify(self, token: str) -> dict:
        claims = self.verified.get(token)
        if claims is None:
            claims = self._verify(token)
            self.verified.put(token, claims)
        return claims

    def _verify(self, token: str) -> dict:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:  # not decodable, or a header PyJWT refuses (kid type, crit)
            raise invalid("token is malformed") from None
        if header.get("alg") not in ALGORITHMS:
            raise invalid("token algorithm is not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise invalid("token header has no kid")
        key = self.keys.key(kid)
        try:
            claims = jwt.decode(
                token, key=key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                leeway=LEEWAY_SECONDS, options={"require": REQUIRED_CLAIMS},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise invalid(f"token has no {exc.claim} claim") from None
        except jwt.InvalidTokenError as exc:
            for kind, description in _JWT_ERRORS:
                if isinstance(exc, kind):
                    raise invalid(description) from None
            raise invalid("token is invalid") from None
        for name in ("exp", "iat", "nbf"):
            if name in claims and not _is_numeric_date(claims[name]):
                raise invalid(f"token {name} claim must be a number of seconds since 1970")
        if claims["exp"] - claims["iat"] > self.max_lifetime:
            # A token that lives for years cannot be withdrawn: whoever signed it, it is refused.
            allowed = self.max_lifetime
            span = f"{allowed // 86400:g} days" if allowed % 86400 == 0 else f"{allowed:g} seconds"
            raise invalid(f"token lifetime (exp - iat) is longer than the {span} allowed")
        permissions = claims.get("permissions")
        if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
            raise invalid("token permissions claim must be a list of strings")
        if not isinstance(claims["sub"], str) or not claims["sub"].strip():
            # The subject names who acted (history, logs) and whose rate budget a request spends.
            raise invalid("token sub claim must be a non-empty string")
        return claims


def _is_numeric_date(value) -> bool:
    """A JSON number in [0, 2**53]: not a bool or a string, and never NaN, infinite or too large for a float."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= MAX_NUMERIC_DATE


def bearer_token(header: str | None) -> str | None:
    """The token from an `Authorization: Bearer <token>` header; None when there is no header."""
    if header is None:
        return None
    if len(header) > MAX_AUTHORIZATION_BYTES:
        raise invalid("authorization header is too large")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        raise invalid("authorization header must be: Bearer <token>")
    if not _TOKEN_SHAPE.fullmatch(token):
        raise invalid("token is malformed")
    return token


def authenticate() -> dict | None:
    """The verified claims of this request's token, or None when no token came (verified once per request)."""
    if "claims" not in g:
        token = bearer_token(request.headers.get("Authorization"))
        g.claims = None if token is None else current_app.extensions["token_verifier"].verify(token)
    return g.claims


def requires_auth(permission: str):
    """Guard a view: a verified token carrying `permission`, its claims left on `g.claims`.

    With PUBLIC_READS, GET needs no token (a token that is sent is still checked).
    Reads and writes are rate limited separately (ratelimit.py).
    """
    is_read = permission.startswith("get:")

    def decorator(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            public = is_read and current_app.config["PUBLIC_READS"]
            claims = authenticate()
            if claims is None:
                if not public:
                    raise AuthError(401, None)
            elif not public and permission not in claims["permissions"]:
                raise AuthError(403, f"token lacks the {permission} permission")
            return view(*args, **kwargs)

        guarded.required_permission = permission
        return (ratelimit.reads if is_read else ratelimit.writes)(guarded)

    return decorator


# --- the local issuer -----------------------------------------------------------------


class LocalIssuer:
    """Signs tokens for development and tests with an RSA key of its own."""

    def __init__(self, private_key: rsa.RSAPrivateKey, audience: str, issuer: str = LOCAL_ISSUER):
        self._private_key = private_key
        self.audience = audience
        self.issuer = issuer
        public_jwk = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
        self.kid = _thumbprint(public_jwk)
        self._jwks = {"keys": [{**public_jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    @classmethod
    def from_pem(cls, pem: str | bytes, audience: str) -> LocalIssuer:
        data = pem.encode() if isinstance(pem, str) else pem
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the local issuer key must be an RSA private key")
        return cls(key, audience)

    @classmethod
    def from_instance(cls, instance_path: str, audience: str) -> LocalIssuer:
        """The key kept under instance/, made on first use (mode 0600, written atomically)."""
        path = Path(instance_path) / LOCAL_KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mkstemp creates it 0600
            try:
                os.write(fd, pem)
                os.close(fd)
                os.link(temp, path)  # fails if another process got there first: use theirs
            except FileExistsError:
                pass
            finally:
                os.unlink(temp)
        return cls.from_pem(path.read_bytes(), audience)

    def jwks(self) -> dict:
        return self._jwks

    def mint(self, role: str, expires_in: int = 3600, **claims) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "sub": f"local|{role}",
            "aud": self.audience,
            "iat": now,
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
            "permissions": ROLE_PERMISSIONS[role],
            **claims,
        }
        return jwt.encode(payload, self._private_key, algorithm="RS256", headers={"kid": self.kid})


def _thumbprint(jwk: dict) -> str:
    """RFC 7638 key thumbprint: a stable kid derived from the key itself."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return jwt.utils.base64url_encode(digest).decode()


def init_app(app: Flask) -> None:
    """Pick the issuer (Auth0 or local) and hang one verifier on the app."""
    config = app.config
    if config["AUTH0_DOMAIN"]:
        if not config["API_AUDIENCE"]:
            raise ConfigError("AUTH0_DOMAIN is set but API_AUDIENCE is not")
        fetch = http_jwks_fetcher(config["JWKS_URL"], config["JWKS_TIMEOUT_SECONDS"])
        issuer, audience = config["TOKEN_ISSUER"], config["API_AUDIENCE"]
        app.extensions["local_issuer"] = None
    else:
        audience = config["API_AUDIENCE"] or LOCAL_AUDIENCE
        if config["LOCAL_ISSUER_PRIVATE_KEY"]:
            local = LocalIssuer.from_pem(config["LOCAL_ISSUER_PRIVATE_KEY"], audience)
        else:
            local = LocalIssuer.from_instance(app.instance_path, audience)
        fetch, issuer = local.jwks, local.issuer
        app.extensions["local_issuer"] = local
    keys = JwksCache(fetch, ttl=config["JWKS_TTL_SECONDS"], cooldown=config["JWKS_COOLDOWN_SECONDS"])
    app.extensions["token_verifier"] = TokenVerifier(keys, issuer, audience,
                                                     max_lifetime=config["TOKEN_MAX_LIFETIME_SECONDS"])
    app.extensions["authenticate"] = authenticate
