"""Writes to the standings (``record``), the rules they apply (``state``), how rows are stored (``storage``), and
rebuilding the index (``rebuild``), and deleting ended periods past their retention (``archive``)."""

from .archive import archive_prune
from .rebuild import all_boards, board_rebuild, boards_rebuild, index_heal
from .record import (
    StandingsWrites,
    standings_move_player,
    standings_recompute,
    standings_record_board,
    standings_record_scores,
    standings_replace_board,
)
from .state import BoardValueOverflow, ScoreEffect, ScoreInput, State, combine

__all__ = [
    "archive_prune",
    "BoardValueOverflow",
    "ScoreEffect",
    "ScoreInput",
    "State",
    "StandingsWrites",
    "all_boards",
    "board_rebuild",
    "boards_rebuild",
    "combine",
    "index_heal",
    "standings_move_player",
    "standings_recompute",
    "standings_record_board",
    "standings_record_scores",
    "standings_replace_board",
]
