from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from simulator.selectors import DemoSummary
from simulator.services.populate import (
    CATALOGUE,
    DEFAULT_DAYS,
    DEFAULT_PLAYERS,
    DEFAULT_SCORES_PER_PLAYER,
    DEFAULT_SEED,
    demo_populate,
)

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Fill Podium with demo data: games of every kind, players, a score history over the last days, "
        "tournaments finished and paid, running and upcoming. Does nothing if demo data exists, unless --reset."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--players", type=int, default=DEFAULT_PLAYERS, help=f"default {DEFAULT_PLAYERS}")
        parser.add_argument(
            "--games", type=int, default=4, help=f"1 to {len(CATALOGUE)}, in catalogue order (default 4)"
        )
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"days of history (default {DEFAULT_DAYS})")
        parser.add_argument(
            "--scores", type=int, default=None, help=f"scores in all (default {DEFAULT_SCORES_PER_PLAYER} per player)"
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed: the same seed, the same data")
        parser.add_argument("--reset", action="store_true", help="delete the demo data first, then create it again")

    def handle(self, *args: object, **options: object) -> None:
        self._step = ""
        self._step_started = time.monotonic()
        try:
            result = demo_populate(
                players=options["players"],
                games=options["games"],
                days=options["days"],
                scores=options["scores"],
                seed=options["seed"],
                reset=options["reset"],
                progress=self._progress,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        if not result.created:
            self.stdout.write(f"Demo data already exists: {self._describe(result.summary)}.")
            self.stdout.write("Nothing changed; use --reset to delete it and create it again.")
            return
        self.stdout.write(f"Created demo data in {result.seconds:.1f}s: {self._describe(result.summary)}.")

    def _progress(self, step: str, done: int, total: int) -> None:
        """An in-place bar on stderr, one line per step."""
        if step != self._step:
            self._step, self._step_started = step, time.monotonic()
        filled = BAR_WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        elapsed = time.monotonic() - self._step_started
        self.stderr.write(f"\r{step:<11} [{bar}] {done:>9,}/{total:,}  {elapsed:5.1f}s", ending="")
        if done >= total:
            self.stderr.write("")
        self.stderr.flush()

    @staticmethod
    def _describe(summary: DemoSummary) -> str:
        tournaments = ", ".join(f"{n} {status}" for status, n in summary.tournaments.items() if n) or "none"
        return (
            f"{summary.players:,} players, {summary.games} games, {summary.scores:,} scores, tournaments: {tournaments}"
        )
