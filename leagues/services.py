"""League writes: creation, placement with a player's first score of a period, settlement at the period's end.

Placement (``league_place``) runs inside score submission, after the players' row locks and before the scores
are counted in tournaments, so the score that places a player is the first one their cohort counts. A player
new to the league starts in the lowest tier. They take a seat in the fullest-numbered open cohort of their
tier for the period, or in a new one (a new unlisted tournament over the period). The tier's row lock makes a
cohort take at most ``cohort_size`` players whatever the number of servers.

Settlement (``cohort_settle``) runs once the period is over: from the leagues' tick, or from the placement of a
cohort member's first score of the next period, whichever comes first. It finishes the cohort's tournament if
the tournaments' tick has not yet (which freezes its results and pays its rewards through the ledger, once),
then moves the top ``promote`` up a tier and the bottom ``relegate`` down, and marks the cohort settled, all in
one transaction under the cohort's row lock: a settlement run twice, concurrently or after a crash moves each
player exactly once.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from common.errors import DomainError
from common.serializers import timestamp
from events.bus import publish_many
from games.models import Game, ScoreOperator
from rankings.periods import Period, PeriodWindow, period_window
from tournaments.models import LIVE, MAX_PARTICIPANTS, Format, TournamentResult
from tournaments.services import (
    tournament_create,
    tournament_finish,
    tournament_join,
    tournament_start,
    tournament_validate_rules,
)

from .models import Cohort, League, Membership, Placement, Tier

logger = logging.getLogger(__name__)

MAX_TIERS = 20
PERIOD_DAYS = {Period.DAILY: 1, Period.WEEKLY: 7, Period.MONTHLY: 31}  # the longest window of each
T = TypeVar("T")


class LeagueInvalid(DomainError):
    code = "invalid"
    message = "The league is not valid."


def _invalid(field: str, message: str) -> LeagueInvalid:
    return LeagueInvalid(message, fields={field: [message]})


@dataclass(frozen=True)
class TierSpec:
    name: str
    reward_pool: int = 0
    reward_split: Sequence[Any] = ()


@transaction.atomic
def league_create(
    *,
    organizer: User,
    game: Game,
    name: str,
    slug: str,
    tiers: Sequence[TierSpec],
    period: str = Period.WEEKLY,
    cohort_size: int = 30,
    promote: int = 5,
    relegate: int = 5,
) -> League:
    """A league on ``game`` with ``tiers`` from the lowest up. Staff only: the house funds its rewards."""
    if not organizer.is_staff:
        raise _invalid("organizer", "Only staff create leagues: the house funds their rewards.")
    if game.is_synthetic or not game.is_active:
        raise _invalid("game_id", "A league needs an active game that is not synthetic.")
    if period not in PERIOD_DAYS:
        raise _invalid("period", "Must be daily, weekly or monthly.")
    if PERIOD_DAYS[period] > settings.TOURNAMENT_MAX_DAYS:
        raise _invalid(
            "period", f"Each cohort is a tournament, which lasts at most {settings.TOURNAMENT_MAX_DAYS} days."
        )
    if not 2 <= cohort_size <= MAX_PARTICIPANTS:
        raise _invalid("cohort_size", f"Must be from 2 to {MAX_PARTICIPANTS}.")
    if promote + relegate > cohort_size:
        raise _invalid("promote", "promote + relegate must not exceed cohort_size.")
    if not 1 <= len(tiers) <= MAX_TIERS:
        raise _invalid("tiers", f"A league has 1 to {MAX_TIERS} tiers.")
    if len({tier.name for tier in tiers}) != len(tiers):
        raise _invalid("tiers", "Tier names must differ.")
    splits = []
    for tier in tiers:
        try:  # what each cohort's tournament will be created with, checked now
            split = tournament_validate_rules(
                format=Format.BEST_SCORE,
                max_attempts=None,
                max_participants=cohort_size,
                prize_pool=tier.reward_pool,
                prize_split=list(tier.reward_split or [50, 30, 20]),
            )
        except DomainError as error:
            details = " ".join(text for texts in (error.fields or {}).values() for text in texts)
            raise _invalid("tiers", f"{tier.name}: {details or error.message}") from None
        splits.append(split)
    if League.objects.filter(slug=slug).exists():
        raise _invalid("slug", "A league with this slug exists.")
    league = League.objects.create(
        organizer=organizer,
        game=game,
        name=name,
        slug=slug,
        period=period,
        cohort_size=cohort_size,
        promote=promote,
        relegate=relegate,
    )
    Tier.objects.bulk_create(
        Tier(league=league, level=level, name=tier.name, reward_pool=tier.reward_pool, reward_split=split)
        for level, (tier, split) in enumerate(zip(tiers, splits, strict=True), start=1)
    )
    _forget_leagues()
    return league


# --- placement ---------------------------------------------------------------------------


_leagues_of_game: dict[uuid.UUID, tuple[float, list[League]]] = {}


def _forget_leagues() -> None:
    _leagues_of_game.clear()


def _active_leagues(game_id: uuid.UUID) -> list[League]:
    """The game's active leagues, kept per process for ``GAME_CACHE_SECONDS``: every score asks."""
    now = time.monotonic()
    cached = _leagues_of_game.get(game_id)
    if cached is None or cached[0] <= now:
        leagues = list(League.objects.filter(game_id=game_id, is_active=True).order_by("pk"))
        cached = (now + settings.GAME_CACHE_SECONDS, leagues)
        _leagues_of_game[game_id] = cached
    return cached[1]


def league_place(*, game: Game, entries: Sequence[tuple[uuid.UUID, datetime]]) -> list[Placement]:
    """Seat each player scoring for the first time in the current period of each of the game's active leagues.

    ``entries``: (player, moment) of the scores being stored; a score of a past period (an import) places nobody.
    Called inside the submission's transaction, with the players' row locks held. Returns the new placements.

    Locks, always in this order: the cohorts of the newcomers' last periods that are due (settled first, by id),
    then each league's tier rows (by league, then level), under which a tier's cohorts are read and filled.
    """
    leagues = _active_leagues(game.pk)
    if not leagues or not entries:
        return []
    now = timezone.now()
    seats: list[tuple[League, PeriodWindow, User, datetime]] = []
    for league in leagues:
        window = period_window(league.period, now)
        first: dict[uuid.UUID, datetime] = {}
        for user_id, at in entries:
            if window.contains(at) and (user_id not in first or at < first[user_id]):
                first[user_id] = at
        if not first:
            continue
        seated = set(
            Placement.objects.filter(league=league, period_key=window.key, user_id__in=first).values_list(
                "user_id", flat=True
            )
        )
        newcomers = [user_id for user_id in first if user_id not in seated]
        players = User.objects.filter(pk__in=newcomers, is_active=True, shadow_banned_at__isnull=True)
        seats += [(league, window, player, first[player.pk]) for player in sorted(players, key=lambda u: str(u.pk))]
    if not seats:
        return []
    due = Cohort.objects.filter(
        settled_at__isnull=True,
        period_end__lte=now,
        placements__user_id__in=[player.pk for _, _, player, _ in seats],
        league__in=[league for league, _, _, _ in seats],
    )
    for cohort in due.distinct().order_by("pk"):
        _quietly(cohort_settle, cohort=cohort)  # the move it brings applies from this period on
    _lock_tiers(seats)
    placed = [_quietly(_place, league, window, player, at, now) for league, window, player, at in seats]
    return [placement for placement in placed if placement is not None]


def _lock_tiers(seats: Sequence[tuple[League, PeriodWindow, User, datetime]]) -> None:
    """Lock, in one statement and in (league, level) order, every tier these players are placed in (their
    membership's, or their league's lowest for a newcomer), so that two submissions placing players of several
    tiers never wait on each other's tiers in opposite orders."""
    leagues = {league.pk for league, _, _, _ in seats}
    members = Membership.objects.filter(league_id__in=leagues, user_id__in={player.pk for _, _, player, _ in seats})
    tiers = {}
    known = set()
    for league_id, user_id, tier_id in members.values_list("league_id", "user_id", "tier_id"):
        known.add((league_id, user_id))
        tiers[tier_id] = None
    for league_id in {league.pk for league, _, player, _ in seats if (league.pk, player.pk) not in known}:
        lowest = Tier.objects.filter(league_id=league_id).order_by("level").values_list("pk", flat=True).first()
        tiers[lowest] = None
    tiers.pop(None, None)
    list(Tier.objects.select_for_update().filter(pk__in=tiers).order_by("league_id", "level").values_list("pk"))


def _quietly(work: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """League bookkeeping inside a score's transaction, in a savepoint: if it fails, the score is stored all the
    same (the player is placed with a later score, the cohort settled by the tick), and the failure is logged."""
    try:
        with transaction.atomic():
            return work(*args, **kwargs)
    except Exception:  # noqa: BLE001  a player's score must not fail for the league's sake
        logger.exception("league bookkeeping failed: %s", getattr(work, "__name__", work))
        return None


def _place(league: League, window: PeriodWindow, player: User, at: datetime, now: datetime) -> Placement:
    membership = Membership.objects.filter(league=league, user=player).select_related("tier").first()
    if membership is None:
        lowest = Tier.objects.filter(league=league).order_by("level").first()
        membership = Membership.objects.create(league=league, user=player, tier=lowest)
    cohort = _open_cohort(league, membership.tier, window)
    tournament_join(tournament=cohort.tournament, user=player, joined_at=min(at, now), placed=True)
    Cohort.objects.filter(pk=cohort.pk).update(size=cohort.size + 1)
    placement = Placement.objects.create(
        league=league, period_key=window.key, user=player, cohort=cohort, placed_at=now
    )
    body = _cohort_body(cohort) | {"placed_at": timestamp(now)}
    publish_many([(f"user.{player.pk}", "league.placed", body)])
    return placement


def _open_cohort(league: League, tier: Tier, window: PeriodWindow) -> Cohort:
    """The tier's lowest-numbered cohort of the period with room; a new one when all are full.

    Under the tier's row lock (``_lock_tiers`` took it with the others; taken again here for any other caller),
    held to the end of the submission's transaction: one placement into a tier at a time, so a cohort never takes
    more than ``cohort_size`` and numbers never collide. (A row lock on the cohort alone would not do: a locking
    read with a limit that finds its row filled meanwhile returns nothing rather than the next cohort.)"""
    Tier.objects.select_for_update().filter(pk=tier.pk).first()
    cohorts = Cohort.objects.filter(league=league, tier=tier, period_key=window.key)
    cohort = (
        cohorts.filter(size__lt=league.cohort_size).select_related("tournament", "tier", "league").order_by("number")
    ).first()
    if cohort is not None:
        return cohort
    number = (cohorts.aggregate(n=Max("number"))["n"] or 0) + 1
    return _new_cohort(league, tier, window, number)


def _new_cohort(league: League, tier: Tier, window: PeriodWindow, number: int) -> Cohort:
    assert window.start is not None and window.end is not None
    game = league.game
    tournament = tournament_create(
        organizer=league.organizer,
        game=game,
        name=f"{league.name} · {tier.name} · {window.key} · group {number}"[:100],
        description=f"A cohort of the {league.name} league.",
        start_time=window.start,
        end_time=window.end,
        format=Format.CUMULATIVE if game.score_operator == ScoreOperator.SUM else Format.BEST_SCORE,
        max_participants=league.cohort_size,
        prize_pool=tier.reward_pool,
        prize_split=tier.reward_split or None,
        listed=False,
    )
    tournament = tournament_start(tournament=tournament)
    cohort = Cohort.objects.create(
        league=league,
        tier=tier,
        period_key=window.key,
        period_start=window.start,
        period_end=window.end,
        number=number,
        tournament=tournament,
    )
    return Cohort.objects.select_related("tournament", "tier", "league").get(pk=cohort.pk)


def _cohort_body(cohort: Cohort) -> dict[str, Any]:
    return {
        "league_id": cohort.league_id,
        "league": cohort.league.name,
        "period": cohort.period_key,
        "cohort_id": cohort.pk,
        "tournament_id": cohort.tournament_id,
        "tier": cohort.tier.name,
        "tier_level": cohort.tier.level,
    }


# --- settlement ----------------------------------------------------------------------------


@transaction.atomic
def cohort_settle(*, cohort: Cohort) -> list[Placement]:
    """Promote the cohort's top, relegate its bottom, once its period is over. Returns the placements it settled
    (none when settled already)."""
    cohort = Cohort.objects.select_for_update().select_related("league", "tier", "tournament").get(pk=cohort.pk)
    now = timezone.now()
    if cohort.settled_at is not None:
        return []
    tournament = cohort.tournament
    if tournament.status in LIVE:
        if tournament.end_time > now:
            raise LeagueInvalid("This cohort's period is not over yet.")
        tournament = tournament_finish(tournament=tournament)
    results = {result.user_id: result for result in TournamentResult.objects.filter(tournament=tournament)}
    placements = list(Placement.objects.select_for_update().filter(cohort=cohort).select_related("user"))
    ranked = sorted((p for p in placements if p.user_id in results), key=lambda p: results[p.user_id].position)
    tiers = list(Tier.objects.filter(league=cohort.league).order_by("level"))
    index = next(i for i, tier in enumerate(tiers) if tier.pk == cohort.tier_id)
    up = min(cohort.league.promote, len(ranked)) if index + 1 < len(tiers) else 0
    down = min(cohort.league.relegate, len(ranked) - up) if index > 0 else 0
    for position, placement in enumerate(ranked, start=1):
        result = results[placement.user_id]
        placement.position, placement.rank = result.position, result.rank
        if position <= up:
            placement.outcome, placement.next_tier = Placement.Outcome.PROMOTED, tiers[index + 1]
        elif position > len(ranked) - down:
            placement.outcome, placement.next_tier = Placement.Outcome.RELEGATED, tiers[index - 1]
        else:
            placement.outcome, placement.next_tier = Placement.Outcome.STAYED, cohort.tier
    for placement in placements:
        if placement.user_id not in results:  # no standing left (a void score, a shadow-ban): no move
            placement.outcome, placement.next_tier = Placement.Outcome.STAYED, cohort.tier
    Placement.objects.bulk_update(placements, ["position", "rank", "outcome", "next_tier"])
    for tier in tiers:
        movers = [p.user_id for p in placements if p.next_tier_id == tier.pk and tier.pk != cohort.tier_id]
        if movers:
            Membership.objects.filter(league=cohort.league, user_id__in=movers).update(tier=tier, updated_at=now)
    cohort.settled_at = now
    cohort.save(update_fields=["settled_at"])
    body = _cohort_body(cohort)
    publish_many(
        [
            (
                f"user.{placement.user_id}",
                f"league.{placement.outcome}",
                body
                | {
                    "position": placement.position,
                    "rank": placement.rank,
                    "next_tier": placement.next_tier.name,
                    "next_tier_level": placement.next_tier.level,
                },
            )
            for placement in placements
        ]
    )
    return placements


def leagues_tick(*, now: datetime | None = None, batch: int = 100) -> int:
    """Settle the cohorts whose period is over. Returns how many were settled."""
    now = now or timezone.now()
    settled = 0
    due = Cohort.objects.filter(settled_at__isnull=True, period_end__lte=now).order_by("period_end", "pk")
    for cohort in list(due[:batch]):
        try:
            if cohort_settle(cohort=cohort):
                settled += 1
        except Exception:  # noqa: BLE001  one cohort that fails must not hold up the others
            logger.exception("could not settle cohort %s", cohort.pk)
    return settled
