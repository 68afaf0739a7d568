"""Exact values derived from the catalogue at one version, kept by this app until it changes: a filtered
list's total (a broad search counts many rows), and the anchors deep pages start from (finding row 900,000
otherwise means counting the 899,999 before it). A statement that uses one checks, in its own snapshot,
that the catalogue is still at that version, and computes the value afresh when it is not: a memo makes an
answer cheaper, never different.

One per app (`memo()`): versions of two databases are not comparable, so apps never share one.
"""

from __future__ import annotations

from flask import Flask, current_app

from casting.lru import LruCache


class VersionMemo:
    def __init__(self, size: int = 512):
        self._values = LruCache(size)
        self.anchor_builds: dict[tuple, float] = {}  # when each list's anchors were last built

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
