"""Exact values derived from the catalogue at one version, kept by this app until it changes: a filtered
list's total (a broad search counts many rows), the anchors deep pages start from (finding row 900,000
otherwise means counting the 899,999 before it), and a search's match set (its ids in a sort's order, so
that a page of it is read by id, as a list page is). A statement that uses one checks, in its own snapshot,
that the catalogue is still at that version, and computes the value afresh when it is not: a memo makes an
answer cheaper, never different.

One per app (`memo()`): versions of two databases are not comparable, so apps never share one.

Match sets are bounded by the ids they keep: at most `MATCH_IDS_PER_ENTRY` per search (a longer one keeps
its first ones: the pages past them are read the long way) and `MATCH_IDS_IN_ALL` in all, as 4-byte
integers (`array('i')`: 4 MB per process at the bound), the least recently used search forgotten first.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field

from flask import Flask, current_app

from casting.lru import LruCache

MATCH_IDS_PER_ENTRY = 100_000
MATCH_IDS_IN_ALL = 1_000_000
MATCH_ENTRIES = 512


@dataclass(frozen=True)
class Matches:
    """A search's match set at one catalogue version: its exact total and the ids of its first
    `len(ids)` rows in the sort's order (all of them when `complete`)."""

    version: int
    total: int
    ids: array
    built: float = field(default_factory=time.monotonic)  # when it was read (time.monotonic)

    @property
    def complete(self) -> bool:
        return len(self.ids) == self.total


class MatchSets:
    """Match sets by search, bounded by ids kept per entry, in all, and by entries; thread-safe."""

    def __init__(self, per_entry: int = MATCH_IDS_PER_ENTRY, in_all: int = MATCH_IDS_IN_ALL,
                 entries: int = MATCH_ENTRIES):
        self.per_entry, self.in_all, self.entries = per_entry, in_all, entries
        self._sets: OrderedDict[tuple, Matches] = OrderedDict()
        self._ids = 0
        self._lock = threading.Lock()
        # One search's match set is read by one thread of the process at a time; the others wait for it
        # (a fixed handful of locks, shared by searches whose keys fall together: bounded whatever comes).
        self._building = [threading.Lock() for _ in range(16)]

    def get(self, key: tuple) -> Matches | None:
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
            return found

    def put(self, key: tuple, matches: Matches) -> None:
        if len(matches.ids) > self.per_entry:
            raise ValueError(f"a match set keeps at most {self.per_entry} ids")
        with self._lock:
            old = self._sets.pop(key, None)
            if old is not None:
                self._ids -= len(old.ids)
            self._sets[key] = matches
            self._ids += len(matches.ids)
            while self._sets and (self._ids > self.in_all or len(self._sets) > self.entries):
                _, forgotten = self._sets.popitem(last=False)
                self._ids -= len(forgotten.ids)

    def building(self, key: tuple) -> threading.Lock:
        """The lock held while `key`'s match set is read."""
        return self._building[hash(key) % len(self._building)]

    @property
    def ids_kept(self) -> int:
        return self._ids

    def __len__(self) -> int:
        return len(self._sets)


class VersionMemo:
    def __init__(self, size: int = 512):
        self._values = LruCache(size)
        self.anchor_builds: dict[tuple, float] = {}  # when each list's anchors were last built
        self.matches = MatchSets()

    def get(self, key: tuple) -> tuple[int, object] | None:
        """(the catalogue version it was read at, the value), or None."""
        return self._values.get(key)

    def put(self, key: tuple, at_version: int, value) -> None:
        self._values.put(key, (at_version, value))

    def forget(self, key: tuple) -> None:
        self._values.forget(key)


def init_app(app: Flask) -> None:
    app.extensions["list_memo"] = VersionMemo()


def memo() -> VersionMemo:
    """This app's memo of exact values per catalogue version."""
    return current_app.extensions["list_memo"]
