"""The review queue: stored scores that look like cheating, for staff to judge.

``review_scan`` reads the scores stored since its last run (every ``MODERATION_SCAN_SECONDS``, on Celery
beat or in the embedded mode's job thread) and flags a score when it is:

* ``outlier``: better than its game's recent median by more than ``MODERATION_OUTLIER_SIGMAS`` times the
  scores' spread (higher for a game whose higher scores win, lower for one whose lower scores win), once
  the game has ``MODERATION_MIN_SAMPLES`` scores within ``MODERATION_STATS_DAYS`` (``ScoreStats``, read
  again every ``MODERATION_STATS_SECONDS``; see ``score_stats_refresh``);
* ``too_fast``: less than ``MODERATION_MIN_SECONDS`` after the same player's previous score on the game;
* ``too_frequent``: more than ``MODERATION_MAX_PER_HOUR`` scores of the player on the game within the hour
  up to it.

A flagged score keeps counting: a flag costs an honest player nothing until staff look. Staff resolve a
flag (``flag_resolve``): dismiss it (the score stands), void the score (its boards are recomputed) or
shadow-ban the player (every open flag of theirs closes with it). Each resolution records who, when and
why; voids and bans are audited by their own services as well. New flags and resolutions are announced on
the staff-only ``moderation`` channel.

Not reviewed: the simulator's scores, synthetic games, void scores, and players shadow-banned already
(nobody sees their scores). The first scan reads the last day's scores; each later one goes on from where
the one before stopped. The scan reads scores in the order they were created, up to
``MODERATION_SCAN_SETTLE_SECONDS`` ago, so that a transaction still open when it passes is committed by
then; a score committed later than that after its creation is not reviewed.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from accounts.models import User
from common.errors import Conflict
from common.metrics import SCORES_FLAGGED
from common.serializers import timestamp
from events.bus import publish_many
from events.names import MODERATION
from games.models import Game

from ..models import ReviewCursor, Score, ScoreFlag, ScoreStats, Source, Suspicion
from .moderation import player_shadow_ban, score_void

HOUR = timedelta(hours=1)
FIRST_SCAN = timedelta(days=1)


class FlagResolved(Conflict):
    code = "flag_resolved"
    message = "This flag is resolved already."


@dataclass(frozen=True)
class _Candidate:
    id: int
    user_id: Any
    game_id: Any
    value: int
    created_at: datetime
    reviewed: bool  # not a score the scan leaves alone (see the module's docstring)


def review_scan(*, now: datetime | None = None) -> list[ScoreFlag]:
    """Review every score stored since the last scan, in passes of ``MODERATION_SCAN_BATCH``. Returns the new
    flags. A scan that finds another one running returns at once."""
    now = now or timezone.now()
    until = now - timedelta(seconds=settings.MODERATION_SCAN_SETTLE_SECONDS)
    flags: list[ScoreFlag] = []
    while True:
        found, done = _scan_pass(until=until, now=now)
        flags += found
        if done:
            return flags


@transaction.atomic
def _scan_pass(*, until: datetime, now: datetime) -> tuple[list[ScoreFlag], bool]:
    ReviewCursor.objects.get_or_create(pk=1)
    cursor = ReviewCursor.objects.select_for_update(skip_locked=True).filter(pk=1).first()
    if cursor is None:
        return [], True  # another scan holds the cursor
    scores = Score.objects.filter(created_at__lt=until)
    if cursor.scanned_to is None:  # the first scan: the last day, not every score ever stored
        scores = scores.filter(created_at__gte=until - FIRST_SCAN)
    else:
        scores = scores.filter(
            Q(created_at__gt=cursor.scanned_to) | Q(created_at=cursor.scanned_to, pk__gt=cursor.last_id)
        )
    left_alone = (
        Q(source=Source.SIMULATOR)
        | Q(voided_at__isnull=False)
        | Q(game__is_synthetic=True)
        | Q(user__shadow_banned_at__isnull=False)
        | Q(flag__isnull=False)
    )
    rows = (
        scores.annotate(reviewed=ExpressionWrapper(~left_alone, output_field=BooleanField()))
        .order_by("created_at", "pk")
        .values_list("pk", "user_id", "game_id", "value", "created_at", "reviewed")
    )
    batch = [_Candidate(*row) for row in rows[: settings.MODERATION_SCAN_BATCH]]
    if batch:
        cursor.scanned_to, cursor.last_id = batch[-1].created_at, batch[-1].id
    cursor.scanned_at = now
    cursor.save()
    flags = _flag([candidate for candidate in batch if candidate.reviewed], now)
    return flags, len(batch) < settings.MODERATION_SCAN_BATCH


def _flag(batch: list[_Candidate], now: datetime) -> list[ScoreFlag]:
    if not batch:
        return []
    games = {game.pk: game for game in Game.objects.filter(pk__in={c.game_id for c in batch})}
    stats = _stats(games.values(), now)
    history = _history(batch)
    flags = []
    for candidate in batch:
        detail: dict[str, dict[str, Any]] = {}
        game = games[candidate.game_id]
        outlier = _outlier(candidate.value, stats.get(game.pk), descending=game.sort_order == "desc")
        if outlier:
            detail[Suspicion.OUTLIER] = outlier
        times = history[(candidate.user_id, candidate.game_id)]
        detail.update(_pace(candidate, times))
        if detail:
            reasons = [reason.value for reason in Suspicion if reason in detail]
            flags.append(
                ScoreFlag(
                    score_id=candidate.id,
                    user_id=candidate.user_id,
                    game_id=candidate.game_id,
                    reasons=",".join(reasons),
                    detail={reason: detail[reason] for reason in reasons},
                    created_at=now,
                )
            )
    if not flags:
        return []
    ScoreFlag.objects.bulk_create(flags)
    created = list(
        ScoreFlag.objects.filter(score_id__in=[f.score_id for f in flags]).select_related("score", "user", "game")
    )
    for flag in created:
        for reason in flag.reason_list:
            SCORES_FLAGGED.labels(reason).inc()
    publish_many([(MODERATION, "score.flagged", flag_body(flag)) for flag in created])
    return created


def _outlier(value: int, stats: ScoreStats | None, *, descending: bool) -> dict[str, Any] | None:
    sigmas = settings.MODERATION_OUTLIER_SIGMAS
    if not sigmas or stats is None or stats.samples < settings.MODERATION_MIN_SAMPLES or stats.spread <= 0:
        return None
    away = (value - stats.median) / stats.spread * (1 if descending else -1)
    if away <= sigmas:
        return None
    return {"sigmas": round(away, 2), "limit": sigmas, "median": stats.median, "spread": round(stats.spread, 3)}


def _pace(candidate: _Candidate, times: list[tuple[datetime, int]]) -> dict[str, dict[str, Any]]:
    """``too_fast`` and ``too_frequent``, from the player's scores on the game (``times``, in order)."""
    found: dict[str, dict[str, Any]] = {}
    at = bisect.bisect_left(times, (candidate.created_at, candidate.id))
    minimum = settings.MODERATION_MIN_SECONDS
    if minimum and at > 0:
        gap = (candidate.created_at - times[at - 1][0]).total_seconds()
        if gap < minimum:
            found[Suspicion.TOO_FAST] = {"seconds": round(gap, 3), "limit": minimum}
    most = settings.MODERATION_MAX_PER_HOUR
    if most:
        in_hour = at + 1 - bisect.bisect_right(times, (candidate.created_at - HOUR, math.inf))
        if in_hour > most:
            found[Suspicion.TOO_FREQUENT] = {"in_hour": in_hour, "limit": most}
    return found


def _history(batch: list[_Candidate]) -> dict[tuple[Any, Any], list[tuple[datetime, int]]]:
    """Each (player, game) of the batch: their scores from an hour before its first one, oldest first."""
    start = min(c.created_at for c in batch) - HOUR
    end = max(c.created_at for c in batch)
    pairs = {(c.user_id, c.game_id) for c in batch}
    rows = Score.objects.filter(
        user_id__in={user for user, _ in pairs},
        game_id__in={game for _, game in pairs},
        created_at__gte=start,
        created_at__lte=end,
    ).values_list("user_id", "game_id", "created_at", "pk")
    history: dict[tuple[Any, Any], list[tuple[datetime, int]]] = defaultdict(list)
    for user_id, game_id, created_at, pk in rows:
        if (user_id, game_id) in pairs:
            history[(user_id, game_id)].append((created_at, pk))
    for times in history.values():
        times.sort()
    return history


def _stats(games: Iterable[Game], now: datetime) -> dict[Any, ScoreStats]:
    """Each game's score statistics, read again when older than ``MODERATION_STATS_SECONDS``."""
    games = list(games)
    kept = {stats.game_id: stats for stats in ScoreStats.objects.filter(game_id__in=[g.pk for g in games])}
    fresh_after = now - timedelta(seconds=settings.MODERATION_STATS_SECONDS)
    for game in games:
        stats = kept.get(game.pk)
        if stats is None or stats.computed_at <= fresh_after:
            kept[game.pk] = score_stats_refresh(game=game, now=now)
    return kept


def score_stats_refresh(*, game: Game, now: datetime | None = None) -> ScoreStats:
    """Sum up the game's latest ``MODERATION_STATS_SAMPLE`` scores of the last ``MODERATION_STATS_DAYS`` that count
    and stand (void ones, shadow-banned players' and those with an open flag left out; the simulator's count:
    they are on the boards).

    The median and the median absolute deviation (scaled by 1.4826, a standard deviation's worth for normally
    spread scores) rather than the mean and the standard deviation: one wild score moves neither, so it cannot
    widen the bounds it is judged by. When most scores are equal the deviation is 0, and the standard deviation
    stands in."""
    now = now or timezone.now()
    values = list(
        Score.objects.filter(
            game=game,
            voided_at__isnull=True,
            created_at__gte=now - timedelta(days=settings.MODERATION_STATS_DAYS),
            created_at__lte=now,
            user__shadow_banned_at__isnull=True,
        )
        .exclude(flag__status=ScoreFlag.Status.OPEN)
        .order_by("-created_at")
        .values_list("value", flat=True)[: settings.MODERATION_STATS_SAMPLE]
    )
    median = statistics.median(values) if values else 0.0
    spread = 1.4826 * statistics.median(abs(value - median) for value in values) if values else 0.0
    if not spread and len(values) > 1:
        spread = statistics.pstdev(values)
    stats, _ = ScoreStats.objects.update_or_create(
        game=game, defaults={"samples": len(values), "median": median, "spread": spread, "computed_at": now}
    )
    return stats


ACTIONS = {"dismiss": ScoreFlag.Status.DISMISSED, "void": ScoreFlag.Status.VOIDED, "ban": ScoreFlag.Status.BANNED}


@transaction.atomic
def flag_resolve(*, flag: ScoreFlag, actor: User, action: str, reason: str) -> list[ScoreFlag]:
    """Judge a flagged score: ``dismiss`` (it stands), ``void`` it, or ``ban`` its player (which resolves every
    open flag of theirs). Returns the flags resolved, this one first."""
    status = ACTIONS[action]
    flag = ScoreFlag.objects.select_for_update().get(pk=flag.pk)
    if flag.status != ScoreFlag.Status.OPEN:
        raise FlagResolved()
    resolved = [flag]
    if action == "void":
        score = Score.objects.get(pk=flag.score_id)
        if not score.is_void:
            score_void(score=score, actor=actor, reason=reason)
    elif action == "ban":
        player = User.objects.get(pk=flag.user_id)
        if player.shadow_banned_at is None:
            player_shadow_ban(user=player, actor=actor, reason=reason)
        others = ScoreFlag.objects.select_for_update().filter(user_id=flag.user_id, status=ScoreFlag.Status.OPEN)
        resolved += list(others.exclude(pk=flag.pk).order_by("pk"))
    now = timezone.now()
    for each in resolved:
        each.status, each.resolved_at, each.resolved_by, each.note = status, now, actor, reason
    ScoreFlag.objects.bulk_update(resolved, ["status", "resolved_at", "resolved_by", "note"])
    body = {
        "flag_ids": [each.pk for each in resolved],
        "status": status.value,
        "resolved_by": actor.username,
        "note": reason,
        "resolved_at": timestamp(now),
    }
    publish_many([(MODERATION, "flag.resolved", body)])
    return resolved


def flag_body(flag: ScoreFlag) -> dict[str, Any]:
    """A flag as the API and the ``moderation`` channel show it (``score``, ``user`` and ``game`` loaded)."""
    return {
        "id": flag.pk,
        "score_id": flag.score_id,
        "score": flag.score.value,
        "scored_at": timestamp(flag.score.created_at),
        "score_void": flag.score.voided_at is not None,
        "user_id": str(flag.user_id),
        "username": flag.user.username,
        "display_name": flag.user.display_name,
        "game_id": str(flag.game_id),
        "game_slug": flag.game.slug,
        "game_name": flag.game.name,
        "reasons": flag.reason_list,
        "detail": flag.detail,
        "status": flag.status,
        "created_at": timestamp(flag.created_at),
        "resolved_at": timestamp(flag.resolved_at) if flag.resolved_at else None,
        "resolved_by": flag.resolved_by.username if flag.resolved_by else None,
        "note": flag.note,
    }
