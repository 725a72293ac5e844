"""Scores of one game merged into the standings by PostgreSQL itself: one statement reads, combines and writes.

The rows never come to Python: each player's scores are reduced here to what
the operator keeps of them (``_Reduced``), and the statement combines that
with every board's current row, adds the moves to the global totals, and
writes only the rows that change. A batch of a thousand scores on eight
boards returns the few rows that moved instead of reading eight thousand.

It applies to a batch's worth of scores (``STANDINGS_MERGE_MIN_SCORES``, 100)
that all fall on the same UTC day (so on the same boards); fewer scores, or an
import spanning days, take the rows through Python (``record``). For a group
of submissions the two cost the machine the same (the statement moves the
work from the server's CPU to PostgreSQL's); for a batch of 1,000 the
statement takes half the time. Totals that would leave the
signed 64-bit range anywhere along the way are found before anything is
written, and the caller then takes the Python path, which skips exactly the
scores that overflow.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from django.conf import settings
from django.db import connection
from django.utils import timezone

from common.bulk import array_literal
from games.models import INT64_MAX, INT64_MIN, Game, ScoreOperator
from rankings.boards import HIDDEN_PREFIX, Board, hidden_board
from rankings.models import Standing

from .state import BoardValueOverflow, Row, ScoreEffect, ScoreInput, State, combine


@dataclass
class _Reduced:
    """One player's scores as the operator keeps them, for the statement to combine with each current row.

    ``state``: what they leave on a board that had no row (``combine`` from none).
    ``steady``: an existing row keeps its state when the scores hold no change
    (sum: every score 0; latest: every score equal, and equal to the row).
    ``high``, ``low``: bounds of what the totals reach along the way, relative
    to the row's value (sum: the running totals and 0; latest and best: every
    value, a superset of the bests a call passes through).
    """

    hidden: bool
    state: State
    steady: bool
    high: int
    low: int
    indexes: list[int]  # of the player's scores, in order


def merge_applies(scores: Sequence[ScoreInput]) -> bool:
    """Whether the statement takes these scores: PostgreSQL, at least ``STANDINGS_MERGE_MIN_SCORES`` of them,
    one UTC day, each player public or hidden."""
    if connection.vendor != "postgresql" or not scores or len(scores) < settings.STANDINGS_MERGE_MIN_SCORES:
        return False
    day = scores[0].at.astimezone(UTC).date()
    hidden: dict[uuid.UUID, bool] = {}
    for score in scores:
        if score.at.astimezone(UTC).date() != day or hidden.setdefault(score.user_id, score.hidden) != score.hidden:
            return False
    return True


def _reduce(operator: str, descending: bool, scores: Sequence[ScoreInput]) -> dict[uuid.UUID, _Reduced] | None:
    """Each player's scores folded by ``combine`` from no row. None when a player's own running sum leaves the
    signed 64-bit range: the Python path then decides, from the row, which scores overflow."""
    sums = operator == ScoreOperator.SUM
    reduced: dict[uuid.UUID, _Reduced] = {}
    for index, score in enumerate(scores):
        kept = reduced.get(score.user_id)
        if kept is None:
            state = combine(operator, descending, None, score.value, score.at)
            floor = 0 if sums else score.value
            reduced[score.user_id] = _Reduced(
                score.hidden,
                state,
                not sums or score.value == 0,
                max(floor, score.value),
                min(floor, score.value),
                [index],
            )
            continue
        kept.indexes.append(index)
        try:
            state = combine(operator, descending, kept.state, score.value, score.at)
        except BoardValueOverflow:
            return None
        kept.steady &= state is kept.state
        kept.state = state
        point = state.value if sums else score.value
        kept.high, kept.low = max(kept.high, point), min(kept.low, point)
    return reduced


_MERGE = """
WITH given AS (
    SELECT * FROM unnest(%(users)s::uuid[], %(hidden)s::bool[], %(values)s::numeric[], %(ats)s::timestamptz[],
                         %(steady)s::bool[], %(highs)s::numeric[], %(lows)s::numeric[])
        AS g (user_id, hidden, value, at, steady, high, low)
),
target AS (
    SELECT CASE WHEN g.hidden THEN %(prefix)s || b.game ELSE b.game END AS board,
           CASE WHEN g.hidden THEN %(prefix)s || b.total ELSE b.total END AS total,
           g.user_id, g.value, g.at, g.steady, g.high, g.low
    FROM given g CROSS JOIN unnest(%(games)s::varchar[], %(totals)s::varchar[]) AS b (game, total)
),
merged AS (
    SELECT t.*, s.value::numeric AS old_value, s.reached_at AS old_at, s.version AS old_version,
           CASE
               WHEN s.value IS NULL THEN t.value
               WHEN %(operator)s = 'best' THEN
                   CASE WHEN (%(descending)s AND t.value > s.value) OR (NOT %(descending)s AND t.value < s.value)
                   THEN t.value END
               WHEN %(operator)s = 'sum' THEN CASE WHEN NOT t.steady THEN s.value + t.value END
               ELSE CASE WHEN NOT t.steady OR t.value <> s.value THEN t.value END
           END AS new_value
    FROM target t LEFT JOIN {table} s ON s.board = t.board AND s.user_id = t.user_id
),
moved AS (SELECT * FROM merged WHERE new_value IS NOT NULL),
totals AS (
    SELECT m.total AS board, m.user_id, m.at, m.high, m.low,
           coalesce(s.value, 0) + m.new_value - coalesce(m.old_value, 0) AS new_value,
           coalesce(s.value, 0) - CASE WHEN %(operator)s = 'sum' THEN 0 ELSE coalesce(m.old_value, 0) END AS base,
           s.value AS old_value, s.reached_at AS old_at, s.version AS old_version
    FROM moved m LEFT JOIN (SELECT board, user_id, value::numeric, reached_at, version FROM {table}) s
        ON s.board = m.total AND s.user_id = m.user_id
    WHERE m.total IS NOT NULL
),
overflow AS (
    SELECT 1 AS found FROM moved
    WHERE %(operator)s = 'sum'
      AND (coalesce(old_value, 0) + high > %(most)s OR coalesce(old_value, 0) + low < %(least)s)
    UNION ALL
    SELECT 1 FROM totals WHERE base + high > %(most)s OR base + low < %(least)s
    LIMIT 1
),
changed AS (
    SELECT board, user_id, new_value, at, old_value, old_at, old_version FROM moved
    UNION ALL
    SELECT board, user_id, new_value, at, old_value, old_at, old_version FROM totals
),
written AS (
    INSERT INTO {table} (board, user_id, value, reached_at, version, updated_at)
    SELECT board, user_id, new_value::bigint, at, greatest(coalesce(old_version + 1, 0), %(micros)s), %(now)s
    FROM changed WHERE NOT EXISTS (SELECT 1 FROM overflow)
    ORDER BY board, user_id
    ON CONFLICT (board, user_id) DO UPDATE SET value = excluded.value, reached_at = excluded.reached_at,
        version = excluded.version, updated_at = excluded.updated_at
    RETURNING board, user_id, value, reached_at, version
)
SELECT w.board, w.user_id, w.value, w.reached_at, w.version, c.old_value::bigint, c.old_at
FROM written w JOIN changed c ON c.board = w.board AND c.user_id = w.user_id
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM overflow
"""


@dataclass(frozen=True)
class Merged:
    """What the statement did: the rows it wrote, and each score's effect on its player's all-time board."""

    rows: dict[tuple[str, uuid.UUID], tuple[Board, Row]]
    effects: list[ScoreEffect]


def merge_scores(
    *, game: Game, scores: Sequence[ScoreInput], pairs: list[tuple[Board, Board | None]], micros: int
) -> Merged | None:
    """Merge the scores (``merge_applies``) into the ``pairs`` boards (every window of their day, each with
    its global board or None) in one statement. None, with nothing written, when a total would overflow."""
    descending = game.sort_order == "desc"
    reduced = _reduce(game.score_operator, descending, scores)
    if reduced is None:
        return None
    players = list(reduced.values())
    boards = {board.key: board for pair in pairs for board in pair if board is not None}
    boards |= {hidden_board(board).key: hidden_board(board) for board in list(boards.values())}
    with connection.cursor() as cursor:
        cursor.execute(
            _MERGE.format(table=Standing._meta.db_table),
            {
                "users": array_literal(reduced),
                "hidden": array_literal(player.hidden for player in players),
                "values": array_literal(player.state.value for player in players),
                "ats": array_literal(player.state.reached_at for player in players),
                "steady": array_literal(player.steady for player in players),
                "highs": array_literal(player.high for player in players),
                "lows": array_literal(player.low for player in players),
                "prefix": HIDDEN_PREFIX,
                "games": [board.key for board, _ in pairs],
                "totals": [total.key if total else None for _, total in pairs],
                "operator": game.score_operator,
                "descending": descending,
                "most": INT64_MAX,
                "least": INT64_MIN,
                "micros": micros,
                "now": timezone.now(),
            },
        )
        found = cursor.fetchall()
    if found and found[-1][0] is None:
        return None
    rows: dict[tuple[str, uuid.UUID], tuple[Board, Row]] = {}
    before: dict[uuid.UUID, State | None] = {}
    all_time = {board.key for board, _ in pairs if board.window.start is None}
    for key, user_id, value, reached_at, version, old_value, old_at in found:
        rows[(key, user_id)] = (boards[key], Row(value, reached_at, version))
        if key.removeprefix(HIDDEN_PREFIX) in all_time:
            before[user_id] = None if old_value is None else State(old_value, old_at)
    return Merged(rows, _effects(game, descending, scores, reduced, before))


def _effects(
    game: Game,
    descending: bool,
    scores: Sequence[ScoreInput],
    reduced: dict[uuid.UUID, _Reduced],
    before: dict[uuid.UUID, State | None],
) -> list[ScoreEffect]:
    """Each score's effect on the all-time board, in order: replayed from the row's old state for the players
    whose row moved; the others' scores moved nothing."""
    moved = [False] * len(scores)
    for user_id, player in reduced.items():
        if user_id not in before:
            continue
        state = before[user_id]
        for index in player.indexes:
            score = scores[index]
            new = combine(game.score_operator, descending, state, score.value, score.at)
            moved[index] = new is not state
            state = new
    return [ScoreEffect(flag) for flag in moved]
