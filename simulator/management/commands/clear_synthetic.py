"""``manage.py clear_synthetic``: remove everything load runs wrote (synthetic players and games)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from common.errors import DomainError
from simulator.services.clear import synthetic_delete


class Command(BaseCommand):
    help = (
        "Remove every synthetic player and game (made by the simulator, stress tests and locust) with their scores, "
        "standings and tournaments. The real boards are not touched; run reports are kept."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            removed = synthetic_delete()
        except DomainError as error:
            raise CommandError(error.message) from None
        if removed.empty:
            self.stdout.write("Nothing to remove: no synthetic player or game.")
            return
        self.stdout.write(
            f"Removed {removed.players:,} synthetic players, {removed.games} games, {removed.scores:,} scores and "
            f"{removed.tournaments} tournaments."
        )
