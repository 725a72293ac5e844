"""Score writes: one submission, a batch from a game server, moderation.

Every submission takes the player's row lock first, so one player's scores
are applied one at a time (idempotency keys and running totals stay exact
under concurrent requests), then writes the score and its standings in one
transaction. Ranking indexes are written after commit.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone
from rest_framework import status

from accounts.models import ApiKey, User
from common import bulk, ratelimit
from common.errors import Conflict, DomainError
from common.metrics import SCORE_SUBMIT_SECONDS, SCORES_SUBMITTED, timed
from common.serializers import timestamp
from events.bus import publish_many
from events.names import board_channel
from games.models import INT64_MAX, INT64_MIN, Game
from games.services import SyntheticMismatch, synthetic_pairing_check
from rankings.boards import boards_for_score
from rankings.services import (
    BoardValueOverflow,
    ScoreEffect,
    ScoreInput,
    StandingsWrites,
    standings_recompute,
    standings_record_scores,
)
from tournaments.services import tournament_record_scores, tournaments_score_voided

from .models import Score, ScoreAudit, Source
from .sessions import score_authority_check, sessionless_score_check

MAX_METADATA_BYTES = 2048
MAX_BATCH = 1000


class ScoreRejected(DomainError):
    code = "invalid"
    message = "The score was not accepted."


class GameInactive(ScoreRejected):
    code = "game_inactive"
    message = "This game does not accept scores."


class ScoreOutOfBounds(ScoreRejected):
    code = "score_out_of_bounds"


class MetadataTooLarge(ScoreRejected):
    code = "metadata_too_large"
    message = f"metadata must be a JSON object of at most {MAX_METADATA_BYTES} bytes."


class ScoreRateLimited(DomainError):
    code = "throttled"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    message = "Too many scores for this game; slow down."


class ApiKeyRateLimited(ScoreRateLimited):
    message = "Too many scores from this API key; slow down."


class PlayerGone(DomainError):
    """The player a token names is gone or deactivated: the full authentication answers with its 401."""

    code = "not_authenticated"
    status_code = 401


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    message = "This idempotency key was already used for a different score."


class ScoreAlreadyVoid(Conflict):
    code = "score_already_void"
    message = "This score is already void."


@dataclass(frozen=True)
class SubmitResult:
    score: Score
    replayed: bool
    hidden: bool = False  # the player was shadow-banned when their row was locked


def _check_rate(user_id: uuid.UUID, game_id: uuid.UUID) -> None:
    """Fixed-window count per player and game, shared by every server process."""
    ratelimit.enforce(f"score:{user_id}:{game_id}", settings.SCORE_RATE_PER_USER_GAME, ScoreRateLimited)


def api_key_rate_check(*, api_key: ApiKey, scores: int) -> None:
    """Count the scores a game server offers against ``SCORE_RATE_PER_API_KEY``, shared by every process.

    Called before anything is parsed or stored, with every score a request carries (a batch's invalid ones
    too), so a flood costs one counter round trip per request. Fails open like the per-player limit.
    """
    ratelimit.enforce(f"api-key:{api_key.pk}", settings.SCORE_RATE_PER_API_KEY, ApiKeyRateLimited, amount=scores)


def score_validate(*, game: Game, value: int, metadata: object) -> None:
    """The rules every score meets, whoever submits it. Raises a ScoreRejected."""
    if not game.is_active:
        raise GameInactive()
    low = game.min_score if game.min_score is not None else INT64_MIN
    high = game.max_score if game.max_score is not None else INT64_MAX
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ScoreOutOfBounds(
            f"The score must be an integer from {low} to {high} for this game.",
            fields={"score": [f"Must be an integer from {low} to {high}."]},
        )
    encoded = json.dumps(metadata, separators=(",", ":")) if isinstance(metadata, dict) else None
    if encoded is None or len(encoded) > MAX_METADATA_BYTES:
        raise MetadataTooLarge(fields={"metadata": [MetadataTooLarge.message]})
    if _holds_nul(metadata):
        # PostgreSQL's jsonb cannot hold a NUL character, in a key or a value, at any depth.
        message = "metadata must not contain a NUL character (\\u0000)."
        raise ScoreRejected(message, fields={"metadata": [message]})


def _holds_nul(value: object) -> bool:
    """Whether a NUL character stands in a string of ``value`` (parsed JSON), keys included, at any depth."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
    return False


def lock_players(user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Take the players' row locks, always in id order, so two batches naming the same players cannot deadlock.
    Returns those of them who are shadow-banned, as the lock finds them (``moderation`` bans under the same lock).
    """
    return {row[0] for row in _locked_rows(user_ids, (), active_only=False) if row[1]}


class LockedPlayer(NamedTuple):
    username: str
    display_name: str
    is_synthetic: bool
    hidden: bool  # shadow-banned


def lock_active_players(user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LockedPlayer]:
    """``lock_players`` of the active ones among ``user_ids``, read by the statement that locks them."""
    rows = _locked_rows(user_ids, ("username", "display_name", "is_synthetic"), active_only=True)
    return {pk: LockedPlayer(name, shown, bool(synthetic), hidden) for pk, hidden, name, shown, synthetic in rows}


def _locked_rows(user_ids: Sequence[uuid.UUID], fields: Sequence[str], *, active_only: bool) -> list[tuple]:
    """``(id, shadow-banned, *fields)`` of the players, locked in id order.

    Plain SQL: every submission runs it, and the ORM took more CPU building the
    statement than the database took running it. SQLite has no row locks (its
    writers are serialized), so there it only reads.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return []
    id_field = User._meta.pk
    quote = connection.ops.quote_name
    column = quote(id_field.column)
    banned = quote(User._meta.get_field("shadow_banned_at").column)
    extra = "".join(f", {quote(User._meta.get_field(name).column)}" for name in fields)
    active = f" AND {quote(User._meta.get_field('is_active').column)}" if active_only else ""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column}, {banned} IS NOT NULL{extra} FROM {User._meta.db_table}"
            f" WHERE {column} IN ({', '.join(['%s'] * len(ids))}){active} ORDER BY {column}{lock}",
            [id_field.get_db_prep_value(user_id, connection) for user_id in ids],
        )
        return [(id_field.to_python(pk), bool(hidden), *rest) for pk, hidden, *rest in cursor.fetchall()]


def _count_after_commit(counts: Mapping[tuple[str, str], int]) -> None:
    """Add accepted scores, by (game slug, source), to ``podium_scores_submitted`` once they are committed."""
    if counts:
        transaction.on_commit(partial(_count, counts))


def _count(counts: Mapping[tuple[str, str], int]) -> None:
    for (game, source), number in counts.items():
        SCORES_SUBMITTED.labels(game, source).inc(number)


def _is_better(game: Game, value: int, than: int) -> bool:
    return value > than if game.sort_order == "desc" else value < than


def _previous_bests(game: Game, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each player's best single counted score in the game so far."""
    best = Max("value") if game.sort_order == "desc" else Min("value")
    rows = (
        Score.objects.filter(game=game, user_id__in=set(user_ids), voided_at__isnull=True)
        .values("user_id")
        .annotate(best=best)
        .order_by()
    )
    return {row["user_id"]: row["best"] for row in rows}


def _personal_best(game: Game, value: int, effect: ScoreEffect, previous_best: int | None) -> bool:
    if game.score_operator == "best":
        # The all-time value is the best score: it moved only if this one beat it.
        return effect.before is None or effect.after is not effect.before
    return previous_best is None or _is_better(game, value, previous_best)


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
) -> SubmitResult:
    """Store a score and update every board it counts on. A repeated idempotency key returns the original.

    A player's score on a game that takes none from players, or needs a match session, is refused or uses up
    the session it names (``sessions.score_authority_check``)."""
    hidden = bool(lock_players([user.pk]))
    return _submit(user, hidden, game, value, metadata, idempotency_key, source, api_key, session_id)


@dataclass(frozen=True)
class PlayerScore:
    """A signed-in player's own score, naming no match session (a token's claim: the player is known by id)."""

    user_id: uuid.UUID
    game: Game
    value: int
    metadata: dict
    idempotency_key: str | None


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
            score_validate(game=item.game, value=item.value, metadata=item.metadata)
            synthetic_pairing_check(user_is_synthetic=player.is_synthetic, game=item.game)
        except DomainError as error:
            outcomes[index] = error
            continue
        original = originals.get((item.user_id, item.idempotency_key))
        if original is None:
            checked.append(index)
        elif original.game_id != item.game.pk or original.value != item.value:
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
    for game_id in dict.fromkeys(items[index].game.pk for index in accepted):
        of_game = [index for index in accepted if items[index].game.pk == game_id]
        game = items[of_game[0]].game
        user_ids = [items[index].user_id for index in of_game]
        previous = {} if game.score_operator == "best" else _previous_bests(game, user_ids)
        inputs = [ScoreInput(items[i].user_id, items[i].value, now, players[items[i].user_id].hidden) for i in of_game]
        effects = standings_record_scores(game=game, scores=inputs)
        tournament_record_scores(
            game=game, scores=[score for score, effect in zip(inputs, effects, strict=True) if effect is not None]
        )
        for index, effect in zip(of_game, effects, strict=True):
            item = items[index]
            if effect is None:
                outcomes[index] = BoardValueOverflow()
                continue
            personal_best = _personal_best(game, item.value, effect, previous.get(item.user_id))
            score = Score(
                user_id=item.user_id,
                game=game,
                value=item.value,
                metadata=item.metadata,
                idempotency_key=item.idempotency_key or None,
                source=Source.CLIENT,
                is_personal_best=personal_best,
                created_at=now,
            )
            created.append((index, score))
    for (_, score), pk in zip(created, _insert_scores([score for _, score in created]), strict=True):
        score.pk = pk
    events = []
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
    metadata: dict | None,
    idempotency_key: str | None,
    source: str,
    api_key: ApiKey | None = None,
    session_id: uuid.UUID | None = None,
) -> SubmitResult:
    """The submission, the player's row locked (``hidden``: as the lock found them shadow-banned)."""
    metadata = {} if metadata is None else metadata
    score_validate(game=game, value=value, metadata=metadata)
    synthetic_pairing_check(user_is_synthetic=user.is_synthetic, game=game)
    if idempotency_key:
        original = Score.objects.filter(user=user, idempotency_key=idempotency_key).first()
        if original is not None:
            if original.game_id != game.pk or original.value != value:
                raise IdempotencyKeyReused()
            return SubmitResult(original, replayed=True, hidden=hidden)
    _check_rate(user.pk, game.pk)
    score_authority_check(user=user, game=game, value=value, source=source, session_id=session_id)
    now = timezone.now()
    previous = None if game.score_operator == "best" else _previous_bests(game, [user.pk]).get(user.pk)
    inputs = [ScoreInput(user.pk, value, now, hidden)]
    (effect,) = standings_record_scores(game=game, scores=inputs)
    if effect is None:
        raise BoardValueOverflow()
    tournament_record_scores(game=game, scores=inputs)
    score = Score.objects.create(
        user=user,
        game=game,
        value=value,
        metadata=metadata,
        idempotency_key=idempotency_key or None,
        source=source,
        api_key=api_key,
        is_personal_best=_personal_best(game, value, effect, previous),
        created_at=now,
    )
    if not hidden:  # a shadow-banned player's scores are news to nobody
        publish_many(_submitted_events(score, user.username, user.display_name))
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
        "personal_best": score.is_personal_best,
        "source": score.source,
        "created_at": timestamp(score.created_at),
    }
    return [("score", "score.submitted", data), (board_channel(score.game_id), "score.submitted", data)]


@dataclass(frozen=True)
class BatchItem:
    user_id: uuid.UUID
    game_id: uuid.UUID
    value: int
    metadata: dict
    idempotency_key: str | None


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
                score_validate(game=game, value=item.value, metadata=item.metadata)
                synthetic_pairing_check(user_is_synthetic=users[item.user_id].is_synthetic, game=game)
            except (ScoreRejected, SyntheticMismatch) as error:
                outcomes[index] = _reject(index, error)
            else:
                accepted.append((index, item))

    hidden = {pk for pk, player in users.items() if player.hidden}
    accepted = _drop_repeated_keys(accepted, outcomes)

    now = timezone.now()
    new_scores: list[tuple[int, _NewScore]] = []
    for game_id in dict.fromkeys(item.game_id for _, item in accepted):
        game = games[game_id]
        of_game = [(index, item) for index, item in accepted if item.game_id == game_id]
        previous = {} if game.score_operator == "best" else _previous_bests(game, [i.user_id for _, i in of_game])
        inputs = [ScoreInput(item.user_id, item.value, now, item.user_id in hidden) for _, item in of_game]
        effects = standings_record_scores(game=game, scores=inputs)
        tournament_record_scores(
            game=game, scores=[score for score, effect in zip(inputs, effects, strict=True) if effect is not None]
        )
        for (index, item), effect in zip(of_game, effects, strict=True):
            if effect is None:
                outcomes[index] = _reject(index, BoardValueOverflow())
                continue
            best_so_far = previous.get(item.user_id)
            personal_best = _personal_best(game, item.value, effect, best_so_far)
            if best_so_far is None or _is_better(game, item.value, best_so_far):
                previous[item.user_id] = item.value
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
                    ),
                )
            )
    ids = _insert_scores([score for _, score in new_scores])
    created = [score._replace(pk=pk) for (_, score), pk in zip(new_scores, ids, strict=True)]
    for (index, _), score in zip(new_scores, created, strict=True):
        outcomes[index] = BatchOutcome(index, "created", score_id=score.pk)
    publish_many(
        [
            event
            for score in created
            if score.user_id not in hidden
            for event in _submitted_events(score, users[score.user_id].username, users[score.user_id].display_name)
        ]
    )
    _count_after_commit(Counter((games[score.game_id].slug, Source.SERVER) for score in created))
    return [outcomes[index] for index in range(len(items))]


class _NewScore(NamedTuple):
    """A score a batch stores: a plain tuple, not a model instance (a batch builds a thousand)."""

    user_id: uuid.UUID
    game_id: uuid.UUID
    value: int
    metadata: dict
    idempotency_key: str | None
    source: str
    api_key_id: uuid.UUID | None
    is_personal_best: bool
    created_at: datetime
    void_reason: str = ""
    pk: int | None = None


_COPIED_SCORE_COLUMNS = tuple(
    zip(
        _NewScore._fields[:-1],
        ("uuid", "uuid", "int8", "jsonb", "varchar", "varchar", "uuid", "bool", "timestamptz", "varchar"),
        strict=True,
    )
)


def _insert_scores(scores: Sequence[Score | _NewScore]) -> list[int]:
    """Store new scores (instances or a batch's tuples); returns their ids, in order, ascending.

    PostgreSQL takes them by binary COPY, ids drawn from the sequence first: the
    ORM's insert prepares every field of every row in Python, and even one
    score costs less CPU this way (two round trips instead of one).
    """
    if connection.vendor == "postgresql":
        ids = bulk.next_ids(Score, len(scores))
        names = [name for name, _ in _COPIED_SCORE_COLUMNS]
        with connection.cursor() as cursor:
            bulk.copy_rows(
                cursor,
                Score._meta.db_table,
                [("id", "int8"), *_COPIED_SCORE_COLUMNS],
                ((pk, *(getattr(score, name) for name in names)) for pk, score in zip(ids, scores, strict=True)),
            )
        return ids
    instances = [score if isinstance(score, Score) else Score(**score._asdict()) for score in scores]
    return [row.pk for row in Score.objects.bulk_create(instances)]


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
        ).values_list("user_id", "idempotency_key", "pk", "game_id", "value")
        known = {(user_id, key): (pk, game_id, value) for user_id, key, pk, game_id, value in rows}
    kept: list[tuple[int, BatchItem]] = []
    seen: set[tuple[uuid.UUID, str]] = set()
    for index, item in accepted:
        pair = (item.user_id, item.idempotency_key)
        if item.idempotency_key and pair in known:
            score_id, game_id, value = known[pair]
            if (game_id, value) == (item.game_id, item.value):
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
    remaining: list[tuple[int, datetime]] = list(
        Score.objects.filter(user_id=score.user_id, game=score.game, voided_at__isnull=True)
        .order_by("created_at", "pk")
        .values_list("value", "created_at")
    )
    standings_recompute(game=score.game, user_id=score.user_id, at=score.created_at, scores=remaining, hidden=hidden)
    tournaments_score_voided(score=score)
    recomputed = [board.key for pair in boards_for_score(score.game, score.created_at) for board in pair if board]
    ScoreAudit.objects.create(
        score=score, action=ScoreAudit.Action.VOID, actor=actor, reason=reason, boards=sorted(recomputed)
    )
    return score


# --- import of historical scores -------------------------------------------------------

IMPORT_CHUNK = 5_000


class ScoreImportInvalid(ScoreRejected):
    message = "The import was not accepted."


@dataclass(frozen=True)
class ImportItem:
    user_id: uuid.UUID
    game_id: uuid.UUID
    value: int
    created_at: datetime


def score_import(
    *,
    items: Sequence[ImportItem],
    source: str = Source.SIMULATOR,
    chunk_size: int = IMPORT_CHUNK,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Store historical scores with their own times (demo data, migrations), each on the boards of its moment.

    Every item is checked before anything is written (ScoreImportInvalid): a known
    player and game, a value the game accepts, an aware moment not in the future
    and not before the player's latest score in that game (boards combine scores
    in time order). Items are then applied oldest first through the live path's
    ranking and tournament code, ``chunk_size`` per transaction: each chunk
    commits on its own and its index writes follow its commit. No
    ``score.submitted`` events: an import would flood every client (boards still
    announce what moved). A score that would overflow a total is skipped, as in a
    batch. ``progress`` gets the number of items done after each chunk.
    Returns how many scores were stored.
    """
    games = _import_check(items)
    ordered = sorted(items, key=lambda item: item.created_at)
    stored = 0
    for start in range(0, len(ordered), chunk_size):
        stored += _import_chunk(ordered[start : start + chunk_size], games, source)
        if progress is not None:
            progress(min(start + chunk_size, len(ordered)))
    return stored


def _import_check(items: Sequence[ImportItem]) -> dict[uuid.UUID, Game]:
    games = {game.pk: game for game in Game.objects.filter(pk__in={item.game_id for item in items})}
    user_ids = list({item.user_id for item in items})
    known: dict[uuid.UUID, bool] = {}
    for start in range(0, len(user_ids), IMPORT_CHUNK):
        known.update(
            User.objects.filter(pk__in=user_ids[start : start + IMPORT_CHUNK]).values_list("pk", "is_synthetic")
        )
    now = timezone.now()
    firsts: dict[tuple[uuid.UUID, uuid.UUID], tuple[datetime, int]] = {}
    for index, item in enumerate(items):
        game = games.get(item.game_id)
        if game is None:
            raise ScoreImportInvalid(f"Item {index}: no such game {item.game_id}.")
        if item.user_id not in known:
            raise ScoreImportInvalid(f"Item {index}: no such player {item.user_id}.")
        if timezone.is_naive(item.created_at) or item.created_at > now:
            raise ScoreImportInvalid(f"Item {index}: created_at must be an aware moment, not in the future.")
        try:
            score_validate(game=game, value=item.value, metadata={})
            synthetic_pairing_check(user_is_synthetic=known[item.user_id], game=game)
        except (ScoreRejected, SyntheticMismatch) as error:
            raise ScoreImportInvalid(f"Item {index}: {error.message}") from None
        pair = (item.game_id, item.user_id)
        if pair not in firsts or item.created_at < firsts[pair][0]:
            firsts[pair] = (item.created_at, index)
    for game_id in games:
        first = min(at for (of_game, _), (at, _) in firsts.items() if of_game == game_id)
        later = (
            Score.objects.filter(game_id=game_id, created_at__gt=first, voided_at__isnull=True)
            .values("user_id")
            .annotate(last=Max("created_at"))
            .order_by()
        )
        for row in later:
            at, index = firsts.get((game_id, row["user_id"]), (None, None))
            if at is not None and at < row["last"]:
                raise ScoreImportInvalid(
                    f"Item {index}: the player already has a later score in this game; boards combine scores in time"
                    " order, so an import may only add scores after a player's latest."
                )
    return games


def _import_runs(items: Sequence[ImportItem], games: dict[uuid.UUID, Game]) -> list[tuple[Game, list[ImportItem]]]:
    """Split chronological items into per-game calls of the ranking code that keep each player's order.

    A player's global value moves with each of their games and is reached at the
    latest move, so their scores on games counting toward global are applied in
    time order across those games: their n-th run of scores on one such game goes
    into round n, and a round holds at most one game per player. Scores of other
    games only need their own order and all go into the first round.
    """
    rounds: dict[tuple[int, uuid.UUID], list[ImportItem]] = {}
    last: dict[uuid.UUID, tuple[uuid.UUID, int]] = {}
    for item in items:
        round_ = 0
        if games[item.game_id].counts_toward_global:
            previous = last.get(item.user_id)
            if previous is not None:
                round_ = previous[1] if previous[0] == item.game_id else previous[1] + 1
            last[item.user_id] = (item.game_id, round_)
        rounds.setdefault((round_, item.game_id), []).append(item)
    return [(games[game_id], run) for (_, game_id), run in sorted(rounds.items(), key=lambda pair: pair[0][0])]


@transaction.atomic
def _import_chunk(items: Sequence[ImportItem], games: dict[uuid.UUID, Game], source: str) -> int:
    hidden = lock_players([item.user_id for item in items])
    previous_bests: dict[uuid.UUID, dict[uuid.UUID, int]] = {}
    new_scores: list[_ImportedScore] = []
    # One read and one write of each standings row for the whole chunk, whatever its runs.
    with StandingsWrites() as writes:
        for game, run in _import_runs(items, games):
            inputs = [ScoreInput(item.user_id, item.value, item.created_at, item.user_id in hidden) for item in run]
            effects = standings_record_scores(game=game, scores=inputs, writes=writes)
            tournament_record_scores(
                game=game, scores=[score for score, effect in zip(inputs, effects, strict=True) if effect is not None]
            )
            if game.pk not in previous_bests:
                previous_bests[game.pk] = (
                    {}
                    if game.score_operator == "best"
                    else _previous_bests(game, [item.user_id for item in items if item.game_id == game.pk])
                )
            previous = previous_bests[game.pk]
            for item, effect in zip(run, effects, strict=True):
                if effect is None:
                    continue
                best_so_far = previous.get(item.user_id)
                personal_best = _personal_best(game, item.value, effect, best_so_far)
                if best_so_far is None or _is_better(game, item.value, best_so_far):
                    previous[item.user_id] = item.value
                new_scores.append(_ImportedScore(item.created_at, item.user_id, game.pk, item.value, personal_best))
    # Ids follow time, as they do for live scores.
    new_scores.sort(key=lambda score: score.created_at)
    _insert_imported(new_scores, source)
    _count_after_commit(Counter((games[score.game_id].slug, "import") for score in new_scores))
    return len(new_scores)


class _ImportedScore(NamedTuple):
    created_at: datetime
    user_id: uuid.UUID
    game_id: uuid.UUID
    value: int
    is_personal_best: bool


_IMPORT_COLUMNS = ("user_id", "game_id", "value", "metadata", "source", "is_personal_best", "created_at", "void_reason")
_IMPORT_TYPES = ("uuid", "uuid", "int8", "jsonb", "varchar", "bool", "timestamptz", "varchar")


def _insert_imported(scores: Sequence[_ImportedScore], source: str) -> None:
    """Insert imported scores in plain SQL, in order: binary COPY in PostgreSQL, one prepared INSERT per row in SQLite.

    ``bulk_create`` builds and prepares a model instance per row, which cost an
    import of 200,000 scores some ten seconds more. Every other column takes
    its default (no metadata, no key, not voided).
    """
    table = connection.ops.quote_name(Score._meta.db_table)
    columns = ", ".join(_IMPORT_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            bulk.copy_rows(
                cursor,
                Score._meta.db_table,
                list(zip(_IMPORT_COLUMNS, _IMPORT_TYPES, strict=True)),
                (
                    (
                        score.user_id,
                        score.game_id,
                        score.value,
                        {},
                        source,
                        score.is_personal_best,
                        score.created_at,
                        "",
                    )
                    for score in scores
                ),
            )
            return
        user_value = Score._meta.get_field("user").target_field.get_db_prep_value
        game_value = Score._meta.get_field("game").target_field.get_db_prep_value
        moment = connection.ops.adapt_datetimefield_value
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_IMPORT_COLUMNS))})",
            [
                (
                    user_value(score.user_id, connection),
                    game_value(score.game_id, connection),
                    score.value,
                    "{}",
                    source,
                    score.is_personal_best,
                    moment(score.created_at),
                    "",
                )
                for score in scores
            ],
        )
