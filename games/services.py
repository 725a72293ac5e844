"""Writes for the game catalogue."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils.text import slugify
from rest_framework import status

from common.errors import Conflict, DomainError
from events.bus import publish

from .models import Game, SortOrder
from .tiebreak import tiebreak_check


class GameInvalid(DomainError):
    code = "invalid"
    message = "Some fields are invalid."


class GameRulesLocked(Conflict):
    code = "game_has_scores"
    message = (
        "sort_order, score_operator, counts_toward_global and the tie-break rules (tiebreak_order, tiebreak_max "
        "and, with a tie-break, min_score) cannot change once a game has scores: every board was computed with them."
    )


# Changing these would silently invalidate every board already computed for the game.
RANKING_FIELDS = ("sort_order", "score_operator", "counts_toward_global", "tiebreak_order", "tiebreak_max")


def ranking_fields(game: Game) -> tuple[str, ...]:
    """The fields frozen once ``game`` has scores: with a tie-break, its board values are offsets from min_score."""
    return (*RANKING_FIELDS, "min_score") if game.tiebreak_order else RANKING_FIELDS


class GameInUse(Conflict):
    code = "game_in_use"
    message = "This game has records that depend on it; deactivate it instead."


class SyntheticMismatch(DomainError):
    code = "synthetic_mismatch"
    status_code = status.HTTP_403_FORBIDDEN
    message = (
        "Synthetic players (made by load tools) play synthetic games only, and synthetic games are played by "
        "synthetic players only."
    )


def synthetic_pairing_check(*, user_is_synthetic: bool, game: Game) -> None:
    """Keep load tools off the real boards and tournaments: a player and a game pair only when both or neither
    are synthetic (scores, seats and synthetic organizers alike)."""
    if user_is_synthetic != game.is_synthetic:
        raise SyntheticMismatch()


def _slug_error(slug: str, *, exclude: Game | None = None) -> str | None:
    try:
        uuid.UUID(slug)
    except ValueError:
        pass
    else:
        return "A slug may not look like a game id."
    others = Game.objects.exclude(pk=exclude.pk) if exclude else Game.objects.all()
    if others.filter(slug=slug).exists():
        return "A game with this slug already exists."
    return None


def _unique_slug_from(name: str) -> str:
    base = slugify(name)[:56] or "game"
    slug, n = base, 2
    while _slug_error(slug):
        slug, n = f"{base}-{n}", n + 1
    return slug


def _check_bounds(min_score: int | None, max_score: int | None) -> None:
    if min_score is not None and max_score is not None and min_score > max_score:
        raise GameInvalid(fields={"max_score": ["Must be greater than or equal to min_score."]})


def _check_tiebreak(game: Game) -> None:
    errors = tiebreak_check(game, operator=game.score_operator, counts_toward_global=game.counts_toward_global)
    if errors:
        raise GameInvalid(fields=errors)


def _check_session_window(game: Game) -> None:
    if game.session_min_seconds >= game.session_max_seconds:
        raise GameInvalid(fields={"session_max_seconds": ["Must be greater than session_min_seconds."]})


def _check_synthetic_global(is_synthetic: bool, counts_toward_global: bool) -> None:
    if is_synthetic and counts_toward_global:
        raise GameInvalid(fields={"counts_toward_global": ["A synthetic game never counts toward the global board."]})


def game_announce(game: Game, event: str) -> None:
    """Tell the ``game`` channel, after commit, that a game was created or changed."""
    from .serializers import GameSerializer

    publish("game", event, GameSerializer(game).data)


def _save(game: Game) -> Game:
    try:
        with transaction.atomic():
            game.save()
    except IntegrityError:
        # A concurrent write took the slug between the check and the insert.
        raise GameInvalid(fields={"slug": ["A game with this slug already exists."]}) from None
    return game


@transaction.atomic
def game_create(
    *,
    name: str,
    slug: str | None = None,
    sort_order: str = SortOrder.DESC,
    counts_toward_global: bool | None = None,
    **fields: Any,
) -> Game:
    """Add a game. Without a slug one is made from the name; ``desc`` games count toward global by default."""
    if slug:
        error = _slug_error(slug)
        if error:
            raise GameInvalid(fields={"slug": [error]})
    else:
        slug = _unique_slug_from(name)
    if counts_toward_global is None:
        counts_toward_global = (
            sort_order == SortOrder.DESC and not fields.get("is_synthetic") and not fields.get("tiebreak_order")
        )
    _check_synthetic_global(bool(fields.get("is_synthetic")), counts_toward_global)
    _check_bounds(fields.get("min_score"), fields.get("max_score"))
    game = Game(name=name, slug=slug, sort_order=sort_order, counts_toward_global=counts_toward_global, **fields)
    _check_tiebreak(game)
    _check_session_window(game)
    game = _save(game)
    game_announce(game, "game.created")
    return game


@transaction.atomic
def game_update(*, game: Game, **changes: Any) -> Game:
    """Change some fields of a game; bounds are checked against the result."""
    slug = changes.get("slug")
    if slug is not None and slug != game.slug:
        error = _slug_error(slug, exclude=game)
        if error:
            raise GameInvalid(fields={"slug": [error]})
    frozen = set(ranking_fields(game))
    if changes.get("tiebreak_order"):
        frozen.add("min_score")
    if any(field in changes and changes[field] != getattr(game, field) for field in frozen):
        if game.scores.exists():
            raise GameRulesLocked()
    for field, value in changes.items():
        setattr(game, field, value)
    _check_bounds(game.min_score, game.max_score)
    _check_synthetic_global(game.is_synthetic, game.counts_toward_global)
    _check_tiebreak(game)
    _check_session_window(game)
    game = _save(game)
    game_announce(game, "game.updated")
    return game


@transaction.atomic
def game_delete(*, game: Game) -> None:
    try:
        game.delete()
    except ProtectedError:
        raise GameInUse() from None
