"""Keeping the ranking index (Redis) honest, and reading around it when it is not.

The standings table is the truth; an index backend is written after commit.
When a write to the index fails, the board is recorded as stale in the
database and read from the table until it is rebuilt. While the index is
unreachable, reads skip it for a short while rather than wait on time-outs.
A whole-index marker (set by a full rebuild) catches an index that restarted
empty.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from common.metrics import RANKING_SECONDS, timed

from .boards import Board
from .engine import RankingEngine, StandingChange, get_engine, sql_engine
from .models import StaleBoard

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _IndexHealth:
    """Per-process view of the index: a circuit breaker plus a cached list of stale boards."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.checked_at = 0.0
        self.ready = False
        self.stale: frozenset[str] = frozenset()

    def trip(self) -> None:
        self.down_until = time.monotonic() + settings.RANKING_INDEX_RETRY_SECONDS

    def usable_for(self, engine: RankingEngine, board: Board) -> bool:
        now = time.monotonic()
        if now < self.down_until:
            return False
        if now - self.checked_at > settings.RANKING_INDEX_RECHECK_SECONDS:
            self.refresh(engine)
        return self.ready and board.key not in self.stale

    def refresh(self, engine: RankingEngine) -> None:
        self.checked_at = time.monotonic()
        self.stale = frozenset(StaleBoard.objects.values_list("board", flat=True))
        try:
            self.ready = engine.is_complete()
        except engine.unavailable:
            self.ready = False
            self.trip()

    def forget(self) -> None:
        self.__init__()


health = _IndexHealth()


def index_is_separate() -> bool:
    return get_engine().name != sql_engine().name


def index_read(board: Board | Sequence[Board], read: Callable[[RankingEngine], T]) -> T:
    """Run a read on the index when it is usable for the board (every board, given several), else on the table.

    Only the current period is served by the index; earlier periods are read
    from the table, which keeps every period.
    """
    engine = get_engine()
    if not index_is_separate():
        return read(engine)
    boards = [board] if isinstance(board, Board) else board
    now = timezone.now()
    if not all(b.window.contains(now) and health.usable_for(engine, b) for b in boards):
        return read(sql_engine())
    try:
        return read(engine)
    except engine.unavailable as exc:
        logger.warning(
            "ranking index unreachable, reading %s from the database: %s", ", ".join(b.key for b in boards), exc
        )
        health.trip()
        return read(sql_engine())


def index_version(board: Board) -> int | None:
    """The board's version in the index when ``index_read`` would read it there; None otherwise (the table keeps
    no versions, so its reads are never cached)."""
    engine = get_engine()
    if not index_is_separate() or not board.window.contains(timezone.now()) or not health.usable_for(engine, board):
        return None
    try:
        return engine.version(board)
    except engine.unavailable:
        health.trip()
        return None


@timed(RANKING_SECONDS, "apply")
def index_apply(changes: Sequence[StandingChange]) -> None:
    """Write committed standings to the index; on failure mark their boards stale instead of failing."""
    if not changes or not index_is_separate():
        return
    engine = get_engine()
    try:
        engine.apply(changes)
    except engine.unavailable as exc:
        boards = sorted({change.board.key for change in changes})
        logger.warning("ranking index write failed for %d boards, marking them stale: %s", len(boards), exc)
        health.trip()
        index_mark_stale(boards)


def index_mark_stale(boards: Sequence[str]) -> None:
    try:
        StaleBoard.objects.bulk_create([StaleBoard(board=key) for key in boards], ignore_conflicts=True)
    except DatabaseError:
        logger.exception("could not record stale ranking boards %s", boards)
    health.stale = health.stale | frozenset(boards)


def index_status() -> dict[str, object]:
    """For /readyz: whether rankings are served by the index or degraded to the database."""
    if not index_is_separate():
        return {"backend": get_engine().name, "status": "ok"}
    engine = get_engine()
    stale = StaleBoard.objects.count()
    try:
        ready = engine.is_complete()
    except engine.unavailable:
        return {"backend": engine.name, "status": "degraded", "reason": "index unreachable", "stale_boards": stale}
    if not ready:
        return {"backend": engine.name, "status": "degraded", "reason": "index not built", "stale_boards": stale}
    if stale:
        return {"backend": engine.name, "status": "degraded", "reason": "stale boards", "stale_boards": stale}
    return {"backend": engine.name, "status": "ok"}
