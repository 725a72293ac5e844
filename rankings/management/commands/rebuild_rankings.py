from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from games.selectors import game_get
from rankings import index
from rankings.boards import Board, game_scope
from rankings.periods import Period
from rankings.services import all_boards, boards_rebuild


class Command(BaseCommand):
    help = "Rebuild the ranking index (Redis) from the standings table: every board, or one game's, or one period's."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--game", help="Only this game's boards (id or slug).")
        parser.add_argument("--period", choices=Period.values, help="Only boards of this period.")

    def handle(self, *args: object, game: str | None, period: str | None, **options: object) -> None:
        if not index.index_is_separate():
            self.stdout.write("The ranking engine is the standings table itself (SQL): nothing to rebuild.")
            return
        boards = all_boards()
        if game:
            found = game_get(id_or_slug=game)
            if found is None:
                raise CommandError(f"No game {game!r}")
            boards = [board for board in boards if board.key.startswith(f"{game_scope(found.pk)}.")]
        if period:
            boards = [board for board in boards if board.window.period == period]
        full = not game and not period
        started = time.monotonic()
        done = 0

        def progress(board: Board, loaded: int) -> None:
            nonlocal done
            done += 1
            width = 30
            filled = width * done // max(len(boards), 1)
            bar = "#" * filled + "." * (width - filled)
            sys.stdout.write(f"\r[{bar}] {done}/{len(boards)} boards  {board.key[:48]:48} {loaded:>9} players")
            sys.stdout.flush()

        total = boards_rebuild(boards=boards, mark_ready=full, progress=progress)
        self.stdout.write(
            f"\nRebuilt {len(boards)} boards, {total} standings, in {time.monotonic() - started:.1f}s"
            + (" (index marked complete)" if full else "")
        )
