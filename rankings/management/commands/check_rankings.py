from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from rankings import index
from rankings.selectors import board_drift
from rankings.services import all_boards


class Command(BaseCommand):
    help = "Compare the ranking index (Redis) with the standings table and report every board that drifted."

    def handle(self, *args: object, **options: object) -> None:
        if not index.index_is_separate():
            self.stdout.write("The ranking engine is the standings table itself (SQL): nothing can drift.")
            return
        now = timezone.now()
        drifted = 0
        checked = 0
        for board in all_boards():
            if board.expires_at is not None and board.expires_at < now:
                continue  # its index has expired on purpose; reads of it use the table
            checked += 1
            report = board_drift(board=board)
            if report:
                drifted += 1
                self.stdout.write(f"DRIFT {board.key}: {report}")
        self.stdout.write(f"Checked {checked} boards: {drifted} drifted.")
        if drifted:
            raise CommandError("The ranking index differs from the standings; run rebuild_rankings.")
