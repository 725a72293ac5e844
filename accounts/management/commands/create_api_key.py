from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from games.models import Game


class Command(BaseCommand):
    help = "Create an API key for a game server and print it (it is shown this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="What the key is for, e.g. 'eu-west match server'.")
        parser.add_argument(
            "--game", action="append", default=[], metavar="SLUG", help="A game the key may write for (repeatable)."
        )

    def handle(self, *args: object, name: str, game: list[str], **options: object) -> None:
        games = list(Game.objects.filter(slug__in=game))
        missing = sorted(set(game) - {g.slug for g in games})
        if missing:
            raise CommandError(f"No game with slug: {', '.join(missing)}")
        if not games:
            raise CommandError("Name at least one game with --game SLUG.")
        api_key, raw_key = services.api_key_create(name=name, games=games)
        self.stderr.write(f"Created API key '{api_key.name}' for: {', '.join(g.slug for g in games)}")
        self.stdout.write(raw_key)
