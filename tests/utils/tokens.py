"""Keys, key sets and tokens: the contract's permission table, RSA keys as PEM and as a JWKS, and RS256 tokens
minted by hand (Minter), so that any header or claim can be bent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

ROLES = ["casting-assistant", "casting-director", "executive-producer"]

# The permission table of docs/api.md, written out independently of roles.ROLE_PERMISSIONS.
READS = {"get:movies", "get:actors"}
DIRECTOR = READS | {"post:actors", "patch:actors", "delete:actors", "patch:movies", "get:history"}
CONTRACT = {
    "casting-assistant": READS,
    "casting-director": DIRECTOR,
    "executive-producer": DIRECTOR | {"post:movies", "delete:movies"},
}

PROD_DOMAIN = "issuer.test"
PROD_ISSUER = f"https://{PROD_DOMAIN}/"
PROD_AUDIENCE = "https://casting-agency.test/api"


# --- keys and key sets ---------------------------------------------------------------------------------------


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_document(keys: dict[str, rsa.RSAPrivateKey]) -> dict:
    return {"keys": [{**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "RS256", "use": "sig"}
                     for kid, key in keys.items()]}


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


# --- time, for the caches of keys and of verified tokens -------------------------------------------


class FakeClock:
    """The time the key-set cache and the cache of verified tokens read: it moves only when a test moves it."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
