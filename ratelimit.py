"""Rate limits (Flask-Limiter): per token subject when a valid token came, per client address otherwise.

Reads and writes have separate budgets. With REDIS_URL every instance shares
one budget; without it each process counts in memory. When Redis is down the
API keeps serving (the limiter fails open and logs it).
"""

from __future__ import annotations

from flask import current_app, g, request
from flask_limiter import Limiter

from middleware import client_address

# A peer without an IP address (gunicorn on a Unix socket behind a proxy that forwards no address).
NO_ADDRESS = "0.0.0.0"  # noqa: S104 (a key, not an address to bind)


def client_key() -> str:
    claims = g.get("claims")
    if claims is None and request.headers.get("Authorization"):
        try:
            claims = current_app.extensions["authenticate"]()
        except Exception:  # an invalid token is counted by address; requires_auth answers it
            claims = None
    if claims:
        return "sub:" + claims["sub"]
    # Always an IP address (middleware.py checks a forwarded one), never text a client chose.
    return "ip:" + (client_address(request.remote_addr) or NO_ADDRESS)


limiter = Limiter(key_func=client_key)


def _limit(kind: str) -> str:
    return current_app.config[f"RATE_LIMIT_{kind}"]


reads = limiter.shared_limit(lambda: _limit("READS"), scope="reads")
writes = limiter.shared_limit(lambda: _limit("WRITES"), scope="writes")
