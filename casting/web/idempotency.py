"""Idempotency-Key: a write sent again with the same key is answered with its first outcome, never run twice.

- The outcome (status, body, the Location and ETag headers) is kept per token subject and key for
  24 hours, inserted in the same transaction as the write: a write and its kept outcome commit together
  or not at all.
- A retry with the same key, method, path, query and body is answered from it, with
  `Idempotent-Replayed: true`, and writes nothing. Another request under the same key: 422.
- While the first request runs, its key is held with a transaction-level advisory lock (PostgreSQL): a
  second request with that key gets a 409 at once instead of waiting. (On SQLite every write holds the
  database's write lock, so the second one waits for the first and is then answered from it.)
- Outcomes a retry could rightly change are not kept: 401, 403, 409, 412, 428, 429 and every 5xx.
- Expired keys are deleted by the app itself, a batch at a time, at most once a minute per process;
  `flask purge-idempotency-keys` deletes them all on demand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass

from flask import Response, g, request
from sqlalchemy import delete, insert, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from casting.errors import ApiError, discard_session, error_response
from casting.web.parsing import body_bytes
from models import IDEMPOTENCY_KEY_MAX, db, idempotency_keys

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
TTL = dt.timedelta(hours=24)
NOT_KEPT = frozenset({401, 403, 409, 412, 428, 429})
REPLAYED_HEADERS = ("Location", "ETag")
PURGE_INTERVAL_SECONDS = 60
PURGE_BATCH = 1000
# Printable ASCII; spaces inside only (an HTTP header value's own spaces around it are not part of it).
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")

_purge_lock = threading.Lock()
_last_purge = -float("inf")


@dataclass(frozen=True)
class Key:
    subject: str
    value: str
    fingerprint: str  # of the method, path, query and body

    @property
    def lock_id(self) -> int:
        digest = hashlib.sha256(f"{self.subject}\x00{self.value}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)


def kept(status: int) -> bool:
    return status < 500 and status not in NOT_KEPT


def from_request() -> Key | None:
    """This write's key, or None when it came without one; 400 when the header is unusable."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not _PRINTABLE_ASCII.fullmatch(value) or len(value) > IDEMPOTENCY_KEY_MAX:
        problem = f"must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters, not beginning or ending with a space"
        raise ApiError(400, f"{HEADER} {problem}", {HEADER: [problem]})
    fingerprint = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        fingerprint.update(part.encode() + b"\x00")
    fingerprint.update(body_bytes())
    return Key(g.claims["sub"], value, fingerprint.hexdigest())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def claim(key: Key) -> Response | None:
    """First step of a keyed write's transaction: hold the key, and answer from its kept outcome if any."""
    if db.engine.dialect.name == "postgresql":
        held = db.session.scalar(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": key.lock_id})
        if not held:
            raise ApiError(409, f"a request with this {HEADER} is still in progress; retry it shortly")
    row = db.session.execute(
        select(idempotency_keys).where(idempotency_keys.c.subject == key.subject,
                                       idempotency_keys.c.key == key.value)
    ).one_or_none()
    if row is None:
        return None
    if _aware(row.created_at) < _now() - TTL:
        db.session.execute(delete(idempotency_keys).where(idempotency_keys.c.subject == key.subject,
                                                          idempotency_keys.c.key == key.value))
        return None
    if row.request_fingerprint != key.fingerprint:
        problem = "was used for another request (method, path or body); send a new key for a new request"
        raise ApiError(422, f"this {HEADER} {problem}", {HEADER: [problem]})
    replay = Response(row.body, status=row.status, mimetype="application/json")
    for name, value in json.loads(row.headers).items():
        replay.headers[name] = value
    replay.headers["Idempotent-Replayed"] = "true"
    return replay


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite keeps no time zone


def _values(key: Key, response: Response) -> dict:
    headers = {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
    return {"subject": key.subject, "key": key.value, "request_fingerprint": key.fingerprint,
            "status": response.status_code, "headers": json.dumps(headers), "body": response.get_data(),
            "created_at": _now()}


def keep(key: Key, response: Response) -> None:
    """Last step of a keyed write's transaction: keep its outcome (the key is held: a plain insert)."""
    if kept(response.status_code):
        db.session.execute(insert(idempotency_keys).values(**_values(key, response)))


def keep_error(key: Key, error: ApiError) -> None:
    """Keep the outcome of a keyed write that failed with `error` (rolled back), in a transaction of its own.

    Best effort: when it cannot be kept, a retry runs the request again, and it fails the same way.
    """
    if not kept(error.status):
        return
    response = error_response(error.status, error.message, error.details, error.headers, error.extra)
    upsert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    try:
        db.session.execute(upsert(idempotency_keys).values(**_values(key, response)).on_conflict_do_nothing())
        db.session.commit()
    except Exception as exc:  # the request's answer is the error either way
        log.warning("could not keep the outcome of %s %s: %s", HEADER, key.value, exc)
        discard_session()


def purge(before: dt.datetime | None = None, batch: int | None = None) -> int:
    """Delete kept outcomes older than the TTL (or created before `before`); `batch` bounds one call."""
    cutoff = before or _now() - TTL
    pk = tuple_(idempotency_keys.c.subject, idempotency_keys.c.key)
    expired = select(idempotency_keys.c.subject, idempotency_keys.c.key).where(idempotency_keys.c.created_at < cutoff)
    if batch is not None:
        expired = expired.limit(batch)
        if db.engine.dialect.name == "postgresql":
            expired = expired.with_for_update(skip_locked=True)  # two instances purging never wait on each other
    deleted = db.session.execute(delete(idempotency_keys).where(pk.in_(expired))).rowcount
    db.session.commit()
    return deleted


def purge_now_and_then() -> None:
    """Delete a batch of expired keys, at most once a minute per process, before a keyed write starts.
    Never fails the request: a purge that does not happen now happens later."""
    global _last_purge
    now = time.monotonic()
    if now - _last_purge < PURGE_INTERVAL_SECONDS or not _purge_lock.acquire(blocking=False):
        return
    try:
        _last_purge = now
        deleted = purge(batch=PURGE_BATCH)
        if deleted:
            log.info("deleted %d expired idempotency keys", deleted)
    except Exception as exc:
        log.warning("purging expired idempotency keys failed: %s", exc)
        discard_session()
    finally:
        _purge_lock.release()
