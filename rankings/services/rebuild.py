"""Rebuilding the ranking index from the standings table, and healing it after an outage."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from common.metrics import RANKING_SECONDS, timed
from rankings import index
from rankings.boards import (
    Board,
    board_from_key,
    is_hidden,
)
from rankings.engine import StandingChange, StandingRow, get_engine
from rankings.engine.sql import listing_order
from rankings.models import StaleBoard, Standing

from .storage import board_keys

logger = logging.getLogger(__name__)


def _rows_of(board: Board, *, since: datetime | None = None) -> Iterable[StandingRow]:
    """The board's rows in board order (the standings index's own order), or those changed since a moment."""
    rows = Standing.objects.filter(board=board.key)
    rows = rows.order_by() if since is not None else rows.order_by(*listing_order(board))
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
    loaded = engine.rebuild(board, _rows_of(board), size=Standing.objects.filter(board=board.key).count())
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
    for key in board_keys():
        if is_hidden(key):
            continue
        try:
            boards.append(board_from_key(key))
        except ObjectDoesNotExist:
            logger.warning("standings of board %s name something that no longer exists; skipped", key)
    return boards


def index_heal() -> int:
    """Bring the index back in line after an outage: everything if it restarted empty, else the stale boards and
    those the index asks to have cut again (one of their sorted sets outgrew ``RANKING_REDIS_RANGE_SIZE``).

    Returns how many boards were rebuilt (0 when healthy or unreachable).
    """
    if not index.index_is_separate():
        return 0
    engine = get_engine()
    try:
        ready = engine.is_complete()
        # Boards one of whose sorted sets outgrew its share, to be cut again along the values they hold now.
        recut = set(engine.boards_to_recut()) if ready else set()
    except engine.unavailable:
        return 0
    if not ready:
        boards = all_boards()
        boards_rebuild(boards=boards, mark_ready=True)
        return len(boards)
    stale = set(StaleBoard.objects.values_list("board", flat=True)) | recut
    if not stale:
        return 0
    boards_rebuild(boards=[board_from_key(key) for key in sorted(stale)], mark_ready=False)
    return len(stale)
