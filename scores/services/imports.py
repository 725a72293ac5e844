"""Import of historical scores (``score_import``): demo data and migrations, each score on the boards of its
moment."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from common import bulk
from events.bus import publish_many
from games.models import Game
from games.services import SyntheticMismatch, synthetic_pairing_check
from games.tiebreak import board_value
from leagues.services import league_place
from rankings.services import ScoreInput, StandingsWrites, standings_record_scores
from tournaments.services import tournament_record_scores

from ..models import Score, Source
from .checks import score_validate
from .errors import ScoreRejected
from .players import _is_better, _personal_best, _previous_bests, lock_players
from .storage import _count_after_commit

IMPORT_CHUNK = 5_000


class ScoreImportInvalid(ScoreRejected):
    message = "The import was not accepted."


@dataclass(frozen=True)
class ImportItem:
    user_id: uuid.UUID
    game_id: uuid.UUID
    value: int
    created_at: datetime
    tiebreak: int | None = None


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
            score_validate(game=game, value=item.value, metadata={}, tiebreak=item.tiebreak)
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
            inputs = [
                ScoreInput(
                    item.user_id, board_value(game, item.value, item.tiebreak), item.created_at, item.user_id in hidden
                )
                for item in run
            ]
            effects = standings_record_scores(game=game, scores=inputs, writes=writes)
            counted = [score for score, effect in zip(inputs, effects, strict=True) if effect is not None]
            league_place(game=game, entries=[(score.user_id, score.at) for score in counted])
            tournament_record_scores(game=game, scores=counted, writes=writes)
            if game.pk not in previous_bests:
                previous_bests[game.pk] = (
                    {}
                    if game.score_operator == "best"
                    else _previous_bests(game, [item.user_id for item in items if item.game_id == game.pk])
                )
            previous = previous_bests[game.pk]
            for item, score_input, effect in zip(run, inputs, effects, strict=True):
                if effect is None:
                    continue
                best_so_far = previous.get(item.user_id)
                personal_best = _personal_best(game, score_input.value, effect, best_so_far)
                if best_so_far is None or _is_better(game, score_input.value, best_so_far):
                    previous[item.user_id] = score_input.value
                new_scores.append(
                    _ImportedScore(item.created_at, item.user_id, game.pk, item.value, item.tiebreak, personal_best)
                )
    # Ids follow time, as they do for live scores.
    new_scores.sort(key=lambda score: score.created_at)
    _insert_imported(new_scores, source)
    publish_many(writes.announcements)  # the boards that moved; an import's scores are news to nobody
    _count_after_commit(Counter((games[score.game_id].slug, "import") for score in new_scores))
    return len(new_scores)


class _ImportedScore(NamedTuple):
    created_at: datetime
    user_id: uuid.UUID
    game_id: uuid.UUID
    value: int
    tiebreak: int | None
    is_personal_best: bool


_IMPORT_COLUMNS = (
    "user_id",
    "game_id",
    "value",
    "tiebreak",
    "metadata",
    "source",
    "is_personal_best",
    "created_at",
    "void_reason",
)
_IMPORT_TYPES = ("uuid", "uuid", "int8", "int8", "jsonb", "varchar", "bool", "timestamptz", "varchar")


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
                        score.tiebreak,
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
                    score.tiebreak,
                    "{}",
                    source,
                    score.is_personal_best,
                    moment(score.created_at),
                    "",
                )
                for score in scores
            ],
        )
