"""Leagues: tiers a game's players climb and fall through, period after period, in cohorts of a few dozen.

Each cohort is a tournament (unlisted) over the period: its board, its live channel ``tournament.{id}``, its
frozen results and its reward payout are the tournament's. A league adds the tiers, the placement of a player
into a cohort of their tier with their first score of the period, and the settlement that promotes and
relegates at the period's end.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from rankings.periods import Period

PERIODS = [(period, label) for period, label in Period.choices if period != Period.ALL]


class League(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    game = models.ForeignKey("games.Game", on_delete=models.PROTECT, related_name="leagues")
    period = models.CharField(max_length=10, choices=PERIODS, default=Period.WEEKLY)
    cohort_size = models.PositiveIntegerField(default=30, help_text="Players per cohort.")
    promote = models.PositiveIntegerField(default=5, help_text="The top this many of a cohort go up a tier.")
    relegate = models.PositiveIntegerField(default=5, help_text="The bottom this many of a cohort go down a tier.")
    # Funds the cohorts' rewards: staff (the house) mint them; anyone else pays each cohort's pool from their credits.
    organizer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True, help_text="Players are placed only in an active league.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(cohort_size__gte=2), name="leagues_cohort_of_two_or_more"),
            models.CheckConstraint(
                condition=Q(promote__lte=F("cohort_size")) & Q(relegate__lte=F("cohort_size")),
                name="leagues_moves_within_cohort",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Tier(models.Model):
    """One rung of a league: level 1 is the lowest, where new players start."""

    league = models.ForeignKey(League, on_delete=models.CASCADE, related_name="tiers")
    level = models.PositiveIntegerField()
    name = models.CharField(max_length=50)
    reward_pool = models.BigIntegerField(default=0, help_text="Credits shared by each cohort's best, per period.")
    reward_split = models.JSONField(default=list, blank=True, help_text="Percent per place, e.g. [50, 30, 20].")

    class Meta:
        ordering = ["league", "level"]
        constraints = [
            models.UniqueConstraint(fields=["league", "level"], name="leagues_tier_level_unique"),
            models.CheckConstraint(condition=Q(level__gte=1), name="leagues_tier_level_positive"),
            models.CheckConstraint(condition=Q(reward_pool__gte=0), name="leagues_tier_reward_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.league} · {self.name}"


class Membership(models.Model):
    """The tier a player plays their next period in."""

    league = models.ForeignKey(League, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="league_memberships")
    # RESTRICT, not PROTECT: a league deleted (with its tiers) takes these along.
    tier = models.ForeignKey(Tier, on_delete=models.RESTRICT, related_name="+")
    joined_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["league", "user"], name="leagues_one_membership")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.tier}"


class Cohort(models.Model):
    """The players of one tier placed together for one period, and the tournament that ranks them."""

    league = models.ForeignKey(League, on_delete=models.CASCADE, related_name="cohorts")
    tier = models.ForeignKey(Tier, on_delete=models.RESTRICT, related_name="cohorts")
    period_key = models.CharField(max_length=10)  # "2026-W49", "2026-12-07", "2026-12"
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    number = models.PositiveIntegerField()
    tournament = models.OneToOneField("tournaments.Tournament", on_delete=models.PROTECT, related_name="cohort")
    size = models.PositiveIntegerField(default=0)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["league", "-period_start", "-tier__level", "number"]
        constraints = [
            models.UniqueConstraint(fields=["league", "tier", "period_key", "number"], name="leagues_cohort_unique")
        ]
        indexes = [
            models.Index(fields=["league", "tier", "period_key", "size"], name="leagues_cohort_open"),
            models.Index(fields=["settled_at", "period_end"], name="leagues_cohort_due"),
        ]

    def __str__(self) -> str:
        return f"{self.tier} {self.period_key} #{self.number}"


class Placement(models.Model):
    """A player's seat in one period of a league, and what the period's end did to them."""

    class Outcome(models.TextChoices):
        PROMOTED = "promoted", "Promoted"
        STAYED = "stayed", "Stayed"
        RELEGATED = "relegated", "Relegated"

    league = models.ForeignKey(League, on_delete=models.CASCADE, related_name="+")
    period_key = models.CharField(max_length=10)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="league_placements")
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="placements")
    placed_at = models.DateTimeField(default=timezone.now)
    # Set when the cohort is settled:
    position = models.PositiveIntegerField(null=True, blank=True)
    rank = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    next_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.RESTRICT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["league", "period_key", "user"], name="leagues_one_placement_per_period")
        ]
        indexes = [models.Index(fields=["user", "placed_at"], name="leagues_placement_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.cohort}"
