"""The issuer's signing keys (its JWKS): fetched within a bounded time, cached, refreshed in the background,
and never fetched by a flood of tokens naming unknown keys."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

import jwt

from casting.errors import IssuerUnavailable, invalid

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 512 * 1024  # Auth0's key set is a few KiB


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
    # Imported at the first fetch, not at every start: 30 ms that the command line, which never fetches, paid.
    import requests

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

    def known(self, kid: str) -> bool:
        """Whether the key set in memory holds `kid` (no fetch, no lock: the cache of verified tokens asks it on
        every request)."""
        keys = self._keys
        return keys is not None and kid in keys

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

    def prefetch(self) -> bool:
        """Fetch the key set now if none was fetched yet (a worker's warm-up); whether keys are at hand."""
        with self._lock:
            if self._keys is None:
                self._refresh_if_allowed()
            return self._keys is not None

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
