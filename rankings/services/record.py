"""Writes to the standings: a score's effect on every board, a tournament's board, recomputation, moves.

Callers hold the player's row lock (``scores.services``), so one player's
standings change one submission at a time and the global board's running
sum can be kept by deltas. Index writes happen after commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, Max, Sum
from django.utils import timezone
from opentelemetry import trace

from common.metrics import RANKING_SECONDS, timed
from common.tracing import tracer
from events.bus import Event
from games.models import Game
from rankings.boards import (
    HIDDEN_PREFIX,
    Board,
    board_from_key,
    board_key,
    boards_for_score,
    game_board,
    game_scope,
    global_board,
    hidden_board,
    is_hidden,
)
from rankings.engine import StandingChange
from rankings.models import Standing
from rankings.periods import windows_containing

from .merge import Merged, merge_applies, merge_scores
from .state import BoardValueOverflow, Row, ScoreEffect, ScoreInput, State, checked, combine, state_of
from .storage import PendingWrites, current_rows


def _hidden_pairs(pairs: list[tuple[Board, Board | None]]) -> list[tuple[Board, Board | None]]:
    return [(hidden_board(board), hidden_board(total) if total else None) for board, total in pairs]


class StandingsWrites:
    """The standings writes of one action (a submission, a batch, an import's chunk, a void, ...), inside its
    transaction. ``standings_record_scores`` reads each row at most once in the block and writes it once, when
    the block ends; the other writes are written as they are made.

    When the block ends, the index is updated after commit and ``announcements`` holds the ``board.changed``
    events of the public boards that moved. Rankings publish nothing themselves: the action's service publishes
    these with its own events, in one ``publish_many``, so each action has one publisher. ::

        with StandingsWrites() as writes:
            standings_record_scores(game=game, scores=first, writes=writes)
            standings_record_scores(game=other, scores=second, writes=writes)
        publish_many([*writes.announcements, *own_events])
    """

    def __init__(self) -> None:
        self.pending = PendingWrites(timezone.now())
        self._current: dict[tuple[str, uuid.UUID], Row] = {}
        self._read: dict[str, set[uuid.UUID]] = {}  # board key: players whose row on it was read
        self.announcements: list[Event] = []

    def rows(self, keys: set[str], user_ids: set[uuid.UUID]) -> dict[tuple[str, uuid.UUID], Row]:
        """The rows as they stand in this block, reading only those not read before."""
        missing = {key: user_ids - self._read.get(key, set()) for key in keys}
        missing = {key: users for key, users in missing.items() if users}
        if missing:
            found = current_rows(set(missing), set().union(*missing.values()))
            for (key, user_id), row in found.items():
                if user_id in missing.get(key, ()):
                    self._current[(key, user_id)] = row
            for key, users in missing.items():
                self._read.setdefault(key, set()).update(users)
        return self._current

    def merged(self, merged: Merged) -> None:
        """Take in rows a statement wrote itself (``merge``): their index changes, and the rows as they now are."""
        for (key, user_id), (board, row) in merged.rows.items():
            self.pending.changes.append(StandingChange(board, user_id, row.value, row.reached_at, row.version))
            self._current[(key, user_id)] = row
            self._read.setdefault(key, set()).add(user_id)

    def __enter__(self) -> StandingsWrites:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.pending.save()
            self.announcements = self.pending.index_after_commit()


@timed(RANKING_SECONDS, "record")
@tracer.start_as_current_span("rankings.record")
def standings_record_scores(
    *, game: Game, scores: Sequence[ScoreInput], writes: StandingsWrites
) -> list[ScoreEffect | None]:
    """Apply scores of one game, in order, to every board they count on: one read, one write.

    A score that would overflow a total is skipped and its effect is None.
    The caller holds the row locks of every player involved and is inside a
    transaction. Rows are read and written through ``writes``, once for all its
    calls; the index is written after commit. On PostgreSQL, a batch's worth of
    scores of one day is merged by one statement instead (``merge``).
    """
    if merge_applies(scores):
        pairs = boards_for_score(game, scores[0].at)
        _describe(game, {board.key for pair in pairs for board in pair if board is not None}, scores)
        writes.pending.save()  # the statement reads the rows as written so far in this block
        merged = merge_scores(game=game, scores=scores, pairs=pairs, micros=writes.pending.micros)
        if merged is not None:
            writes.merged(merged)
            return list(merged.effects)
    return _record_in_python(game, scores, writes)


def _describe(game: Game, keys: set[str], scores: Sequence[ScoreInput]) -> None:
    """Name the game, the boards and the number of scores on the trace's ``rankings.record`` span."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({"podium.game": game.slug, "podium.boards": sorted(keys), "podium.scores": len(scores)})


def _record_in_python(game: Game, scores: Sequence[ScoreInput], writes: StandingsWrites) -> list[ScoreEffect | None]:
    # Every moment of one UTC day falls in the same windows: work the boards out once per day.
    pairs_by_day = {}
    for day, at in {(score.at.astimezone(UTC).date(), score.at) for score in scores}:
        if day not in pairs_by_day:
            pairs_by_day[day] = boards_for_score(game, at)
    pairs_by_score = [pairs_by_day[score.at.astimezone(UTC).date()] for score in scores]
    if any(score.hidden for score in scores):
        pairs_by_score = [
            _hidden_pairs(pairs) if score.hidden else pairs for score, pairs in zip(scores, pairs_by_score, strict=True)
        ]
    keys = {board.key for pairs in pairs_by_score for pair in pairs for board in pair if board is not None}
    _describe(game, keys, scores)
    current = writes.rows(keys, {score.user_id for score in scores})
    pending = writes.pending
    effects: list[ScoreEffect | None] = []
    for score, pairs in zip(scores, pairs_by_score, strict=True):
        try:
            effect, puts = _score_puts(game, score, pairs, current)
        except BoardValueOverflow:
            effects.append(None)
            continue
        effects.append(effect)
        for board, state, old in puts:
            row = pending.put(board, score.user_id, state, old)
            current[(board.key, score.user_id)] = Row(row.value, row.reached_at, row.version)
    return effects


@timed(RANKING_SECONDS, "record_board")
@tracer.start_as_current_span("rankings.record")
def standings_record_board(
    *, board: Board, operator: str, scores: Sequence[ScoreInput], writes: StandingsWrites
) -> list[bool]:
    """Apply scores, in order, to one board combined by ``operator`` (a tournament's board): one read, one write.

    Returns, per score, whether it changed the player's value. A sum that would
    overflow is refused with BoardValueOverflow before anything is written.
    Same contract as ``standings_record_scores``: row locks held, inside a transaction.
    """
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({"podium.boards": [board.key], "podium.scores": len(scores)})
    hidden = hidden_board(board)
    current = {
        (key, user_id): Row(value, reached_at, version)
        for key, user_id, value, reached_at, version in Standing.objects.filter(
            board__in=[board.key, hidden.key], user_id__in={score.user_id for score in scores}
        ).values_list("board", "user_id", "value", "reached_at", "version")
    }
    pending = writes.pending
    changed: list[bool] = []
    targets = {board.key: board, hidden.key: hidden}
    states = {key: state_of(row) for key, row in current.items()}
    for score in scores:
        key = (hidden.key if score.hidden else board.key, score.user_id)
        old = states.get(key)
        new = combine(operator, board.descending, old, score.value, score.at)
        changed.append(new is not old)
        states[key] = new
    for (board_key_, user_id), state in states.items():
        if state is not None and state != state_of(current.get((board_key_, user_id))):
            pending.put(targets[board_key_], user_id, state, current.get((board_key_, user_id)))
    pending.save()
    return changed


@timed(RANKING_SECONDS, "replace")
def standings_replace_board(
    *, board: Board, states: dict[uuid.UUID, State | None], writes: StandingsWrites
) -> list[StandingChange]:
    """Set players' values on one board outright (None removes the player): a recomputation's write.

    Returns the changes it made."""
    pending = writes.pending
    already = len(pending.changes)
    rows = {row.user_id: row for row in Standing.objects.filter(board=board.key, user_id__in=list(states))}
    for user_id, state in states.items():
        old = rows.get(user_id)
        if state is None and old is not None:
            pending.remove(board, old)
        elif state is not None and state_of(old) != state:
            pending.put(board, user_id, state, old)
    pending.save()
    return pending.changes[already:]


@timed(RANKING_SECONDS, "move")
def standings_move_player(
    *, user_id: uuid.UUID, hide: bool, writes: StandingsWrites, keep: Callable[[str], bool] = lambda key: True
) -> int:
    """Move all of a player's standings off the public boards onto their hidden ones (``hide``), or back.

    A standing whose public board key ``keep`` refuses is dropped instead of moved back (a tournament that
    ended meanwhile). The caller holds the player's row lock. Returns how many standings moved.
    """
    rows = Standing.objects.filter(user_id=user_id)
    rows = rows.exclude(board__startswith=HIDDEN_PREFIX) if hide else rows.filter(board__startswith=HIDDEN_PREFIX)
    pending = writes.pending
    moved = 0
    for row in list(rows):
        try:
            source = board_from_key(row.board)
        except ObjectDoesNotExist:
            row.delete()
            continue
        target = hidden_board(source) if hide else board_from_key(row.board.removeprefix(HIDDEN_PREFIX))
        pending.remove(source, row)
        if hide or keep(target.key):
            pending.put(target, user_id, State(row.value, row.reached_at), None)
            moved += 1
    pending.save()
    return moved


def _score_puts(
    game: Game,
    score: ScoreInput,
    pairs: list[tuple[Board, Board | None]],
    current: dict[tuple[str, uuid.UUID], Row],
) -> tuple[ScoreEffect, list[tuple[Board, State, Row | None]]]:
    """Every row one score changes, computed before any is written so an overflow changes nothing."""
    effect = None
    puts: list[tuple[Board, State, Row | None]] = []
    for game_board_, global_board_ in pairs:
        old = current.get((game_board_.key, score.user_id))
        old_state = state_of(old)
        new_state = combine(game.score_operator, game_board_.descending, old_state, score.value, score.at)
        if game_board_.window.start is None:
            effect = ScoreEffect(new_state is not old_state)
        if new_state is old_state:
            continue
        puts.append((game_board_, new_state, old))
        if global_board_ is not None:
            # The global value is the sum of the game values, reached when any of them last moved.
            old_global = current.get((global_board_.key, score.user_id))
            delta = new_state.value - (old_state.value if old_state else 0)
            total = checked((old_global.value if old_global else 0) + delta)
            puts.append((global_board_, State(total, score.at), old_global))
    return effect, puts


@timed(RANKING_SECONDS, "recompute")
def standings_recompute(
    *,
    game: Game,
    user_id: uuid.UUID,
    at: datetime,
    scores: Sequence[tuple[int, datetime]],
    writes: StandingsWrites,
    hidden: bool = False,
) -> list[StandingChange]:
    """Recompute a player's standings on every board the moment ``at`` falls in, from their remaining scores.

    ``scores`` are the player's counted (value, created_at) for the game, oldest
    first. Used when a score is voided; ``hidden`` recomputes a shadow-banned
    player's hidden boards. The caller holds the player's row lock.
    """
    where = hidden_board if hidden else (lambda board: board)
    pending = writes.pending
    already = len(pending.changes)
    counting_game_ids = (
        list(Game.objects.filter(counts_toward_global=True).values_list("pk", flat=True))
        if game.counts_toward_global
        else []
    )
    for window in windows_containing(at):
        board = where(game_board(game, window))
        state: State | None = None
        for value, created_at in scores:
            if window.contains(created_at):
                state = combine(game.score_operator, board.descending, state, value, created_at)
        old = Standing.objects.filter(board=board.key, user_id=user_id).first()
        if state is None and old is not None:
            pending.remove(board, old)
        elif state is not None and state_of(old) != state:
            pending.put(board, user_id, state, old)
        pending.save()
        if counting_game_ids:
            _recompute_global(where(global_board(window)), user_id, counting_game_ids, pending)
    pending.save()
    return pending.changes[already:]


def _recompute_global(
    board: Board, user_id: uuid.UUID, counting_game_ids: list[uuid.UUID], pending: PendingWrites
) -> None:
    prefix = HIDDEN_PREFIX if is_hidden(board.key) else ""
    keys = [prefix + board_key(game_scope(pk), board.window) for pk in counting_game_ids]
    totals = Standing.objects.filter(user_id=user_id, board__in=keys).aggregate(
        total=Sum("value"), reached=Max("reached_at"), n=Count("pk")
    )
    old = Standing.objects.filter(board=board.key, user_id=user_id).first()
    if not totals["n"]:
        if old is not None:
            pending.remove(board, old)
        return
    state = State(checked(totals["total"]), totals["reached"])
    if state_of(old) != state:
        pending.put(board, user_id, state, old)
