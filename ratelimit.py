"""Rate limits (Flask-Limiter): per token subject when a valid token came, per client address otherwise.

Reads and writes have separate budgets. With REDIS_URL every instance shares
one budget; without it each process counts in memory. When Redis is down the
API keeps serving (the limiter fails open and logs it).
"""

from __future__ import annotations

import threading
import time

from flask import current_app, g, request
from flask_limiter import Limiter
from limits.storage import RedisStorage

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


class OneTripRedisStorage(RedisStorage):
    """limits' Redis storage, but the counter it increments comes back with its time to live in the same
    round trip, and the window stats the limiter asks for right after (for the X-RateLimit headers) are
    answered from it: one Redis command per request instead of three."""

    STORAGE_SCHEME = ["onetrip+redis", "onetrip+rediss"]
    SCRIPT_INCR_EXPIRE_TTL = """
local current = redis.call("incrby", KEYS[1], tonumber(ARGV[2]))
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("pttl", KEYS[1])}
"""

    def __init__(self, uri: str, **options):
        super().__init__(uri.removeprefix("onetrip+"), **options)
        self._last = threading.local()

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self.lua_incr_expire_ttl = self.get_connection().register_script(self.SCRIPT_INCR_EXPIRE_TTL)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        current, ttl_ms = self.lua_incr_expire_ttl([self.prefixed_key(key)], [expiry, amount])
        self._last.counted = (key, int(current), time.time() + max(int(ttl_ms), 0) / 1000, time.monotonic())
        return int(current)

    def _just_counted(self, key: str):
        counted = getattr(self._last, "counted", None)
        if counted and counted[0] == key and time.monotonic() - counted[3] < 1.0:
            return counted
        return None

    def get(self, key: str) -> int:
        counted = self._just_counted(key)
        return counted[1] if counted else super().get(key)

    def get_expiry(self, key: str) -> float:
        counted = self._just_counted(key)
        return counted[2] if counted else super().get_expiry(key)


limiter = Limiter(key_func=client_key)


def _limit(kind: str) -> str:
    return current_app.config[f"RATE_LIMIT_{kind}"]


reads = limiter.shared_limit(lambda: _limit("READS"), scope="reads")
writes = limiter.shared_limit(lambda: _limit("WRITES"), scope="writes")
