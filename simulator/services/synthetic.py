"""Synthetic players and games: what the load tools (the simulator, stress tests, locust) play with.

A synthetic player (``User.is_synthetic``) scores only on synthetic games
(``Game.is_synthetic``) and joins only their tournaments: the score and
tournament services refuse any other pairing (``synthetic_mismatch``), and a
synthetic game never counts toward the global board. So nothing a load run
does reaches a real board or a real tournament, and ``synthetic_delete``
removes all of it at once (``clear.synthetic_delete``). Only this module makes synthetic players and games:
nobody can register as one, and no API can flag a game.

Players are named ``<prefix>NNNN`` (``sim_0001``, ``stress_0001``,
``load_0001``) with unusable passwords; load tools sign them in with access
tokens made here (``load_credentials``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Q
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from games.models import Game, ScoreOperator, SortOrder
from games.services import game_create
from scores.models import Score
from tournaments.models import Tournament

# Created when there is no active synthetic game; the simulator and the load tests play these.
DEFAULT_GAMES: tuple[dict[str, Any], ...] = (
    {
        "name": "Sim Arcade",
        "description": "Points: higher is better, the best score counts.",
        "sort_order": SortOrder.DESC,
        "score_operator": ScoreOperator.BEST,
        "min_score": 0,
        "max_score": 1_000_000,
    },
    {
        "name": "Sim Time Trial",
        "description": "Lap time in milliseconds: lower is better, the best lap counts.",
        "sort_order": SortOrder.ASC,
        "score_operator": ScoreOperator.BEST,
        "min_score": 20_000,
        "max_score": 300_000,
        "rules": {"unit": "ms"},
    },
    {
        "name": "Sim Coin Rush",
        "description": "Coins per round: every round adds to the total.",
        "sort_order": SortOrder.DESC,
        "score_operator": ScoreOperator.SUM,
        "min_score": 0,
        "max_score": 500,
    },
)


@dataclass(frozen=True)
class SyntheticSummary:
    players: int
    games: int
    scores: int
    tournaments: int

    @property
    def empty(self) -> bool:
        return not (self.players or self.games)


def synthetic_players(*, prefix: str, count: int, display: str) -> list[User]:
    """The first ``count`` synthetic players ``<prefix>0001``..., created when missing, reused otherwise.

    A name held by an account that is not synthetic is skipped: load tools play only their own players.
    ``display`` names them on pages (``"Sim"``: "Sim 0001").
    """
    existing = {user.username.lower(): user for user in User.objects.filter(username__istartswith=prefix)}
    chosen: list[User] = []
    missing: list[User] = []
    unusable = make_password(None)
    number = 0
    while len(chosen) + len(missing) < count:
        number += 1
        name = f"{prefix}{number:04d}"
        user = existing.get(name)
        if user is None:
            missing.append(
                User(
                    username=name,
                    email=f"{name}@synthetic.invalid",
                    display_name=f"{display} {number:04d}",
                    password=unusable,
                    is_synthetic=True,
                )
            )
        elif user.is_synthetic and user.is_active:
            chosen.append(user)
    if missing:
        # ignore_conflicts: a concurrent run may create the same names; they are read back below.
        User.objects.bulk_create(missing, batch_size=1000, ignore_conflicts=True)
        names = [user.username for user in missing]
        created = {user.username: user for user in User.objects.filter(username__in=names, is_synthetic=True)}
        chosen.extend(created[name] for name in names if name in created)
    return chosen


def synthetic_games() -> list[Game]:
    """The active synthetic games, or, when there is none, the default set (created once, reused after)."""
    games = list(Game.objects.filter(is_active=True, is_synthetic=True))
    if games:
        return games
    with transaction.atomic():
        return [game_create(**spec, counts_toward_global=False, is_synthetic=True) for spec in DEFAULT_GAMES]


def synthetic_games_count() -> int:
    """How many games a load run would play: the active synthetic ones, or the default set it would create."""
    return Game.objects.filter(is_active=True, is_synthetic=True).count() or len(DEFAULT_GAMES)


def load_credentials(*, players: list[User], lifetime: timedelta) -> list[dict[str, Any]]:
    """An access token per player, valid for ``lifetime`` whatever ``JWT_ACCESS_MINUTES`` says, as load tools read
    them (``PODIUM_STRESS_CREDENTIALS``): ``[{"id", "username", "access", "synthetic"}, ...]``. ``synthetic`` tells
    locust which games the player may play."""
    accounts = []
    for player in players:
        token = AccessToken.for_user(player)
        token.set_exp(lifetime=lifetime)
        accounts.append(
            {"id": str(player.pk), "username": player.username, "access": str(token), "synthetic": player.is_synthetic}
        )
    return accounts


def synthetic_summary() -> SyntheticSummary:
    players = User.objects.filter(is_synthetic=True)
    games = Game.objects.filter(is_synthetic=True)
    return SyntheticSummary(
        players=players.count(),
        games=games.count(),
        scores=Score.objects.filter(Q(user__in=players) | Q(game__in=games)).count(),
        tournaments=Tournament.objects.filter(Q(game__in=games) | Q(organizer__in=players)).count(),
    )
