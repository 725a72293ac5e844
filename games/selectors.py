"""Reads for the game catalogue."""

from __future__ import annotations

import uuid

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
