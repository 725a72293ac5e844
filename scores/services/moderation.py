"""Moderation: a cheated score voided (``score_void``), a cheating player shadow-banned.

A void takes the score off every board it counted on: they are recomputed from the player's other scores, and
the void is audited (``ScoreAudit``).

Shadow-bans: a cheating player's scores are kept, and shown to them only.

A ban moves every standing of the player off the public boards onto their hidden twins
(``rankings.boards.hidden_board``): nobody else sees them on a board, in a feed, in a score
history or in a tournament's places, and no event announces their scores. The player notices
nothing: their submissions succeed, and their own reads show them where they would stand
(``rankings.selectors``). Their new scores keep counting on the hidden boards.

Lifting the ban moves the hidden standings back, as if there had been no ban; a tournament
that ended meanwhile keeps the places it finished with. Both are audited (``ModerationAudit``).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import ModerationAudit, User
from common.errors import Conflict
from events.bus import publish_many
from rankings.boards import boards_for_score, tournament_board
from rankings.services import StandingsWrites, standings_move_player, standings_recompute
from tournaments.models import LIVE, Tournament
from tournaments.services import tournaments_score_voided

from ..models import Score, ScoreAudit
from ..selectors import scores_ranked
from .errors import ScoreAlreadyVoid
from .players import lock_players


@transaction.atomic
def score_void(*, score: Score, actor: User, reason: str) -> Score:
    """Void a cheated score: recompute every board it counted on from the player's other scores, and audit it."""
    hidden = bool(lock_players([score.user_id]))
    score = Score.objects.select_related("game").get(pk=score.pk)
    if score.is_void:
        raise ScoreAlreadyVoid()
    score.voided_at = timezone.now()
    score.voided_by = actor
    score.void_reason = reason
    score.save(update_fields=["voided_at", "voided_by", "void_reason"])
    remaining = scores_ranked(game=score.game, user_id=score.user_id)
    with StandingsWrites() as writes:
        standings_recompute(
            game=score.game, user_id=score.user_id, at=score.created_at, scores=remaining, hidden=hidden, writes=writes
        )
        tournaments_score_voided(score=score, writes=writes)
    publish_many(writes.announcements)
    recomputed = [board.key for pair in boards_for_score(score.game, score.created_at) for board in pair if board]
    ScoreAudit.objects.create(
        score=score, action=ScoreAudit.Action.VOID, actor=actor, reason=reason, boards=sorted(recomputed)
    )
    return score


class AlreadyShadowBanned(Conflict):
    code = "already_shadow_banned"
    message = "This player is shadow-banned already."


class NotShadowBanned(Conflict):
    code = "not_shadow_banned"
    message = "This player is not shadow-banned."


@transaction.atomic
def player_shadow_ban(*, user: User, actor: User, reason: str) -> ModerationAudit:
    """Hide the player's standings and every score they make from now on from everyone but themselves."""
    if user.pk in lock_players([user.pk]):
        raise AlreadyShadowBanned()
    with StandingsWrites() as writes:
        moved = standings_move_player(user_id=user.pk, hide=True, writes=writes)
    publish_many(writes.announcements)
    user.shadow_banned_at = timezone.now()
    User.objects.filter(pk=user.pk).update(shadow_banned_at=user.shadow_banned_at)
    return ModerationAudit.objects.create(
        user=user, action=ModerationAudit.Action.SHADOW_BAN, actor=actor, reason=reason, standings=moved
    )


@transaction.atomic
def player_shadow_ban_lift(*, user: User, actor: User, reason: str) -> ModerationAudit:
    """Put the player's standings back on the public boards, those of the ban's time included."""
    if user.pk not in lock_players([user.pk]):
        raise NotShadowBanned()
    live = {
        tournament_board(pk, descending=True).key
        for pk in Tournament.objects.filter(status__in=LIVE, participants__user_id=user.pk).values_list("pk", flat=True)
    }
    with StandingsWrites() as writes:
        moved = standings_move_player(
            user_id=user.pk,
            hide=False,
            keep=lambda key: not key.startswith("tournament.") or key in live,
            writes=writes,
        )
    publish_many(writes.announcements)
    user.shadow_banned_at = None
    User.objects.filter(pk=user.pk).update(shadow_banned_at=None)
    return ModerationAudit.objects.create(
        user=user, action=ModerationAudit.Action.LIFT, actor=actor, reason=reason, standings=moved
    )
