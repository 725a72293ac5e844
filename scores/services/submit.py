"""A player's score: one submission (``score_submit``), and players' submissions stored together
(``score_submit_group``, the group commit of ``scores.groupcommit``).

Each takes the player's row lock first, then writes the score and its
standings in one transaction. Ranking indexes are written after commit.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, User
from common import ratelimit
from common.errors import DomainError
from common.metrics import SCORE_SUBMIT_SECONDS, timed
from common.serializers import timestamp
from events.bus import publish_many
from events.names import board_channel
from games.models import Game
from games.services import synthetic_pairing_check
from games.tiebreak import board_value
from leagues.services import league_place
from rankings.services import BoardValueOverflow, ScoreInput, StandingsWrites, standings_record_scores
from tournaments.services import tournament_record_scores

from ..models import Score, Source
from ..sessions import score_authority_check, sessionless_score_check
from .checks import _check_rate, score_validate
from .errors import IdempotencyKeyReused, PlayerGone, ScoreRateLimited
from .players import _personal_best, _previous_bests, lock_active_players, lock_players
from .storage import _count_after_commit, _insert_scores, _NewScore


@dataclass(frozen=True)
class SubmitResult:
    score: Score
    replayed: bool
    hidden: bool = False  # the player was shadow-banned when their row was locked


@timed(SCORE_SUBMIT_SECONDS, "single")
@transaction.atomic
def score_submit(
    *,
    user: User,
    game: Game,
    value: int,
    metadata: dict | None = None,
    idempotency_key: str | None = None,
    source: str = Source.CLIENT,
    api_key: ApiKey | None = None,
    session_id: uuid.UUID | None = None,
    tiebreak: int | None = None,
) -> SubmitResult:
    """Store a score and update every board it counts on. A repeated idempotency key returns the original.

    A player's score on a game that takes none from players, or needs a match session, is refused or uses up
    the session it names (``sessions.score_authority_check``)."""
    hidden = bool(lock_players([user.pk]))
    return _submit(user, hidden, game, value, tiebreak, metadata, idempotency_key, source, api_key, session_id)


@dataclass(frozen=True)
class PlayerScore:
    """A signed-in player's own score, naming no match session (a token's claim: the player is known by id)."""

    user_id: uuid.UUID
    game: Game
    value: int
    metadata: dict
    idempotency_key: str | None
    tiebreak: int | None = None


@timed(SCORE_SUBMIT_SECONDS, "group")
@transaction.atomic
def score_submit_group(items: Sequence[PlayerScore]) -> list[SubmitResult | DomainError]:
    """Players' own scores, each of a different player, stored together as ``score_submit`` would store each:
    one transaction, one lock statement, one rate-limit round trip, per game one standings read and write, one
    insert. Each item's outcome is its result or the DomainError it is refused with (PlayerGone: no such active
    player); a refused item stores nothing."""
    if len({item.user_id for item in items}) != len(items):
        raise ValueError("a group holds each player once")
    players = lock_active_players([item.user_id for item in items])
    outcomes: list[SubmitResult | DomainError | None] = [None] * len(items)
    originals = _originals({(item.user_id, item.idempotency_key) for item in items if item.idempotency_key})
    checked: list[int] = []
    for index, item in enumerate(items):
        player = players.get(item.user_id)
        try:
            if player is None:
                raise PlayerGone()
            score_validate(game=item.game, value=item.value, metadata=item.metadata, tiebreak=item.tiebreak)
            synthetic_pairing_check(user_is_synthetic=player.is_synthetic, game=item.game)
        except DomainError as error:
            outcomes[index] = error
            continue
        original = originals.get((item.user_id, item.idempotency_key))
        if original is None:
            checked.append(index)
        elif (original.game_id, original.value, original.tiebreak) != (item.game.pk, item.value, item.tiebreak):
            outcomes[index] = IdempotencyKeyReused()
        else:
            outcomes[index] = SubmitResult(original, replayed=True, hidden=player.hidden)
    refusals = ratelimit.enforce_each(
        [f"score:{items[index].user_id}:{items[index].game.pk}" for index in checked],
        settings.SCORE_RATE_PER_USER_GAME,
        ScoreRateLimited,
    )
    accepted: list[int] = []
    for index, refused in zip(checked, refusals, strict=True):
        try:
            if refused is not None:
                raise refused
            sessionless_score_check(game=items[index].game)
        except DomainError as error:
            outcomes[index] = error
        else:
            accepted.append(index)
    now = timezone.now()
    created: list[tuple[int, Score]] = []
    with StandingsWrites() as writes:
        for game_id in dict.fromkeys(items[index].game.pk for index in accepted):
            of_game = [index for index in accepted if items[index].game.pk == game_id]
            game = items[of_game[0]].game
            user_ids = [items[index].user_id for index in of_game]
            previous = {} if game.score_operator == "best" else _previous_bests(game, user_ids)
            inputs = [
                ScoreInput(
                    items[i].user_id,
                    board_value(game, items[i].value, items[i].tiebreak),
                    now,
                    players[items[i].user_id].hidden,
                )
                for i in of_game
            ]
            effects = standings_record_scores(game=game, scores=inputs, writes=writes)
            counted = [score for score, effect in zip(inputs, effects, strict=True) if effect is not None]
            league_place(game=game, entries=[(score.user_id, score.at) for score in counted])
            tournament_record_scores(game=game, scores=counted, writes=writes)
            for index, score_input, effect in zip(of_game, inputs, effects, strict=True):
                item = items[index]
                if effect is None:
                    outcomes[index] = BoardValueOverflow()
                    continue
                personal_best = _personal_best(game, score_input.value, effect, previous.get(item.user_id))
                score = Score(
                    user_id=item.user_id,
                    game=game,
                    value=item.value,
                    tiebreak=item.tiebreak,
                    metadata=item.metadata,
                    idempotency_key=item.idempotency_key or None,
                    source=Source.CLIENT,
                    is_personal_best=personal_best,
                    created_at=now,
                )
                created.append((index, score))
    for (_, score), pk in zip(created, _insert_scores([score for _, score in created]), strict=True):
        score.pk = pk
    events = list(writes.announcements)  # the boards that moved, then the scores
    for index, score in created:
        player = players[score.user_id]
        outcomes[index] = SubmitResult(score, replayed=False, hidden=player.hidden)
        if not player.hidden:
            events += _submitted_events(score, player.username, player.display_name)
    publish_many(events)
    _count_after_commit(Counter((score.game.slug, Source.CLIENT) for _, score in created))
    return outcomes  # type: ignore[return-value]  # every item has its outcome


def _originals(keyed: set[tuple[uuid.UUID, str]]) -> dict[tuple[uuid.UUID, str], Score]:
    """The scores stored before under these (player, idempotency key) pairs."""
    if not keyed:
        return {}
    scores = Score.objects.filter(
        user_id__in={user_id for user_id, _ in keyed}, idempotency_key__in={key for _, key in keyed}
    )
    return {(score.user_id, score.idempotency_key): score for score in scores}


def _submit(
    user: User,
    hidden: bool,
    game: Game,
    value: int,
    tiebreak: int | None,
    metadata: dict | None,
    idempotency_key: str | None,
    source: str,
    api_key: ApiKey | None = None,
    session_id: uuid.UUID | None = None,
) -> SubmitResult:
    """The submission, the player's row locked (``hidden``: as the lock found them shadow-banned)."""
    metadata = {} if metadata is None else metadata
    score_validate(game=game, value=value, metadata=metadata, tiebreak=tiebreak)
    synthetic_pairing_check(user_is_synthetic=user.is_synthetic, game=game)
    if idempotency_key:
        original = Score.objects.filter(user=user, idempotency_key=idempotency_key).first()
        if original is not None:
            if (original.game_id, original.value, original.tiebreak) != (game.pk, value, tiebreak):
                raise IdempotencyKeyReused()
            return SubmitResult(original, replayed=True, hidden=hidden)
    _check_rate(user.pk, game.pk)
    score_authority_check(user=user, game=game, value=value, source=source, session_id=session_id)
    now = timezone.now()
    previous = None if game.score_operator == "best" else _previous_bests(game, [user.pk]).get(user.pk)
    ranked_as = board_value(game, value, tiebreak)
    inputs = [ScoreInput(user.pk, ranked_as, now, hidden)]
    with StandingsWrites() as writes:
        (effect,) = standings_record_scores(game=game, scores=inputs, writes=writes)
        if effect is None:
            raise BoardValueOverflow()
        league_place(game=game, entries=[(user.pk, now)])
        tournament_record_scores(game=game, scores=inputs, writes=writes)
    score = Score.objects.create(
        user=user,
        game=game,
        value=value,
        tiebreak=tiebreak,
        metadata=metadata,
        idempotency_key=idempotency_key or None,
        source=source,
        api_key=api_key,
        is_personal_best=_personal_best(game, ranked_as, effect, previous),
        created_at=now,
    )
    events = list(writes.announcements)
    if not hidden:  # a shadow-banned player's scores are news to nobody
        events += _submitted_events(score, user.username, user.display_name)
    publish_many(events)
    _count_after_commit({(game.slug, source): 1})
    return SubmitResult(score, replayed=False, hidden=hidden)


def _submitted_events(score: Score | _NewScore, username: str, display_name: str) -> list[tuple[str, str, dict]]:
    """``score.submitted`` on the score feed and on the game's board channel."""
    data = {
        "score_id": score.pk,
        "user_id": str(score.user_id),
        "username": username,
        "display_name": display_name,
        "game_id": str(score.game_id),
        "score": score.value,
        "tiebreak": score.tiebreak,
        "personal_best": score.is_personal_best,
        "source": score.source,
        "created_at": timestamp(score.created_at),
    }
    return [("score", "score.submitted", data), (board_channel(score.game_id), "score.submitted", data)]
