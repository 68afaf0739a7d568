"""Bearer tokens: reading the header, RS256 verification, and requires_auth.

Production tokens come from Auth0; in development a local issuer (casting/tokens/local_issuer.py) signs
them instead. Both are checked by the same code: the key named by the token's `kid` is looked up in a JWKS
(casting/tokens/jwks.py: fetched over HTTP from Auth0, or handed over by the local issuer) and the token
must verify against it with RS256.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from functools import wraps

import jwt
from flask import Flask, current_app, g, request

from casting.config import MAX_TOKEN_LIFETIME_SECONDS
from casting.errors import AuthError, invalid
from casting.lru import LruCache
from casting.schemas.text import subject_problem
from casting.tokens.jwks import JwksCache, http_jwks_fetcher
from casting.tokens.local_issuer import LOCAL_AUDIENCE, LocalIssuer
from casting.tokens.roles import PUBLIC_PERMISSIONS

log = logging.getLogger(__name__)

# Fixed here, never taken from the token or the environment.
ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 30
MAX_AUTHORIZATION_BYTES = 8192
# NumericDate claims (exp, iat, nbf) beyond this are absurd (year 285 million) and no longer exact as floats.
MAX_NUMERIC_DATE = 2**53
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

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
    the token expires or `max_age` seconds pass, whichever is sooner; and one
    whose signing key (`kid`) `key_known` no longer knows is dropped at once, so a
    key withdrawn from the JWKS stops being honoured as soon as the key set in
    memory has lost it (a refresh), within `max_age` at the latest.
    """

    def __init__(self, size: int = 2048, max_age: float = 300, clock: Callable[[], float] = time.time):
        self._max_age = max_age
        self._clock = clock
        self._cache = LruCache(size, clock)

    def get(self, token: str, key_known: Callable[[str], bool] | None = None) -> dict | None:
        entry = self._cache.get(token)
        if entry is None:
            return None
        claims, kid = entry
        if kid is not None and key_known is not None and not key_known(kid):
            self._cache.forget(token)
            return None
        return claims

    def put(self, token: str, claims: dict, kid: str | None = None) -> None:
        self._cache.put(token, (claims, kid), until=min(float(claims["exp"]), self._clock() + self._max_age))


class TokenVerifier:
    def __init__(self, keys: JwksCache, issuer: str, audience: str, max_lifetime: float = MAX_TOKEN_LIFETIME_SECONDS):
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.max_lifetime = max_lifetime
        self.verified = VerifiedTokens()

    def verify(self, token: str) -> dict:
        claims = self.verified.get(token, self.keys.known)
        if claims is None:
            claims, kid = self._verify(token)
            self.verified.put(token, claims, kid)
        return claims

    def _verify(self, token: str) -> tuple[dict, str]:
        """The token's claims and the `kid` of the key it verified with; AuthError (401) when it does not."""
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
        problem = subject_problem(claims["sub"])
        if problem:
            # The subject names who acted (history, logs) and whose rate budget a request spends: it must be
            # storable in both databases' columns, and unable to disguise a log line or a history entry.
            raise invalid(f"token sub claim {problem}")
        return claims, kid


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

    With PUBLIC_READS, the catalogue's reads need no token (a token that is sent is still checked).
    """
    catalogue_read = permission in PUBLIC_PERMISSIONS

    def decorator(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            public = catalogue_read and current_app.config["PUBLIC_READS"]
            claims = authenticate()
            if claims is None:
                if not public:
                    raise AuthError(401, None)
            elif not public and permission not in claims["permissions"]:
                raise AuthError(403, f"token lacks the {permission} permission")
            return view(*args, **kwargs)

        guarded.required_permission = permission
        return guarded

    return decorator


def requires_auth_by(parameter: str, permissions: dict[str, str]):
    """Guard a view whose permission depends on a query parameter's value (POST /imports?type=movies): a verified
    token carrying the permission `permissions` names for it. A missing or unknown value needs a valid token
    here, and the view's own check of its parameters answers it (400)."""

    def decorator(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            claims = authenticate()
            if claims is None:
                raise AuthError(401, None)
            permission = permissions.get(request.args.get(parameter, ""))
            if permission is not None and permission not in claims["permissions"]:
                raise AuthError(403, f"token lacks the {permission} permission")
            return view(*args, **kwargs)

        guarded.permission_by = (parameter, dict(permissions))  # casting.openapi documents each
        return guarded

    return decorator


def require_permission(permission: str, why: str) -> None:
    """Inside a guarded view: a 403 unless this request's token carries `permission` as well (`why` says what
    needs it)."""
    if permission not in (g.claims or {}).get("permissions", ()):
        raise AuthError(403, f"token lacks the {permission} permission, which {why}")


def init_app(app: Flask) -> None:
    """Pick the issuer (Auth0 or local) and hang one verifier on the app."""
    config = app.config
    if config["AUTH0_DOMAIN"]:
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
