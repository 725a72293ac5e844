"""Shadow-bans: a cheating player's scores are kept, and shown to them only.

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
from rankings.boards import tournament_board
from rankings.services import standings_move_player
from tournaments.models import LIVE, Tournament

from .services import lock_players


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
    moved = standings_move_player(user_id=user.pk, hide=True)
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
    moved = standings_move_player(
        user_id=user.pk, hide=False, keep=lambda key: not key.startswith("tournament.") or key in live
    )
    user.shadow_banned_at = None
    User.objects.filter(pk=user.pk).update(shadow_banned_at=None)
    return ModerationAudit.objects.create(
        user=user, action=ModerationAudit.Action.LIFT, actor=actor, reason=reason, standings=moved
    )
