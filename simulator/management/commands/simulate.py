"""``manage.py simulate --players N --rate R --duration S``: animate the service from the terminal.

Simulated players (``sim_0001``..., synthetic: they play the synthetic games
only, never the real boards) submit scores through the same service as the
API, join open tournaments and set personal bests, with a live progress line.
Ctrl-C stops after the score in flight; a second Ctrl-C aborts.

Live pages follow it only when the channel layer is shared (``REDIS_URL``): the
embedded in-memory layer lives inside the server's process, so this command
says so and points at the dashboard's demo controls, which run the same
simulation inside the server.
"""

from __future__ import annotations

import random
import signal
import sys
import threading
import time
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import DomainError
from games.models import Game
from simulator.models import Simulation
from simulator.selectors import simulation_alive
from simulator.services import simulate as engine


class Command(BaseCommand):
    help = "Simulated players submit scores at about --rate per second, join tournaments and set records."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--players", type=int, default=50, help="simulated players (default 50)")
        parser.add_argument("--rate", type=float, default=10.0, help="scores per second (default 10)")
        parser.add_argument("--duration", type=int, default=60, help="seconds; 0 runs until Ctrl-C (default 60)")
        parser.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable run")

    def handle(self, *args: Any, players: int, rate: float, duration: int, seed: int | None, **options: Any) -> None:
        running = next((s for s in Simulation.objects.filter(active=True) if simulation_alive(s)), None)
        if running is not None:
            raise CommandError(
                f"Background simulation {running.pk} is {running.status} and plays the same players; stop it first "
                f"(DELETE /api/v1/simulator/simulations/{running.pk})."
            )
        try:
            engine.simulation_validate(
                players=players, rate=rate, duration=duration or None, games=engine.simulation_games_count()
            )
            had_games = Game.objects.filter(is_active=True, is_synthetic=True).exists()
            games = engine.simulated_games()
            sim_players = engine.simulated_players(count=players)
            simulator = engine.Simulator(
                players=sim_players, games=games, rate=rate, duration=duration or None, rng=random.Random(seed)
            )
        except DomainError as exc:
            details = [f"--{name}: {' '.join(messages)}" for name, messages in (exc.fields or {}).items()]
            raise CommandError(" ".join(details) if details and exc.code == "invalid" else exc.message) from None
        if not had_games:
            self.stdout.write(f"Created the synthetic games {', '.join(g.name for g in games)}.")
        if isinstance(get_channel_layer(), InMemoryChannelLayer):
            self.stdout.write(
                "Open pages do not follow this run: without REDIS_URL the channel layer lives inside the server's "
                "process. Start the simulation from the dashboard's demo controls to watch it live."
            )
        until = f"for {duration} s" if duration else "until Ctrl-C"
        self.stdout.write(
            f"Simulating {len(sim_players)} players on {len(games)} games at {rate:g} scores/s {until}; Ctrl-C stops."
        )

        stop = threading.Event()
        progress = _ProgressLine(self.stdout, simulator)
        previous = signal.getsignal(signal.SIGINT)

        def interrupt(signum: int, frame: object) -> None:
            if stop.is_set():
                raise KeyboardInterrupt
            stop.set()

        signal.signal(signal.SIGINT, interrupt)
        try:
            counters = simulator.run(stop=stop, on_progress=progress.show)
        finally:
            signal.signal(signal.SIGINT, previous)
        progress.show(counters, final=True)
        how = "Stopped" if stop.is_set() else "Done"
        self.stdout.write(
            f"{how} after {simulator.elapsed():.1f} s: {counters.scores_submitted} scores, "
            f"{counters.tournaments_joined} tournament joins, {counters.records} records, {counters.errors} errors."
        )


class _ProgressLine:
    """One line rewritten in place on a terminal; one line per second otherwise (logs, pipes)."""

    def __init__(self, out: Any, simulator: engine.Simulator) -> None:
        self.out = out
        self.simulator = simulator
        self.tty = sys.stdout.isatty()
        self.last_time = time.monotonic()
        self.last_scores = 0

    def show(self, counters: engine.Counters, final: bool = False) -> bool:
        now = time.monotonic()
        span = now - self.last_time
        per_second = (counters.scores_submitted - self.last_scores) / span if span > 0 else 0.0
        self.last_time, self.last_scores = now, counters.scores_submitted
        line = (
            f"{self.simulator.elapsed():7.1f}s  scores {counters.scores_submitted} ({per_second:.1f}/s)  "
            f"joins {counters.tournaments_joined}  records {counters.records}  errors {counters.errors}"
        )
        if self.tty:
            self.out.write("\r" + line.ljust(79), ending="\n" if final else "")
            self.out.flush()
        elif not final:
            self.out.write(line)
        return True
