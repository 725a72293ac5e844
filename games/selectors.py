"""Reads for the game catalogue."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.db.models import QuerySet

from .models import Game


def game_list(*, is_active: bool | None = None, synthetic: bool | None = None, search: str = "") -> QuerySet[Game]:
    games = Game.objects.all()
    if is_active is not None:
        games = games.filter(is_active=is_active)
    if synthetic is not None:
        games = games.filter(is_synthetic=synthetic)
    if search:
        games = games.filter(name__icontains=search)
    return games.order_by("name", "id")


def game_get(*, id_or_slug: str) -> Game | None:
    """A game by its UUID or its slug (slugs never look like UUIDs)."""
    try:
        return Game.objects.filter(pk=uuid.UUID(id_or_slug)).first()
    except ValueError:
        return Game.objects.filter(slug=id_or_slug).first()


class _GameCache:
    """Games by id and by slug, kept per process for ``GAME_CACHE_SECONDS``, for the hot paths (score submits,
    board reads), which otherwise spend a query per request on a row that changes a few times a year.

    A change is seen at once in the process that saved it (the cache forgets everything on a game's save or
    delete) and within that many seconds in every other. The games it returns are shared: read them, never
    change them (writes use ``game_get``). A game that does not exist is not kept.
    """

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, Game]] = {}

    def get(self, id_or_slug: str) -> Game | None:
        ttl = settings.GAME_CACHE_SECONDS
        now = time.monotonic()
        found = self.entries.get(id_or_slug)
        if found is not None and now - found[0] < ttl:
            return found[1]
        game = game_get(id_or_slug=id_or_slug)
        if game is not None and ttl > 0:
            if len(self.entries) >= 10_000:
                self.entries.clear()
            self.entries[id_or_slug] = (now, game)
        return game

    def clear(self, **_signal: object) -> None:
        self.entries.clear()


games_cached = _GameCache()


def game_get_cached(*, id_or_slug: str) -> Game | None:
    """``game_get`` from the per-process cache (``_GameCache``): read-only, up to ``GAME_CACHE_SECONDS`` old."""
    return games_cached.get(id_or_slug)
