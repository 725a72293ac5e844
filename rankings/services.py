"""Writes to the standings: a score's effect on every board, recomputation, rebuilds.

Callers hold the player's row lock (``scores.services``), so one player's
standings change one submission at a time and the global board's running
sum can be kept by deltas. Index writes happen after commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import NamedTuple

from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone
from opentelemetry import trace
from rest_framework import status

from common import bulk
from common.errors import DomainError
from common.metrics import RANKING_SECONDS, timed
from common.tracing import tracer
from events.bus import publish_many
from events.names import BOARDS, board_key_channel
from games.models import INT64_MAX, INT64_MIN, Game, ScoreOperator

from . import index
from .boards import (
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
from .engine import StandingChange, StandingRow, get_engine
from .models import StaleBoard, Standing
from .periods import windows_containing

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BoardValueOverflow(DomainError):
    code = "board_value_overflow"
    status_code = status.HTTP_409_CONFLICT
    message = "This score would take the player's total beyond a signed 64-bit integer."


class _Row(NamedTuple):
    """What the write path needs of a standings row."""

    value: int
    reached_at: datetime
    version: int


@dataclass(frozen=True)
class State:
    value: int
    reached_at: datetime


def combine(operator: str, descending: bool, old: State | None, value: int, at: datetime) -> State | None:
    """A player's new state on a board after a score, or the old one if it does not change.

    ``reached_at`` moves only when the value does: a player who reaches a value
    first stays ahead of players who reach it later.
    """
    if old is None:
        return State(value, at)
    if operator == ScoreOperator.BEST:
        better = value > old.value if descending else value < old.value
        return State(value, at) if better else old
    if operator == ScoreOperator.LATEST:
        return old if value == old.value else State(value, at)
    if operator == ScoreOperator.SUM:
        return old if value == 0 else State(_checked(old.value + value), at)
    raise ValueError(f"unknown score operator {operator!r}")


def _checked(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise BoardValueOverflow()
    return value


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


_UPSERT_SET = (
    "ON CONFLICT (board, user_id) DO UPDATE SET value = excluded.value, reached_at = excluded.reached_at, "
    "version = excluded.version, updated_at = excluded.updated_at"
)


_STAGED_COLUMNS = (
    ("board", "varchar"),
    ("user_id", "uuid"),
    ("value", "int8"),
    ("reached_at", "timestamptz"),
    ("version", "int8"),
)


def _upsert(rows: Sequence[tuple[str, uuid.UUID, _Row]], *, updated_at: datetime) -> None:
    """Insert or update standings rows in plain SQL: ``INSERT ... ON CONFLICT DO UPDATE``.

    The ORM's bulk upsert builds a model instance and prepares every field of
    every row, which made it most of the cost of a large import. PostgreSQL
    takes a large set by binary COPY into a staging table (``bulk``), a
    smaller one as one array per column (2.5 times faster than rows of
    parameters); SQLite takes rows of parameters, a thousand a statement.
    """
    table = connection.ops.quote_name(Standing._meta.db_table)
    insert = f"INSERT INTO {table} (board, user_id, value, reached_at, version, updated_at)"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) >= bulk.STAGED_MIN_ROWS:
            staged = bulk.stage_rows(
                cursor, "podium_standing_in", _STAGED_COLUMNS, ((key, user_id, *row) for key, user_id, row in rows)
            )
            cursor.execute(
                f"WITH staged AS (DELETE FROM {staged} RETURNING board, user_id, value, reached_at, version) "
                f"{insert} SELECT board, user_id, value, reached_at, version, %s FROM staged {_UPSERT_SET}",
                [updated_at],
            )
            return
        if connection.vendor == "postgresql":
            for start in range(0, len(rows), 10_000):
                batch = rows[start : start + 10_000]
                cursor.execute(
                    f"{insert} SELECT board, user_id, value, reached_at, version, %s FROM unnest("
                    "%s::varchar[], %s::uuid[], %s::bigint[], %s::timestamptz[], %s::bigint[]"
                    f") AS rows (board, user_id, value, reached_at, version) {_UPSERT_SET}",
                    [
                        updated_at,
                        [board for board, _, _ in batch],
                        [user_id for _, user_id, _ in batch],
                        [row.value for _, _, row in batch],
                        [row.reached_at for _, _, row in batch],
                        [row.version for _, _, row in batch],
                    ],
                )
            return
        user_value = Standing._meta.get_field("user").target_field.get_db_prep_value
        moment = connection.ops.adapt_datetimefield_value
        updated = moment(updated_at)
        for start in range(0, len(rows), 1_000):
            batch = rows[start : start + 1_000]
            params: list[object] = []
            for board, user_id, row in batch:
                params += (
                    board,
                    user_value(user_id, connection),
                    row.value,
                    moment(row.reached_at),
                    row.version,
                    updated,
                )
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(batch))
            cursor.execute(f"{insert} VALUES {values} {_UPSERT_SET}", params)


class _Pending:
    """Standings rows to write in few statements, and the changes to send to the index after commit."""

    def __init__(self, now: datetime) -> None:
        # Versions are time-based, so a board row deleted and created again still outranks its old tombstone.
        self._micros = _micros(now)
        self.rows: dict[tuple[str, uuid.UUID], tuple[Board, _Row]] = {}
        self.changes: list[StandingChange] = []

    def _version(self, old: Standing | _Row | None) -> int:
        return max(old.version + 1, self._micros) if old else self._micros

    def put(self, board: Board, user_id: uuid.UUID, state: State, old: Standing | _Row | None) -> _Row:
        row = _Row(state.value, state.reached_at, self._version(old))
        self.rows[(board.key, user_id)] = (board, row)
        return row

    def remove(self, board: Board, old: Standing) -> None:
        old.delete()
        self.changes.append(StandingChange(board, old.user_id, None, None, self._version(old)))

    def save(self) -> None:
        """Write the pending rows and queue their changes for the index."""
        if not self.rows:
            return
        # In key order: neighbouring rows land in the same index pages. Ids compare as integers (the order
        # PostgreSQL gives uuids): comparing UUID objects runs Python code, and an import sorts half a million.
        _upsert(
            sorted(
                ((key, user_id, row) for (key, user_id), (_, row) in self.rows.items()),
                key=lambda item: (item[0], item[1].int),
            ),
            updated_at=timezone.now(),
        )
        self.changes += [
            StandingChange(board, user_id, row.value, row.reached_at, row.version)
            for (_, user_id), (board, row) in self.rows.items()
        ]
        self.rows.clear()

    def send_after_commit(self) -> None:
        """Index the changes after commit, then announce the all-time boards that moved (in that order,
        so a server reading a board on the announcement finds the change in the index)."""
        # A hidden standing (a shadow-banned player's) is in no index and moves no public board.
        changes = [change for change in self.changes if not is_hidden(change.board.key)]
        if not changes:
            return
        transaction.on_commit(partial(index.index_apply, changes))
        moved: dict[str, set[str]] = {}
        for change in changes:
            channel = board_key_channel(change.board.key)
            if channel is not None:
                moved.setdefault(channel, set()).add(str(change.user_id))
        publish_many(
            [(BOARDS, "board.changed", {"channel": name, "moved": sorted(users)}) for name, users in moved.items()]
        )


def _state(row: Standing | _Row | None) -> State | None:
    return State(row.value, row.reached_at) if row else None


@dataclass(frozen=True)
class ScoreEffect:
    """What one score did to the player's all-time state on its game."""

    before: State | None
    after: State


@dataclass(frozen=True)
class ScoreInput:
    user_id: uuid.UUID
    value: int
    at: datetime
    hidden: bool = False  # a shadow-banned player's: it counts on their hidden boards only


def _hidden_pairs(pairs: list[tuple[Board, Board | None]]) -> list[tuple[Board, Board | None]]:
    return [(hidden_board(board), hidden_board(total) if total else None) for board, total in pairs]


def _current_rows(keys: set[str], user_ids: set[uuid.UUID]) -> dict[tuple[str, uuid.UUID], _Row]:
    """The players' standings rows on the boards, as plain tuples: a batch reads thousands of rows."""
    if connection.vendor != "postgresql":
        found = Standing.objects.filter(board__in=keys, user_id__in=user_ids).values_list(
            "board", "user_id", "value", "reached_at", "version"
        )
    else:
        # Arrays for the sets and psycopg's own moment loader: the ORM's statement and loader cost more CPU
        # than the database took to answer, for a group of submissions as for a batch.
        with connection.cursor() as cursor:
            bulk.fast_timestamps(cursor)
            cursor.execute(
                f"SELECT board, user_id, value, reached_at, version FROM {Standing._meta.db_table}"
                " WHERE board = ANY(%s::varchar[]) AND user_id = ANY(%s::uuid[])",
                [sorted(keys), list(user_ids)],
            )
            found = cursor.fetchall()
    return {(board, user_id): _Row(value, reached_at, version) for board, user_id, value, reached_at, version in found}


class StandingsWrites:
    """Many ``standings_record_scores`` calls in one transaction (an import's chunk, one call per game and
    round): each standings row is read at most once and written once, when the block ends.

    ::

        with StandingsWrites() as writes:
            standings_record_scores(game=game, scores=first, writes=writes)
            standings_record_scores(game=other, scores=second, writes=writes)
    """

    def __init__(self) -> None:
        self.pending = _Pending(timezone.now())
        self._current: dict[tuple[str, uuid.UUID], _Row] = {}
        self._read: dict[str, set[uuid.UUID]] = {}  # board key: players whose row on it was read

    def rows(self, keys: set[str], user_ids: set[uuid.UUID]) -> dict[tuple[str, uuid.UUID], _Row]:
        """The rows as they stand in this block, reading only those not read before."""
        missing = {key: user_ids - self._read.get(key, set()) for key in keys}
        missing = {key: users for key, users in missing.items() if users}
        if missing:
            found = _current_rows(set(missing), set().union(*missing.values()))
            for (key, user_id), row in found.items():
                if user_id in missing.get(key, ()):
                    self._current[(key, user_id)] = row
            for key, users in missing.items():
                self._read.setdefault(key, set()).update(users)
        return self._current

    def __enter__(self) -> StandingsWrites:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.pending.save()
            self.pending.send_after_commit()


@timed(RANKING_SECONDS, "record")
@tracer.start_as_current_span("rankings.record")
def standings_record_scores(
    *, game: Game, scores: Sequence[ScoreInput], writes: StandingsWrites | None = None
) -> list[ScoreEffect | None]:
    """Apply scores of one game, in order, to every board they count on: one read, one write.

    A score that would overflow a total is skipped and its effect is None.
    The caller holds the row locks of every player involved and is inside a
    transaction; the index is written after commit. With ``writes``, rows are
    read and written through it instead, once for all its calls.
    """
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
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({"podium.game": game.slug, "podium.boards": sorted(keys), "podium.scores": len(scores)})
    if writes is None:
        current = _current_rows(keys, {score.user_id for score in scores})
        pending = _Pending(timezone.now())
    else:
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
            current[(board.key, score.user_id)] = _Row(row.value, row.reached_at, row.version)
    if writes is None:
        pending.save()
        pending.send_after_commit()
    return effects


@timed(RANKING_SECONDS, "record_board")
@tracer.start_as_current_span("rankings.record")
def standings_record_board(*, board: Board, operator: str, scores: Sequence[ScoreInput]) -> list[bool]:
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
        (key, user_id): _Row(value, reached_at, version)
        for key, user_id, value, reached_at, version in Standing.objects.filter(
            board__in=[board.key, hidden.key], user_id__in={score.user_id for score in scores}
        ).values_list("board", "user_id", "value", "reached_at", "version")
    }
    pending = _Pending(timezone.now())
    changed: list[bool] = []
    targets = {board.key: board, hidden.key: hidden}
    states = {key: _state(row) for key, row in current.items()}
    for score in scores:
        key = (hidden.key if score.hidden else board.key, score.user_id)
        old = states.get(key)
        new = combine(operator, board.descending, old, score.value, score.at)
        changed.append(new is not old)
        states[key] = new
    for (board_key_, user_id), state in states.items():
        if state is not None and state != _state(current.get((board_key_, user_id))):
            pending.put(targets[board_key_], user_id, state, current.get((board_key_, user_id)))
    pending.save()
    pending.send_after_commit()
    return changed


@timed(RANKING_SECONDS, "replace")
def standings_replace_board(*, board: Board, states: dict[uuid.UUID, State | None]) -> list[StandingChange]:
    """Set players' values on one board outright (None removes the player): a recomputation's write."""
    pending = _Pending(timezone.now())
    rows = {row.user_id: row for row in Standing.objects.filter(board=board.key, user_id__in=list(states))}
    for user_id, state in states.items():
        old = rows.get(user_id)
        if state is None and old is not None:
            pending.remove(board, old)
        elif state is not None and _state(old) != state:
            pending.put(board, user_id, state, old)
    pending.save()
    pending.send_after_commit()
    return pending.changes


@timed(RANKING_SECONDS, "move")
def standings_move_player(*, user_id: uuid.UUID, hide: bool, keep: Callable[[str], bool] = lambda key: True) -> int:
    """Move all of a player's standings off the public boards onto their hidden ones (``hide``), or back.

    A standing whose public board key ``keep`` refuses is dropped instead of moved back (a tournament that
    ended meanwhile). The caller holds the player's row lock. Returns how many standings moved.
    """
    rows = Standing.objects.filter(user_id=user_id)
    rows = rows.exclude(board__startswith=HIDDEN_PREFIX) if hide else rows.filter(board__startswith=HIDDEN_PREFIX)
    pending = _Pending(timezone.now())
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
    pending.send_after_commit()
    return moved


def _score_puts(
    game: Game,
    score: ScoreInput,
    pairs: list[tuple[Board, Board | None]],
    current: dict[tuple[str, uuid.UUID], _Row],
) -> tuple[ScoreEffect, list[tuple[Board, State, _Row | None]]]:
    """Every row one score changes, computed before any is written so an overflow changes nothing."""
    effect = None
    puts: list[tuple[Board, State, _Row | None]] = []
    for game_board_, global_board_ in pairs:
        old = current.get((game_board_.key, score.user_id))
        old_state = _state(old)
        new_state = combine(game.score_operator, game_board_.descending, old_state, score.value, score.at)
        if game_board_.window.start is None:
            effect = ScoreEffect(old_state, new_state)
        if new_state is old_state:
            continue
        puts.append((game_board_, new_state, old))
        if global_board_ is not None:
            # The global value is the sum of the game values, reached when any of them last moved.
            old_global = current.get((global_board_.key, score.user_id))
            delta = new_state.value - (old_state.value if old_state else 0)
            total = _checked((old_global.value if old_global else 0) + delta)
            puts.append((global_board_, State(total, score.at), old_global))
    return effect, puts


@timed(RANKING_SECONDS, "recompute")
def standings_recompute(
    *,
    game: Game,
    user_id: uuid.UUID,
    at: datetime,
    scores: Sequence[tuple[int, datetime]],
    hidden: bool = False,
) -> list[StandingChange]:
    """Recompute a player's standings on every board the moment ``at`` falls in, from their remaining scores.

    ``scores`` are the player's counted (value, created_at) for the game, oldest
    first. Used when a score is voided; ``hidden`` recomputes a shadow-banned
    player's hidden boards. The caller holds the player's row lock.
    """
    where = hidden_board if hidden else (lambda board: board)
    pending = _Pending(timezone.now())
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
        elif state is not None and _state(old) != state:
            pending.put(board, user_id, state, old)
        pending.save()
        if counting_game_ids:
            _recompute_global(where(global_board(window)), user_id, counting_game_ids, pending)
    pending.save()
    pending.send_after_commit()
    return pending.changes


def _recompute_global(board: Board, user_id: uuid.UUID, counting_game_ids: list[uuid.UUID], pending: _Pending) -> None:
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
    state = State(_checked(totals["total"]), totals["reached"])
    if _state(old) != state:
        pending.put(board, user_id, state, old)


def _rows_of(board: Board, *, since: datetime | None = None) -> Iterable[StandingRow]:
    rows = Standing.objects.filter(board=board.key).order_by()
    if since is not None:
        rows = rows.filter(updated_at__gte=since)
    for user_id, value, reached_at, version in rows.values_list("user_id", "value", "reached_at", "version").iterator(
        chunk_size=5_000
    ):
        yield StandingRow(user_id, value, reached_at, version)


@timed(RANKING_SECONDS, "rebuild")
def board_rebuild(*, board: Board) -> int:
    """Rebuild one board's index from the standings table, then replay what changed meanwhile."""
    started = timezone.now()
    engine = get_engine()
    loaded = engine.rebuild(board, _rows_of(board))
    # Writes committed while the rebuild ran may have been overwritten by the swap: apply them again
    # (versions make this idempotent). The margin covers clock skew between servers.
    engine.apply(
        [
            StandingChange(board, row.user_id, row.value, row.reached_at, row.version)
            for row in _rows_of(board, since=started - timedelta(seconds=5))
        ]
    )
    StaleBoard.objects.filter(board=board.key, since__lte=started).delete()
    return loaded


def boards_rebuild(
    *, boards: Sequence[Board], mark_ready: bool, progress: Callable[[Board, int], None] | None = None
) -> int:
    """Rebuild many boards. ``mark_ready`` (a full rebuild) records that the index holds every board."""
    total = 0
    for board in boards:
        loaded = board_rebuild(board=board)
        total += loaded
        if progress:
            progress(board, loaded)
    if mark_ready and index.index_is_separate():
        get_engine().mark_complete(at=timezone.now())
    index.health.forget()
    return total


def all_boards() -> list[Board]:
    """Every public board with standings; one whose game or tournament no longer exists is left out (and logged)."""
    boards = []
    keys = Standing.objects.exclude(board__startswith=HIDDEN_PREFIX).values_list("board", flat=True)
    for key in keys.distinct().order_by("board"):
        try:
            boards.append(board_from_key(key))
        except ObjectDoesNotExist:
            logger.warning("standings of board %s name something that no longer exists; skipped", key)
    return boards


def index_heal() -> int:
    """Bring the index back in line after an outage: everything if it restarted empty, else the stale boards.

    Returns how many boards were rebuilt (0 when healthy or unreachable).
    """
    if not index.index_is_separate():
        return 0
    engine = get_engine()
    try:
        ready = engine.is_complete()
    except index.INDEX_ERRORS:
        return 0
    if not ready:
        boards = all_boards()
        boards_rebuild(boards=boards, mark_ready=True)
        return len(boards)
    stale = list(StaleBoard.objects.values_list("board", flat=True))
    if not stale:
        return 0
    boards_rebuild(boards=[board_from_key(key) for key in stale], mark_ready=False)
    return len(stale)
