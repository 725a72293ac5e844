"""League reads: the leagues, their cohorts by period and tier, and where a player stands in one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from rankings.periods import PeriodWindow, period_window

from .models import Cohort, League, Membership, Placement


def league_list(*, active_only: bool = True) -> QuerySet[League]:
    leagues = League.objects.select_related("game").prefetch_related("tiers")
    return (leagues.filter(is_active=True) if active_only else leagues).order_by("name", "id")


def league_get(*, id_or_slug: str) -> League | None:
    leagues = League.objects.select_related("game").prefetch_related("tiers")
    if id_or_slug.isdigit():
        return leagues.filter(pk=int(id_or_slug)).first()
    return leagues.filter(slug=id_or_slug).first()


def league_window(*, league: League) -> PeriodWindow:
    """The league's current period."""
    return period_window(league.period, timezone.now())


def league_cohorts(*, league: League, period_key: str, tier_level: int | None = None) -> QuerySet[Cohort]:
    """A period's cohorts (a past one's are kept, settled), highest tier first."""
    cohorts = Cohort.objects.filter(league=league, period_key=period_key).select_related("tier", "tournament")
    if tier_level is not None:
        cohorts = cohorts.filter(tier__level=tier_level)
    return cohorts.order_by("-tier__level", "number")


@dataclass(frozen=True)
class LeagueStanding:
    """A player in a league: the tier they play next, their seat this period, and their past periods."""

    membership: Membership | None
    current: Placement | None
    history: list[Placement]


def league_standing(*, league: League, user_id: uuid.UUID, history: int = 10) -> LeagueStanding:
    window = league_window(league=league)
    placements = Placement.objects.filter(league=league, user_id=user_id).select_related(
        "cohort", "cohort__tier", "next_tier"
    )
    return LeagueStanding(
        membership=Membership.objects.filter(league=league, user_id=user_id).select_related("tier").first(),
        current=placements.filter(period_key=window.key).first(),
        history=list(placements.exclude(period_key=window.key).order_by("-placed_at")[:history]),
    )
