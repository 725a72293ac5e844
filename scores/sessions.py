"""Match sessions: how a game whose scores players report keeps them honest.

A game says whose word its scores are (``Game.score_authority``):

* ``client``: players and game servers submit;
* ``session``: a player first opens a match session (``session_open``), and the
  score must name it, once, between ``session_min_seconds`` and
  ``session_max_seconds`` after it opened, and be at most
  ``session_max_score_per_second`` times the seconds played (when set);
* ``server``: only game servers (API keys) submit: the server-authoritative
  game, whose clients never report a score.

Game servers may always write for their games, and the simulator plays synthetic
games, which take client scores. ``score_authority_check`` runs inside
``score_submit``, in its transaction, so a session is used up exactly when its
score is stored.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import status

from accounts.models import User
from common import ratelimit
from common.errors import Conflict, DomainError
from games.models import Game, ScoreAuthority

from .models import MatchSession, Source


class ServerAuthoritative(DomainError):
    code = "server_authoritative"
    status_code = status.HTTP_403_FORBIDDEN
    message = "This game takes scores from its game servers only."


class SessionRequired(DomainError):
    code = "session_required"
    message = "This game's scores need a match session: open one (POST /games/{game}/sessions) and name it."

    def __init__(self) -> None:
        super().__init__(fields={"session_id": [self.message]})


class SessionInvalid(Conflict):
    code = "session_invalid"
    message = "No open match session of yours on this game has this id (each session takes one score)."


class SessionTooShort(Conflict):
    code = "session_too_short"


class SessionExpired(Conflict):
    code = "session_expired"


class ScoreImplausible(Conflict):
    code = "score_implausible"


class SessionsThrottled(DomainError):
    code = "throttled"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    message = "Too many match sessions on this game; slow down."


def session_open(*, user: User, game: Game) -> MatchSession:
    """Open a match for a player, counted against the same per-player-per-game limit as their scores."""
    ratelimit.enforce(f"session:{user.pk}:{game.pk}", settings.SCORE_RATE_PER_USER_GAME, SessionsThrottled)
    now = timezone.now()
    return MatchSession.objects.create(
        user=user, game=game, started_at=now, expires_at=now + timedelta(seconds=game.session_max_seconds)
    )


def sessionless_score_check(*, game: Game) -> None:
    """``score_authority_check`` of a player's score that names no match session."""
    if game.score_authority == ScoreAuthority.SERVER:
        raise ServerAuthoritative()
    if game.score_authority == ScoreAuthority.SESSION:
        raise SessionRequired()


def score_authority_check(*, user: User, game: Game, value: int, source: str, session_id: uuid.UUID | None) -> None:
    """Refuse a player's score the game does not take from players; use up the session it names. Call it inside
    the submission's transaction, after the player's row lock."""
    if source != Source.CLIENT:
        return
    if session_id is None or game.score_authority != ScoreAuthority.SESSION:
        sessionless_score_check(game=game)
        return
    now = timezone.now()
    session = MatchSession.objects.filter(pk=session_id, user=user, game=game, used_at__isnull=True).first()
    if session is None:
        raise SessionInvalid()
    played = (now - session.started_at).total_seconds()
    if played < game.session_min_seconds:
        raise SessionTooShort(
            f"A match of this game lasts at least {game.session_min_seconds} s; this one has run {played:.0f} s."
        )
    if now > session.expires_at:
        raise SessionExpired(f"This match session ended at {session.expires_at:%Y-%m-%d %H:%M:%S} UTC.")
    rate = game.session_max_score_per_second
    if rate is not None and value > rate * max(played, 1.0):
        raise ScoreImplausible(
            f"{value} is more than this game allows in {played:.0f} s of play ({rate} per second).",
            fields={"score": [f"At most {int(rate * max(played, 1.0))} after {played:.0f} s."]},
        )
    # The player's row lock is held: nobody else uses this session meanwhile.
    MatchSession.objects.filter(pk=session.pk).update(used_at=now)


SESSION_KEPT_AFTER_EXPIRY = timedelta(days=1)


def sessions_prune() -> int:
    """Delete the sessions that expired ``SESSION_KEPT_AFTER_EXPIRY`` ago: none can take a score any more, and
    a score keeps no reference to its session. Returns how many went."""
    deleted, _ = MatchSession.objects.filter(expires_at__lt=timezone.now() - SESSION_KEPT_AFTER_EXPIRY).delete()
    return deleted
