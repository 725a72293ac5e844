"""Board responses kept as bytes, per process, for as long as the board and the names on it stay the same.

A top page or a page around a player is the same bytes for every caller until the board
changes: the index counts every change in the board's version (``index.index_version``), and
a cached response is served only under the version it was made at. Names are not part of the
version: a response is kept at most ``PLAYER_NAME_CACHE_SECONDS``, the time every process may
show a player's old name anyway (``accounts.selectors.player_names``), and a rename in this
process forgets them all at once. Boards read from the table (the embedded profile, or the
index unusable) have no version and are never cached. Bounded: it starts over when full.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from django.conf import settings

from accounts.selectors import player_names


class PageCache:
    MAX_ENTRIES = 5_000

    def __init__(self) -> None:
        self.entries: dict[Hashable, tuple[int, int, float, bytes]] = {}

    def get_or_make(self, key: Hashable, version: int | None, make: Callable[[], bytes]) -> bytes:
        """The bytes kept for ``key`` at ``version``, or ``make()``'s, kept when there is a version."""
        ttl = settings.PLAYER_NAME_CACHE_SECONDS
        if version is None or ttl <= 0:
            return make()
        now = time.monotonic()
        names = player_names.generation
        found = self.entries.get(key)
        if found is not None and found[0] == version and found[1] == names and now - found[2] < ttl:
            return found[3]
        body = make()
        if len(self.entries) >= self.MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = (version, names, now, body)
        return body

    def clear(self) -> None:
        self.entries.clear()


pages = PageCache()
