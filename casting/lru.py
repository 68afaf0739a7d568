"""A bounded, thread-safe map that forgets its least recently used entries first, and those past their time.

Two caches use it: the verified tokens (auth.py: an entry lasts until its token expires or a few minutes
pass) and the values derived from one catalogue version (casting.catalogue.memo: no expiry, replaced when
the version moves on).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class LruCache:
    def __init__(self, size: int, clock: Callable[[], float] = time.time):
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float | None, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        """The value kept under `key`, or None when there is none or it expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            until, value = entry
            if until is not None and until <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any, until: float | None = None) -> None:
        """Keep `value` under `key` (until the clock reaches `until`, when given)."""
        with self._lock:
            self._entries[key] = (until, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
