"""Read followers (DATABASE_FOLLOWER_URLS): reads go to a follower that has replayed at least what the reader
has already seen, exactly, per client, with no fixed delay.

- Positions are catalogue versions (casting.catalogue.version): every write that changes the catalogue
  bumps it in its own transaction, so a follower whose version is V has replayed every write up to V, and
  every later statement on it sees at least that much (a follower replays forward only).
- A request's floor is the highest version it names: the `Catalogue-Version` header (each answer carries the
  version it was read or written at; the dashboard, the Postman collection and the generated clients send the
  highest back), the version inside a list's If-None-Match ETag (so a 304 is never answered from a source
  older than the ETag), and, for clients that send nothing, the version of the token subject's last write,
  kept in Redis (without Redis, or while it does not answer, such a client is read from the primary). A
  follower whose last known version is under the floor is passed over; none left: the
  primary. Nothing is shared between instances but PostgreSQL and Redis.
- Each process checks its followers every FOLLOWER_CHECK_SECONDS in a thread of its own: its version, whether
  it is replaying, and how far behind it is. One that is unreachable, not in recovery (promoted), or more
  than FOLLOWER_MAX_LAG_SECONDS behind leaves the rotation, logged, and comes back when it recovers. A read
  whose follower connection breaks is read again on the primary (transactions.safe_read).
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import threading
import time
from dataclasses import dataclass, field

import redis
from flask import Flask, current_app, g, request
from sqlalchemy import create_engine, text

log = logging.getLogger(__name__)

HEADER = "Catalogue-Version"
_VERSION = re.compile(r"[0-9]{1,18}")
_LIST_ETAG_VERSION = re.compile(r'(?:W/)?"v([0-9]{1,18})\.')
# Kept per token subject for clients that do not send the header: longer than any follower may lag.
SUBJECT_TTL_SECONDS = 600
UNKNOWN = 2**63 - 1  # a floor no follower reaches: the primary
_SUBJECT_MAX = """
local current = tonumber(redis.call('get', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
else redis.call('expire', KEYS[1], ARGV[2]) end
return 1
"""
_HEALTH = text(
    "SELECT pg_is_in_recovery(), (SELECT version FROM catalogue_version WHERE id = 1), "
    "CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 "
    "ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END")


@dataclass
class Follower:
    name: str
    engine: object
    in_rotation: bool = False
    version: int = 0  # the last version seen on it: a lower bound of what it shows from then on
    lag: float | None = None
    problem: str | None = "not checked yet"

    def describe(self) -> dict:
        shown = {"name": self.name, "in_rotation": self.in_rotation, "version": self.version,
                 "lag_seconds": None if self.lag is None else round(self.lag, 3)}
        if self.problem:
            shown["problem"] = self.problem
        return shown


@dataclass
class Followers:
    followers: list[Follower]
    max_lag: float
    every: float
    redis: redis.Redis | None
    _started: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """The checking thread, once per process (after gunicorn's fork: a thread does not survive one)."""
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            self._started = True
            self.check_all()
            threading.Thread(target=self._run, name="follower-check", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(self.every)
            self.check_all()

    def check_all(self) -> None:
        for follower in self.followers:
            self.check(follower)

    def check(self, follower: Follower) -> None:
        try:
            with follower.engine.connect() as connection:
                recovering, version, lag = connection.execute(_HEALTH).one()
        except Exception as exc:
            self._leave(follower, f"unreachable: {str(exc).strip().splitlines()[0][:200]}")
            follower.lag = None
            return
        follower.version = max(follower.version, int(version or 0))
        follower.lag = float(lag or 0)
        if not recovering:
            self._leave(follower, "not in recovery: it is no follower (promoted?)")
        elif follower.lag > self.max_lag:
            self._leave(follower, f"{follower.lag:.1f} s behind (more than {self.max_lag:g} s)")
        elif not follower.in_rotation:
            follower.in_rotation, follower.problem = True, None
            log.info("follower %s in rotation (version %d, %.3f s behind)", follower.name, version, follower.lag)

    def _leave(self, follower: Follower, problem: str) -> None:
        if follower.in_rotation or follower.problem != problem:
            log.warning("follower %s out of rotation: %s", follower.name, problem)
        follower.in_rotation, follower.problem = False, problem

    def failed(self, name: str, exc: BaseException) -> None:
        """A read on follower `name` broke: out of rotation until its next check says otherwise."""
        for follower in self.followers:
            if follower.name == name:
                self._leave(follower, f"a read's connection broke: {str(exc).strip().splitlines()[0][:200]}")

    def choose(self, floor: int) -> Follower | None:
        """A follower in rotation known to be at `floor` or later, at random; None: the primary."""
        self.start()
        ready = [f for f in self.followers if f.in_rotation and f.version >= floor]
        return random.choice(ready) if ready else None  # noqa: S311 - spreading load, not a secret

    def remember(self, subject: str, version: int) -> None:
        """The version a subject's write committed at, for their next reads (best effort)."""
        if self.redis is None:
            return
        try:
            self.redis.eval(_SUBJECT_MAX, 1, f"casting:written:{subject}", version, SUBJECT_TTL_SECONDS)
        except redis.RedisError as exc:
            log.info("could not keep %s's last write in Redis: %s", subject, exc)

    def written(self, subject: str) -> int | None:
        """The version of the subject's last write (0: none kept), or None when that cannot be known: no Redis,
        or Redis not answering."""
        if self.redis is None:
            return None
        try:
            return int(self.redis.get(f"casting:written:{subject}") or 0)
        except (redis.RedisError, ValueError) as exc:
            log.info("could not read %s's last write from Redis: %s", subject, exc)
            return None


def init_app(app: Flask) -> None:
    urls = app.config.get("DATABASE_FOLLOWER_URLS") or []
    if not urls:
        app.extensions["followers"] = None
        return
    from casting.config import engine_options  # a follower is connected to as the primary is

    options = engine_options(urls[0], app.config["DB_CONNECT_TIMEOUT_SECONDS"], app.config["DB_STATEMENT_TIMEOUT_MS"],
                             app.config.get("DATABASE_POOLED", False))
    followers = [Follower(f"follower-{number}", create_engine(url, **options))
                 for number, url in enumerate(urls, start=1)]
    redis_url = app.config.get("REDIS_URL")
    client = redis.Redis.from_url(redis_url, **app.config["RATELIMIT_STORAGE_OPTIONS"]) if redis_url else None
    app.extensions["followers"] = Followers(followers, app.config["FOLLOWER_MAX_LAG_SECONDS"],
                                            app.config["FOLLOWER_CHECK_SECONDS"], client)


def followers() -> Followers | None:
    return current_app.extensions.get("followers")


def floor() -> int:
    """The oldest catalogue version this request may be answered from (0: any)."""
    sent = request.headers.get(HEADER, "").strip()
    highest = int(sent) if _VERSION.fullmatch(sent) else 0
    for tag in _LIST_ETAG_VERSION.findall(request.headers.get("If-None-Match", "")):
        highest = max(highest, int(tag))
    claims = g.get("claims")
    pool = followers()
    if claims and pool is not None and not sent:
        last = pool.written(claims["sub"])
        if last is None:
            # A signed-in client that sends no version, and whose last write cannot be looked up: it may have
            # written a moment ago, so only the primary is sure to show it.
            return UNKNOWN
        highest = max(highest, last)
    return highest


def source():
    """Where this request's reads run: (name, engine); the primary unless a follower is fit for the floor."""
    pool = followers()
    if pool is None or g.get("primary_only"):
        return "primary", None
    chosen = pool.choose(floor())
    return (chosen.name, chosen.engine) if chosen else ("primary", None)


def answered(response, version: int | None) -> None:
    """Say on `response` the catalogue version it was read or written at."""
    if version is not None:
        response.headers[HEADER] = str(version)


def status() -> dict | None:
    pool = followers()
    if pool is None:
        return None
    pool.start()
    return {"followers": [f.describe() for f in pool.followers]}


def dispose(app: Flask) -> None:
    pool = app.extensions.get("followers")
    for follower in pool.followers if pool else ():
        with contextlib.suppress(Exception):
            follower.engine.dispose()
