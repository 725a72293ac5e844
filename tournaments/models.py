from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

MIN_PARTICIPANTS = 2
MAX_PARTICIPANTS = 100_000
MAX_ATTEMPTS = 1_000


class Format(models.TextChoices):
    BEST_SCORE = "best_score", "Best score in the window"
    CUMULATIVE = "cumulative", "Sum of the scores in the window"
    LIMITED_ATTEMPTS = "limited_attempts", "Best of the first N attempts"


class Status(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled"


# Scores count while a tournament is in one of these (and inside its window).
LIVE = (Status.SCHEDULED, Status.RUNNING)


def default_split() -> list[int]:
    return [50, 30, 20]


class TournamentRules(models.Model):
    """What a tournament and a recurring template share: the game, the format, the seats and the prizes."""

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    game = models.ForeignKey("games.Game", on_delete=models.PROTECT, related_name="+")
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.BEST_SCORE)
    max_attempts = models.PositiveIntegerField(null=True, blank=True)
    max_participants = models.PositiveIntegerField(default=100)
    prize_pool = models.BigIntegerField(default=0)
    prize_split = models.JSONField(default=default_split, blank=True)
    organizer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


def _rules_constraints(prefix: str) -> list[models.BaseConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(max_participants__gte=MIN_PARTICIPANTS, max_participants__lte=MAX_PARTICIPANTS),
            name=f"{prefix}_seats_in_range",
        ),
        models.CheckConstraint(condition=Q(prize_pool__gte=0), name=f"{prefix}_pool_not_negative"),
        models.CheckConstraint(condition=Q(format__in=Format.values), name=f"{prefix}_format_valid"),
        models.CheckConstraint(
            condition=~Q(format=Format.LIMITED_ATTEMPTS) | Q(max_attempts__gte=1, max_attempts__lte=MAX_ATTEMPTS),
            name=f"{prefix}_attempts_set",
        ),
    ]


class RecurringTournament(TournamentRules):
    """A template: a new tournament starts at every time its cron schedule names, and lasts ``duration``."""

    game = models.ForeignKey("games.Game", on_delete=models.PROTECT, related_name="recurring_tournaments")
    organizer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    schedule = models.CharField(max_length=100, help_text="Cron expression, in UTC, e.g. '0 18 * * 5'.")
    duration = models.DurationField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = _rules_constraints("tournaments_recurring")

    def __str__(self) -> str:
        return f"{self.name} ({self.schedule})"


class Tournament(TournamentRules):
    """A competition on one game inside ``[start_time, end_time)``; standings are a board of the ranking engine."""

    game = models.ForeignKey("games.Game", on_delete=models.PROTECT, related_name="tournaments")
    organizer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="organized")
    start_time = models.DateTimeField()
    end_time = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    # Kept by one conditional UPDATE per join: the row lock it takes is what makes seats race-safe.
    participant_count = models.PositiveIntegerField(default=0)
    recurrence = models.ForeignKey(
        RecurringTournament, null=True, blank=True, on_delete=models.SET_NULL, related_name="instances"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # In the tournament list and on the ``tournament`` feed. A league's cohorts are tournaments that are not: each
    # is reached from its league (and by id), and its events go to its own channel only.
    listed = models.BooleanField(default=True)

    class Meta:
        ordering = ["-start_time", "-id"]
        constraints = [
            *_rules_constraints("tournaments_tournament"),
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="tournaments_end_after_start"),
            models.CheckConstraint(
                condition=Q(participant_count__lte=F("max_participants")), name="tournaments_not_over_full"
            ),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="tournaments_status_valid"),
            models.UniqueConstraint(fields=["recurrence", "start_time"], name="tournaments_one_per_occurrence"),
        ]
        indexes = [
            models.Index(fields=["status", "start_time"], name="tournaments_status_start"),
            models.Index(fields=["status", "end_time"], name="tournaments_status_end"),
            models.Index(fields=["game", "status"], name="tournaments_game_status"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_full(self) -> bool:
        return self.participant_count >= self.max_participants


class Participant(models.Model):
    """A player registered in a tournament; ``attempts_used`` counts their scores that counted."""

    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tournament_entries")
    joined_at = models.DateTimeField(default=timezone.now)
    attempts_used = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [models.UniqueConstraint(fields=["tournament", "user"], name="tournaments_one_seat_each")]
        indexes = [models.Index(fields=["user", "tournament"], name="tournaments_participant_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.tournament_id}"


class TournamentResult(models.Model):
    """A finished tournament's final standings, frozen when it ends, with each player's prize."""

    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE, related_name="results")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tournament_results")
    rank = models.PositiveIntegerField()
    position = models.PositiveIntegerField()  # 1-based place in the listing (ties ordered by reached_at)
    value = models.BigIntegerField()
    tiebreak = models.BigIntegerField(null=True, blank=True)  # the game's secondary score, when it has one
    reached_at = models.DateTimeField()
    attempts_used = models.PositiveIntegerField(default=0)
    prize = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["tournament", "user"], name="tournaments_one_result_each"),
            models.UniqueConstraint(fields=["tournament", "position"], name="tournaments_one_result_per_place"),
        ]

    def __str__(self) -> str:
        return f"place {self.position} of tournament {self.tournament_id}"
