"""The local token issuer of development mode and the tests: an RSA key of its own, its JWKS, and tokens for
each role. It never exists in production (casting/config.py, auth.init_app)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
import unicodedata
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from casting.tokens.claims import EMAIL, NAME
from casting.tokens.roles import ROLE_PERMISSIONS

LOCAL_ISSUER = "urn:casting-agency:local-issuer"
LOCAL_AUDIENCE = "casting-agency-api"
LOCAL_KEY_FILE = "local-issuer-key.pem"


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

    def mint(self, role: str, expires_in: int = 3600, *, name: str | None = None, email: str | None = None,
             **claims) -> str:
        """A token for `role`. With a `name` it is that person's: a subject of their own (two directors who
        sign in as different people are two people in the history) and the name and email claims an Auth0
        token carries (casting.tokens.claims)."""
        now = int(time.time())
        person = {}
        if name:
            person[NAME] = name
            if email:
                person[EMAIL] = email
        payload = {
            "iss": self.issuer,
            "sub": subject(role, name),
            "aud": self.audience,
            "iat": now,
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
            "permissions": ROLE_PERMISSIONS[role],
            **person,
            **claims,
        }
        return jwt.encode(payload, self._private_key, algorithm="RS256", headers={"kid": self.kid})


def subject(role: str, name: str | None = None) -> str:
    """The local issuer's subject for a role, or for a named person in it: `local|casting-director`, or
    `local|casting-director|dana-whitfield-3fa9c1` (a readable part, and a digest that tells apart names
    that read alike)."""
    if not name:
        return f"local|{role}"
    readable = re.sub(r"[^a-z0-9]+", "-", unicodedata.normalize("NFKD", name).encode("ascii", "ignore")
                      .decode().lower()).strip("-")[:40]
    digest = hashlib.sha256(name.strip().encode()).hexdigest()[:6]
    return f"local|{role}|{readable + '-' if readable else ''}{digest}"


def _thumbprint(jwk: dict) -> str:
    """RFC 7638 key thumbprint: a stable kid derived from the key itself."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return jwt.utils.base64url_encode(digest).decode()
