from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class SortOrder(models.TextChoices):
    DESC = "desc", "Higher is better"
    ASC = "asc", "Lower is better"


class ScoreOperator(models.TextChoices):
    BEST = "best", "Keep the best score"
    LATEST = "latest", "Keep the latest score"
    SUM = "sum", "Add every score"


class TieBreakOrder(models.TextChoices):
    NONE = "", "No tie-break score"
    ASC = "asc", "Lower tie-break wins (e.g. time taken)"
    DESC = "desc", "Higher tie-break wins"


class ScoreAuthority(models.TextChoices):
    """Whose word a game's scores are. Game servers (API keys) may always write for their games."""

    CLIENT = "client", "Players and game servers"
    SESSION = "session", "Players within a match session, and game servers"
    SERVER = "server", "Game servers only (server-authoritative)"


class Game(models.Model):
    """A game of the catalogue: how its scores are ordered, combined and bounded."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    rules = models.JSONField(default=dict, blank=True)
    sort_order = models.CharField(max_length=4, choices=SortOrder.choices, default=SortOrder.DESC)
    score_operator = models.CharField(max_length=6, choices=ScoreOperator.choices, default=ScoreOperator.BEST)
    min_score = models.BigIntegerField(null=True, blank=True)
    max_score = models.BigIntegerField(null=True, blank=True)
    counts_toward_global = models.BooleanField(default=True)
    # A secondary score that orders equal scores before the earliest-first rule (``games.tiebreak``): an integer
    # from 0 to tiebreak_max with every score of the game.
    tiebreak_order = models.CharField(max_length=4, choices=TieBreakOrder.choices, default="", blank=True)
    tiebreak_max = models.BigIntegerField(null=True, blank=True)
    tiebreak_label = models.CharField(
        max_length=40, blank=True, help_text="What the tie-break measures, e.g. time (ms)."
    )
    score_authority = models.CharField(max_length=8, choices=ScoreAuthority.choices, default=ScoreAuthority.CLIENT)
    # A match session (score_authority "session"): a player's score must come between these many seconds after
    # the session opened, and (when set) be at most this many points per second of it.
    session_min_seconds = models.PositiveIntegerField(default=0)
    session_max_seconds = models.PositiveIntegerField(default=3600)
    session_max_score_per_second = models.BigIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    # A game for load tools: only synthetic players score on it, and it never counts toward the global board.
    is_synthetic = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_score__isnull=True) | Q(max_score__isnull=True) | Q(min_score__lte=F("max_score")),
                name="games_game_min_le_max",
            ),
            models.CheckConstraint(condition=Q(sort_order__in=SortOrder.values), name="games_game_sort_order_valid"),
            models.CheckConstraint(
                condition=Q(score_operator__in=ScoreOperator.values), name="games_game_score_operator_valid"
            ),
            models.CheckConstraint(
                condition=Q(is_synthetic=False) | Q(counts_toward_global=False), name="games_game_synthetic_not_global"
            ),
            models.CheckConstraint(
                condition=Q(score_authority__in=ScoreAuthority.values), name="games_game_score_authority_valid"
            ),
            models.CheckConstraint(
                condition=Q(tiebreak_order="")
                | (
                    Q(tiebreak_order__in=["asc", "desc"], tiebreak_max__gte=0, counts_toward_global=False)
                    & Q(min_score__isnull=False, max_score__isnull=False, score_operator__in=["best", "latest"])
                ),
                name="games_game_tiebreak_rules",
            ),
            models.CheckConstraint(
                condition=Q(session_min_seconds__lt=F("session_max_seconds")), name="games_game_session_window"
            ),
            models.CheckConstraint(
                condition=Q(session_max_score_per_second__isnull=True) | Q(session_max_score_per_second__gt=0),
                name="games_game_session_rate_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name
