"""The local token issuer of development mode and the tests: an RSA key of its own, its JWKS, and tokens for
each role. It never exists in production (config.py, auth.init_app)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from roles import ROLE_PERMISSIONS

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
