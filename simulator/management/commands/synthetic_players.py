"""``manage.py synthetic_players N --output FILE``: players for a load test of your own (locust).

Creates (or reuses) ``load_0001``... synthetic players and the synthetic games
they play, and writes their access tokens as JSON for ``locustfile.py``
(``PODIUM_STRESS_CREDENTIALS``). Synthetic players never reach the real boards
or tournaments; ``manage.py clear_synthetic`` removes all they wrote.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from simulator.services.synthetic import load_credentials, synthetic_games, synthetic_players

PREFIX = "load_"
MAX_PLAYERS = 10_000
MAX_HOURS = 24


class Command(BaseCommand):
    help = "Create synthetic players for locust and write their access tokens to --output (JSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int, help=f"players, 1 to {MAX_PLAYERS:,}")
        parser.add_argument("--output", required=True, help="where to write the tokens (made readable by you only)")
        parser.add_argument("--hours", type=int, default=2, help=f"how long the tokens last, 1 to {MAX_HOURS} (2)")

    def handle(self, *args: Any, count: int, output: str, hours: int, **options: Any) -> None:
        if not 1 <= count <= MAX_PLAYERS:
            raise CommandError(f"count: 1 to {MAX_PLAYERS:,}")
        if not 1 <= hours <= MAX_HOURS:
            raise CommandError(f"--hours: 1 to {MAX_HOURS}")
        games = synthetic_games()
        players = synthetic_players(prefix=PREFIX, count=count, display="Load")
        accounts = load_credentials(players=players, lifetime=timedelta(hours=hours))
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        # The tokens sign in as these players: readable by the owner only, from the first byte written.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
            json.dump(accounts, file)
        path.chmod(0o600)
        self.stdout.write(
            f"Wrote {len(accounts):,} synthetic players' tokens (valid {hours} h) to {path}; "
            f"they play {', '.join(game.name for game in games)}."
        )
