from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Source(models.TextChoices):
    CLIENT = "client", "Game client"
    SERVER = "server", "Game server"
    SIMULATOR = "simulator", "Simulator"


class Score(models.Model):
    """One accepted submission: the durable record every board is computed from."""

    # No index of their own: scores_user_game_created and scores_game_created start with them.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="scores", db_index=False)
    game = models.ForeignKey("games.Game", on_delete=models.PROTECT, related_name="scores", db_index=False)
    value = models.BigIntegerField()
    tiebreak = models.BigIntegerField(null=True, blank=True)  # the game's secondary score, when it has one
    metadata = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CLIENT)
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="scores"
    )
    is_personal_best = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="scores_score_user_idempotency_key",
            )
        ]
        indexes = [
            models.Index(fields=["user", "game", "created_at"], name="scores_user_game_created"),
            models.Index(fields=["game", "created_at"], name="scores_game_created"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.game_id} {self.value}"

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None


class ScoreAudit(models.Model):
    """Moderation history: who voided which score, why, and which boards were recomputed."""

    class Action(models.TextChoices):
        VOID = "void", "Voided"

    score = models.ForeignKey(Score, on_delete=models.CASCADE, related_name="audits")
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=500)
    boards = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} score {self.score_id}"


class MatchSession(models.Model):
    """A match a player opened on a game whose scores need one: the score that ends it must come within its
    window, once. The id is the proof: random, known only to the player who opened it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="match_sessions")
    game = models.ForeignKey("games.Game", on_delete=models.CASCADE, related_name="match_sessions")
    started_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["user", "game", "started_at"], name="scores_session_user_game")]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.user_id} on {self.game_id}"


class Suspicion(models.TextChoices):
    """Why a score waits for review (``scores.services.review``)."""

    OUTLIER = "outlier", "Outlier"  # beyond the game's usual scores
    TOO_FAST = "too_fast", "Too fast"  # too soon after the player's previous score on the game
    TOO_FREQUENT = "too_frequent", "Too frequent"  # too many scores within an hour


class ScoreFlag(models.Model):
    """A suspicious score in the review queue, and how staff resolved it: the queue is its own audit trail."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for review"
        DISMISSED = "dismissed", "Dismissed: the score stands"
        VOIDED = "voided", "Score voided"
        BANNED = "banned", "Player shadow-banned"

    score = models.OneToOneField(Score, on_delete=models.CASCADE, related_name="flag")
    # The score's player and game, kept here so the queue filters without a join.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    game = models.ForeignKey("games.Game", on_delete=models.CASCADE, related_name="+", db_index=False)
    # Suspicion values in their declared order, comma-separated: a substring filter finds one on every database.
    reasons = models.CharField(max_length=64)
    detail = models.JSONField(default=dict)  # per reason: the measure and the bound it crossed
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="scores_flag_status_created"),
            models.Index(fields=["user", "status"], name="scores_flag_user_status"),
            models.Index(fields=["game", "status", "created_at"], name="scores_flag_game_status"),
        ]

    def __str__(self) -> str:
        return f"flag of score {self.score_id}: {self.reasons} ({self.status})"

    @property
    def reason_list(self) -> list[str]:
        return self.reasons.split(",") if self.reasons else []


class ScoreStats(models.Model):
    """A game's recent scores summed up (``scores.services.review.score_stats_refresh``): the bounds a score is an
    outlier beyond."""

    game = models.OneToOneField("games.Game", on_delete=models.CASCADE, primary_key=True, related_name="+")
    samples = models.PositiveIntegerField(default=0)
    median = models.FloatField(default=0.0)
    spread = models.FloatField(default=0.0)  # the median absolute deviation, scaled to a standard deviation
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.game_id}: {self.samples} scores, median {self.median:g}, spread {self.spread:g}"


class ReviewCursor(models.Model):
    """One row: how far the review scan has read the scores (``scores.services.review``)."""

    scanned_to = models.DateTimeField(null=True)  # the creation time and id of the last score read
    last_id = models.BigIntegerField(default=0)
    scanned_at = models.DateTimeField(null=True)
