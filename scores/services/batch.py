"""A batch of scores from a game server (``score_submit_batch``): one transaction, each bad item rejected
alone, by index."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey
from common.errors import DomainError
from common.metrics import SCORE_SUBMIT_SECONDS, timed
from events.bus import publish_many
from games.models import Game
from games.services import SyntheticMismatch, synthetic_pairing_check
from games.tiebreak import board_value
from leagues.services import league_place
from rankings.services import BoardValueOverflow, ScoreInput, StandingsWrites, standings_record_scores
from tournaments.services import tournament_record_scores

from ..models import Score, Source
from .checks import score_validate
from .errors import IdempotencyKeyReused, ScoreRejected
from .players import _is_better, _personal_best, _previous_bests, lock_active_players
from .storage import _count_after_commit, _insert_scores, _NewScore
from .submit import _submitted_events

MAX_BATCH = 1000


@dataclass(frozen=True)
class BatchItem:
    user_id: uuid.UUID
    game_id: uuid.UUID
    value: int
    metadata: dict
    idempotency_key: str | None
    tiebreak: int | None = None


@dataclass(frozen=True)
class BatchOutcome:
    """One item's fate: ``created``, ``duplicate`` (idempotency key seen before) or ``rejected``."""

    index: int
    status: str
    score_id: int | None = None
    code: str | None = None
    message: str | None = None


def _reject(index: int, error: DomainError) -> BatchOutcome:
    return BatchOutcome(index, "rejected", code=error.code, message=error.message)


@timed(SCORE_SUBMIT_SECONDS, "batch")
@transaction.atomic
def score_submit_batch(*, api_key: ApiKey, items: Sequence[BatchItem]) -> list[BatchOutcome]:
    """Store a game server's scores in one transaction; each bad item is rejected alone, by index.

    Items are applied in order. Statements: the player locks, the known
    idempotency keys, per game the standings read and write, one insert.
    """
    outcomes: dict[int, BatchOutcome] = {}
    games = {game.pk: game for game in Game.objects.filter(pk__in={item.game_id for item in items})}
    allowed = set(api_key.games.filter(pk__in=games).values_list("pk", flat=True))
    # Every named player is locked up front, those of rejected items too: one statement reads and locks.
    users = lock_active_players([item.user_id for item in items])
    accepted: list[tuple[int, BatchItem]] = []
    for index, item in enumerate(items):
        game = games.get(item.game_id)
        if game is None:
            outcomes[index] = BatchOutcome(index, "rejected", code="game_not_found", message="No such game.")
        elif game.pk not in allowed:
            outcomes[index] = BatchOutcome(
                index, "rejected", code="game_not_allowed", message="This API key may not write for this game."
            )
        elif item.user_id not in users:
            outcomes[index] = BatchOutcome(index, "rejected", code="user_not_found", message="No such active user.")
        else:
            try:
                score_validate(game=game, value=item.value, metadata=item.metadata, tiebreak=item.tiebreak)
                synthetic_pairing_check(user_is_synthetic=users[item.user_id].is_synthetic, game=game)
            except (ScoreRejected, SyntheticMismatch) as error:
                outcomes[index] = _reject(index, error)
            else:
                accepted.append((index, item))

    hidden = {pk for pk, player in users.items() if player.hidden}
    accepted = _drop_repeated_keys(accepted, outcomes)

    now = timezone.now()
    new_scores: list[tuple[int, _NewScore]] = []
    with StandingsWrites() as writes:
        for game_id in dict.fromkeys(item.game_id for _, item in accepted):
            game = games[game_id]
            of_game = [(index, item) for index, item in accepted if item.game_id == game_id]
            previous = {} if game.score_operator == "best" else _previous_bests(game, [i.user_id for _, i in of_game])
            inputs = [
                ScoreInput(item.user_id, board_value(game, item.value, item.tiebreak), now, item.user_id in hidden)
                for _, item in of_game
            ]
            effects = standings_record_scores(game=game, scores=inputs, writes=writes)
            counted = [score for score, effect in zip(inputs, effects, strict=True) if effect is not None]
            league_place(game=game, entries=[(score.user_id, score.at) for score in counted])
            tournament_record_scores(game=game, scores=counted, writes=writes)
            for (index, item), score_input, effect in zip(of_game, inputs, effects, strict=True):
                if effect is None:
                    outcomes[index] = _reject(index, BoardValueOverflow())
                    continue
                best_so_far = previous.get(item.user_id)
                personal_best = _personal_best(game, score_input.value, effect, best_so_far)
                if best_so_far is None or _is_better(game, score_input.value, best_so_far):
                    previous[item.user_id] = score_input.value
                new_scores.append(
                    (
                        index,
                        _NewScore(
                            item.user_id,
                            game.pk,
                            item.value,
                            item.metadata,
                            item.idempotency_key,
                            Source.SERVER,
                            api_key.pk,
                            personal_best,
                            now,
                            tiebreak=item.tiebreak,
                        ),
                    )
                )
    ids = _insert_scores([score for _, score in new_scores])
    created = [score._replace(pk=pk) for (_, score), pk in zip(new_scores, ids, strict=True)]
    for (index, _), score in zip(new_scores, created, strict=True):
        outcomes[index] = BatchOutcome(index, "created", score_id=score.pk)
    publish_many(
        [
            *writes.announcements,  # the boards that moved, then the scores
            *(
                event
                for score in created
                if score.user_id not in hidden
                for event in _submitted_events(score, users[score.user_id].username, users[score.user_id].display_name)
            ),
        ]
    )
    _count_after_commit(Counter((games[score.game_id].slug, Source.SERVER) for score in created))
    return [outcomes[index] for index in range(len(items))]


def _drop_repeated_keys(
    accepted: list[tuple[int, BatchItem]], outcomes: dict[int, BatchOutcome]
) -> list[tuple[int, BatchItem]]:
    """Items whose idempotency key was used before: the same score (game and value) is a duplicate, as a single
    submit replays it; another score under a used key is rejected (``idempotency_key_reused``, a single submit's
    409); a key repeated within the batch is rejected after its first use."""
    keyed = {(item.user_id, item.idempotency_key) for _, item in accepted if item.idempotency_key}
    known: dict[tuple[uuid.UUID, str], tuple[int, uuid.UUID, int]] = {}
    if keyed:
        rows = Score.objects.filter(
            user_id__in={user_id for user_id, _ in keyed}, idempotency_key__in={key for _, key in keyed}
        ).values_list("user_id", "idempotency_key", "pk", "game_id", "value", "tiebreak")
        known = {(user_id, key): (pk, game_id, value, tiebreak) for user_id, key, pk, game_id, value, tiebreak in rows}
    kept: list[tuple[int, BatchItem]] = []
    seen: set[tuple[uuid.UUID, str]] = set()
    for index, item in accepted:
        pair = (item.user_id, item.idempotency_key)
        if item.idempotency_key and pair in known:
            score_id, *original = known[pair]
            if tuple(original) == (item.game_id, item.value, item.tiebreak):
                outcomes[index] = BatchOutcome(index, "duplicate", score_id=score_id)
            else:
                outcomes[index] = _reject(index, IdempotencyKeyReused())
        elif item.idempotency_key and pair in seen:
            outcomes[index] = BatchOutcome(
                index, "rejected", code="idempotency_key_repeated", message="This key appears earlier in the batch."
            )
        else:
            seen.add(pair)
            kept.append((index, item))
    return kept
