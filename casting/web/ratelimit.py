"""Rate limits, with the `limits` library: per token subject when a valid token came, per client address
otherwise, and separate budgets for reads and writes (fixed windows).

- With REDIS_URL every instance counts in one Redis (OneTripRedisStorage: one command a lease); without it
  each process counts in memory.
- A process leases a budget's requests from Redis in slices (`lease_size`: at most one hundredth of the
  limit, at most LEASE_MAX, one for limits under 200) and spends them locally, so a busy client costs one
  Redis command every slice instead of one a request. A lease never grants past the limit (the last one of a
  window gets what is left) and ends before its window's key expires in Redis, so no window admits more
  than the limit; the cost is that requests leased by one process and not spent there are lost to the
  others: a window may refuse a client after `limit - processes × (slice - 1)` requests (docs/operations.md).
- When Redis cannot be reached the API keeps serving on per-process budgets in memory (logged once), each
  the limit divided among the dyno's worker processes (WEB_CONCURRENCY), so that one dyno still allows
  about the limit; it goes back to Redis once it answers again (tried again after a growing pause, up to a
  minute). docs/operations.md gives the bound for several dynos.
- Every limited answer carries X-RateLimit-Limit, -Remaining and -Reset; a 429 carries Retry-After.
- Each app has its own limiter (init_app), so two apps in one process never share budgets or an outage.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time

from flask import Flask, Response, current_app, g, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from auth import authenticate
from casting.errors import STATUS_MESSAGES, ApiError
from casting.lru import LruCache
from casting.web.middleware import client_address

log = logging.getLogger(__name__)

# A peer without an IP address (gunicorn on a Unix socket behind a proxy that forwards no address).
NO_ADDRESS = "0.0.0.0"  # noqa: S104 (a key, not an address to bind)
RETRY_STORAGE_MAX_SECONDS = 60.0
# The largest slice a process leases from Redis at once, and the share of a limit a slice may be at most.
LEASE_MAX = 100
LEASE_SHARE = 100
LEASES_KEPT = 10_000  # (budget, client) pairs whose leases a process remembers, least recently used forgotten


class OneTripRedisStorage(RedisStorage):
    """limits' Redis storage, but the counter it increments comes back with its time to live in the same
    round trip, and the window stats asked for right after (for the X-RateLimit headers) are answered
    from it: one Redis command per request instead of three."""

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
        return self.lease(key, expiry, amount)[0]

    def lease(self, key: str, expiry: int, amount: int) -> tuple[int, float]:
        """Add `amount` to the counter; its value after, and its time to live in seconds, in one round trip."""
        current, ttl_ms = self.lua_incr_expire_ttl([self.prefixed_key(key)], [expiry, amount])
        ttl = max(int(ttl_ms), 0) / 1000
        self._last.counted = (key, int(current), time.time() + ttl, time.monotonic())
        return int(current), ttl

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


def client_key() -> str:
    claims = g.get("claims")
    if claims is None and request.headers.get("Authorization"):
        try:
            claims = authenticate()
        except Exception:  # an invalid token is counted by address; requires_auth answers it
            claims = None
    if claims:
        return "sub:" + claims["sub"]
    # Always an IP address (casting/web/middleware.py checks a forwarded one), never text a client chose.
    return "ip:" + (client_address(request.remote_addr) or NO_ADDRESS)


class Lease:
    """Requests of one budget's window that this process took from Redis and has not spent yet."""

    __slots__ = ("left", "free", "reset", "until")

    def __init__(self, left: int, free: int, reset: float, until: float):
        self.left = left  # still to spend here
        self.free = free  # what Redis had left for the others when it was leased
        self.reset = reset  # when the window resets (wall clock, for X-RateLimit-Reset)
        self.until = until  # when this process stops spending it (monotonic, before the key expires)


def lease_size(item: RateLimitItem) -> int:
    """How many requests of `item`'s budget a process leases at once (1: a Redis command every request)."""
    return max(1, min(LEASE_MAX, item.amount // LEASE_SHARE))


class Limiter:
    """One app's budgets: its storage, the in-memory fallback, and the state of an outage."""

    def __init__(self, app: Flask):
        self.enabled = app.config["RATELIMIT_ENABLED"]
        self.storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"],
                                           **app.config["RATELIMIT_STORAGE_OPTIONS"])
        self.strategy = FixedWindowRateLimiter(self.storage)
        self.fallback = FixedWindowRateLimiter(MemoryStorage())
        # While Redis is down, each process counts alone: its share of the budget (one in-memory limiter
        # without Redis at all counts alone by design, on the whole budget).
        self.fallback_share = app.config["RATELIMIT_PROCESSES"] if isinstance(self.storage, RedisStorage) else 1
        self._lock = threading.Lock()
        self._down_until = 0.0  # while down: counted in memory until then, then Redis is tried again
        self._pause = 1.0
        self._leases = LruCache(LEASES_KEPT, clock=time.monotonic)

    def hit(self, item: RateLimitItem, scope: str, key: str) -> tuple[bool, int, float, RateLimitItem]:
        """Count one request; whether it is within the budget, what is left, when the window resets, and the
        budget it was counted against (this process's share while Redis is down)."""
        if time.monotonic() >= self._down_until:
            try:
                if isinstance(self.storage, OneTripRedisStorage) and lease_size(item) > 1:
                    allowed, remaining, reset = self._leased(item, scope, key)
                else:
                    allowed = self.strategy.hit(item, scope, key)
                    reset, remaining = self.strategy.get_window_stats(item, scope, key)
            except Exception as exc:  # the shared storage is down: keep serving on this process's budgets
                self._storage_failed(exc)
            else:
                self._storage_answered()
                return allowed, remaining, reset, item
        share = _share(item, self.fallback_share)
        allowed = self.fallback.hit(share, scope, key)
        reset, remaining = self.fallback.get_window_stats(share, scope, key)
        return allowed, remaining, reset, share

    def _leased(self, item: RateLimitItem, scope: str, key: str) -> tuple[bool, int, float]:
        """One request against a lease: spent from what this process holds, else from a new slice (one Redis
        command). A window whose budget is all leased out refuses here until it ends, without asking Redis."""
        name = item.key_for(scope, key)
        lease = self._leases.get(name)
        with self._lock:
            if lease is not None and (lease.left > 0 or lease.free == 0):
                if lease.left == 0:
                    return False, 0, lease.reset
                lease.left -= 1
                return True, lease.free + lease.left, lease.reset
        size = lease_size(item)
        sent = time.monotonic()
        current, ttl = self.storage.lease(name, item.get_expiry(), size)
        granted = min(size, max(0, item.amount - (current - size)))  # never past the limit
        free = max(0, item.amount - current)
        with self._lock:
            held = self._leases.get(name)
            left = granted + (held.left if held is not None else 0)
            # Measured from before the command was sent: the lease ends no later than the key in Redis.
            lease = Lease(max(0, left - 1), free, time.time() + ttl, sent + ttl)
            self._leases.put(name, lease, until=lease.until)
        if left == 0:
            return False, 0, lease.reset
        return True, free + lease.left, lease.reset

    def warm(self) -> None:
        """Open the shared storage's connection and load its script now, not on a client's first request
        (a worker's warm-up). Raises when the storage cannot be reached."""
        if not self.enabled:
            return
        if isinstance(self.storage, RedisStorage):
            client = self.storage.get_connection()
            client.ping()
            if isinstance(self.storage, OneTripRedisStorage):
                client.script_load(self.storage.SCRIPT_INCR_EXPIRE_TTL)

    def _storage_failed(self, exc: Exception) -> None:
        with self._lock:
            if self._down_until == 0.0:
                log.warning("rate-limit storage unreachable, counting in memory meanwhile: %s", exc)
            self._down_until = time.monotonic() + self._pause
            self._pause = min(self._pause * 2, RETRY_STORAGE_MAX_SECONDS)

    def _storage_answered(self) -> None:
        if self._down_until:
            with self._lock:
                log.info("rate-limit storage reachable again")
                self._down_until, self._pause = 0.0, 1.0


def init_app(app: Flask) -> None:
    app.extensions["ratelimit"] = Limiter(app)

    @app.after_request
    def _rate_limit_headers(response: Response) -> Response:
        # On every answer of a limited route, errors (a 401, a 422) included.
        response.headers.update(g.get("rate_limit_headers", {}))
        return response


@functools.lru_cache(maxsize=32)
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


@functools.lru_cache(maxsize=32)
def _share(item: RateLimitItem, processes: int) -> RateLimitItem:
    """One process's share of a budget counted by `processes` processes alone (at least one request)."""
    if processes <= 1:
        return item
    return type(item)(max(1, math.ceil(item.amount / processes)), item.multiples, item.namespace)


def _limited(scope: str, setting: str):
    def decorate(view):
        @functools.wraps(view)
        def limited(*args, **kwargs):
            limiter: Limiter = current_app.extensions["ratelimit"]
            if not limiter.enabled:
                return view(*args, **kwargs)
            item = _item(current_app.config[setting])
            allowed, remaining, reset, counted = limiter.hit(item, scope, client_key())
            headers = {"X-RateLimit-Limit": str(counted.amount), "X-RateLimit-Remaining": str(remaining),
                       "X-RateLimit-Reset": str(math.ceil(reset))}
            g.rate_limit_headers = headers
            if not allowed:
                wait = max(1, math.ceil(reset - time.time()))
                raise ApiError(429, STATUS_MESSAGES[429], headers={"Retry-After": str(wait)})
            return view(*args, **kwargs)

        limited.rate_limit = scope  # casting/openapi/ documents the X-RateLimit headers and the 429
        return limited

    return decorate


# The two budgets: a route takes one, outside requires_auth, so that a flood is a 429 before any token
# is looked at.
reads = _limited("reads", "RATE_LIMIT_READS")
writes = _limited("writes", "RATE_LIMIT_WRITES")

