"""Reads of the simulator: the service's live totals (``GET /api/v1/stats``), the demo controls' state, and the
stress tests the stress page lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from games.models import Game
from realtime.presence import open_connections
from scores.models import Score
from tournaments.models import Status, Tournament

from .models import DemoPopulation, Simulation, StressTest

# Above this many scores, PostgreSQL's own estimate of the table size is used: an exact count reads the whole table.
EXACT_COUNT_LIMIT = 1_000_000


def _score_total() -> tuple[int, bool]:
    """(number of scores, whether it is an estimate)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [Score._meta.db_table])
            row = cursor.fetchone()
        if row and row[0] > EXACT_COUNT_LIMIT:
            return int(row[0]), True
    return Score.objects.count(), False


def service_stats(*, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    scores, estimated = _score_total()
    by_status = dict(Tournament.objects.order_by().values_list("status").annotate(n=Count("pk")))
    return {
        "players": User.objects.filter(is_active=True).count(),
        "games": Game.objects.filter(is_active=True).count(),
        "scores": scores,
        "scores_estimated": estimated,
        "scores_last_minute": Score.objects.filter(created_at__gte=now - timedelta(minutes=1)).count(),
        "tournaments": {status: by_status.get(status, 0) for status in Status.values},
        "open_websockets": open_connections(),
        "at": now,
    }


# --- the demo data and the liveness of background runs ----------------------------------

# Demo data is what ``demo_populate`` made: games marked in their rules, players by name, address and no password.
DEMO_MARK = "populate_demo"
DEMO_USERNAME_PREFIX = "demo_"
DEMO_EMAIL_DOMAIN = "players.podium-demo.invalid"

# An active run that has not reported for this long is dead (its worker or server went away). One step of the
# populate (a chunk of 20,000 scores on a slow database) may take a while; a simulation reports every second.
POPULATION_STALE_SECONDS = 120.0
SIMULATION_STALE_SECONDS = 30.0


@dataclass(frozen=True)
class DemoSummary:
    players: int
    games: int
    scores: int
    tournaments: dict[str, int]

    @property
    def empty(self) -> bool:
        return not (self.players or self.games)


def demo_players() -> QuerySet[User]:
    return User.objects.filter(
        username__startswith=DEMO_USERNAME_PREFIX, email__endswith=f"@{DEMO_EMAIL_DOMAIN}", password__startswith="!"
    )


def demo_games() -> QuerySet[Game]:
    return Game.objects.filter(rules__demo=DEMO_MARK)


def demo_tournaments() -> QuerySet[Tournament]:
    return Tournament.objects.filter(Q(game__in=demo_games()) | Q(organizer__in=demo_players()))


def demo_summary() -> DemoSummary:
    by_status = dict(demo_tournaments().order_by().values_list("status").annotate(n=Count("pk")))
    return DemoSummary(
        players=demo_players().count(),
        games=demo_games().count(),
        scores=Score.objects.filter(game__in=demo_games()).count(),
        tournaments={status: by_status.get(status, 0) for status in Status.values},
    )


def population_progress_key(population_id: int) -> str:
    return f"simulator:population:{population_id}:progress"


def population_progress(population: DemoPopulation) -> dict[str, Any] | None:
    """The last step an active run reported, ``{step, done, total, at}``; None before its first step or once over."""
    if population.active is None:
        return None
    return cache.get(population_progress_key(population.pk))


def population_alive(population: DemoPopulation) -> bool:
    """Whether an active run has reported within ``POPULATION_STALE_SECONDS`` (a new run gets that long to start)."""
    since = population.started_at or population.created_at
    if since > timezone.now() - timedelta(seconds=POPULATION_STALE_SECONDS):
        return True
    return cache.get(population_progress_key(population.pk)) is not None


def simulation_heartbeat_key(simulation_id: int) -> str:
    return f"simulator:simulation:{simulation_id}:heartbeat"


def simulation_alive(simulation: Simulation) -> bool:
    """Whether an active run has reported within ``SIMULATION_STALE_SECONDS`` (a new run gets that long to start)."""
    since = simulation.started_at or simulation.created_at
    if since > timezone.now() - timedelta(seconds=SIMULATION_STALE_SECONDS):
        return True
    return cache.get(simulation_heartbeat_key(simulation.pk)) is not None


# --- the demo controls and the stress page (staff) -----------------------------------------


@dataclass(frozen=True)
class DemoControls:
    """What the demo controls show: the demo data, the latest populate run and the latest simulation.

    ``*_alive`` is False for an active run that stopped reporting (its worker or server died): it is shown as
    over, and the next start ends it.
    """

    demo: DemoSummary
    population: DemoPopulation | None
    population_progress: dict[str, Any] | None
    population_alive: bool
    simulation: Simulation | None
    simulation_alive: bool

    @property
    def populating(self) -> bool:
        return bool(self.population and self.population.active and self.population_alive)

    @property
    def simulating(self) -> bool:
        return bool(self.simulation and self.simulation.active and self.simulation_alive)


def demo_controls() -> DemoControls:
    population = DemoPopulation.objects.first()
    simulation = Simulation.objects.first()
    return DemoControls(
        demo=demo_summary(),
        population=population,
        population_progress=population_progress(population) if population else None,
        population_alive=bool(population and population.active and population_alive(population)),
        simulation=simulation,
        simulation_alive=bool(simulation and simulation.active and simulation_alive(simulation)),
    )


# The figures a stress test's row shows: its report's totals once over, its live figures while it runs.
STRESS_FIGURES = ("users", "requests", "failures", "rps", "p50_ms", "p95_ms")


@dataclass(frozen=True)
class StressRun:
    run: StressTest
    figures: dict[str, Any]

    @property
    def over(self) -> bool:
        return self.run.active is None


def stress_figures(run: StressTest) -> dict[str, Any]:
    report = run.report or {}
    source = report if run.active is None else report.get("live") or {}
    figures = {name: source[name] for name in STRESS_FIGURES if isinstance(source.get(name), int | float)}
    if run.active is not None and isinstance(source.get("elapsed"), int | float):
        figures["elapsed"] = source["elapsed"]
    return figures


def stress_runs(*, offset: int = 0, limit: int = 20) -> tuple[list[StressRun], int]:
    """The stress tests, newest first (the active one too), with their figures; and how many there are."""
    runs = StressTest.objects.select_related("started_by")
    page = list(runs[offset : offset + limit])
    return [StressRun(run, stress_figures(run)) for run in page], runs.count()


def stress_run_active() -> StressRun | None:
    run = StressTest.objects.filter(active=True).select_related("started_by").first()
    return StressRun(run, stress_figures(run)) if run else None


def stress_run_get(*, stress_test_id: int) -> StressRun | None:
    run = StressTest.objects.filter(pk=stress_test_id).select_related("started_by").first()
    return StressRun(run, stress_figures(run)) if run else None


def simulation_get(*, simulation_id: int) -> Simulation | None:
    return Simulation.objects.filter(pk=simulation_id).first()


def simulator_active() -> dict[str, bool]:
    """Per kind of background run (``simulation``, ``stress_test``, ``population``), whether one is starting,
    running or stopping. A run whose process died counts until it is noticed (within 30 s)."""
    kinds = {"simulation": Simulation, "stress_test": StressTest, "population": DemoPopulation}
    return {kind: model.objects.filter(active=True).exists() for kind, model in kinds.items()}
