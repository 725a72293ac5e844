"""Demo data in the background: ``demo_populate`` started from the demo controls, one run at a time.

A run is a ``DemoPopulation`` row, ``active`` (unique) while it is not over,
so a second concurrent start fails in the database. The runner (a Celery
task, or a thread of the server in embedded mode, like simulations) claims
the row ``pending -> running``, calls ``demo_populate`` and ends the row
``finished`` (with what exists afterwards) or ``failed``. ``demo_populate`` is
idempotent: a run that finds demo data ends ``finished`` with ``created``
False, and a start is refused beforehand when demo data exists.

Progress and liveness live in the cache (Redis in production, shared with the
workers; local memory in the one embedded process): every progress step the
populate reports stamps ``{step, done, total}`` there with a time-out of
``POPULATION_STALE_SECONDS`` (selectors). An active run with no stamp for that long (its worker or
server died) is ended ``failed`` by the next start or read through
``populations_reap``; until then a start is refused with 409.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from common.errors import Conflict

from .. import selectors
from ..models import DemoPopulation, RunStatus
from ..selectors import DemoSummary, demo_summary, population_alive, population_progress_key
from .populate import DEFAULT_PLAYERS, demo_populate
from .runs import DEAD_MESSAGE, reap_dead, run_in_background

logger = logging.getLogger(__name__)

DEFAULT_GAMES = 4
END_ATTEMPTS = 5


class PopulationRunning(Conflict):
    code = "population_running"
    message = "Demo data is being created already; wait for it to finish."


class DemoDataExists(Conflict):
    code = "demo_data_exists"
    message = "Demo data exists already; nothing to do."


def _stamp(population_id: int, step: str, done: int, total: int) -> None:
    progress = {"step": step, "done": done, "total": total, "at": timezone.now().timestamp()}
    cache.set(population_progress_key(population_id), progress, timeout=selectors.POPULATION_STALE_SECONDS)


def populations_reap() -> int:
    """End the active runs that stopped reporting (``failed``). Returns how many."""
    return reap_dead(model=DemoPopulation, alive=population_alive, message=DEAD_MESSAGE)


def _describe(summary: DemoSummary) -> str:
    return f"{summary.players:,} players, {summary.scores:,} scores"


def population_start(
    *,
    started_by: User | None,
    players: int | None = None,
    games: int | None = None,
    scores: int | None = None,
) -> DemoPopulation:
    """Record a run and hand it to a worker (or a thread of this process). ``players`` and ``games`` default to
    ``DEFAULT_PLAYERS`` and ``DEFAULT_GAMES``; ``scores`` to 20 per player.

    409 ``demo_data_exists`` when there is demo data already, 409 ``population_running`` while a run is active.
    """
    populations_reap()
    running = DemoPopulation.objects.filter(active=True).first()
    if running is not None:
        raise PopulationRunning(f"Demo data is being created (run {running.pk}); wait for it to finish.")
    existing = demo_summary()
    if not existing.empty:
        raise DemoDataExists(f"Demo data exists already ({_describe(existing)}); nothing to do.")
    try:
        with transaction.atomic():
            population = DemoPopulation.objects.create(
                players=players or DEFAULT_PLAYERS, games=games or DEFAULT_GAMES, scores=scores, started_by=started_by
            )
    except IntegrityError:
        raise PopulationRunning() from None
    transaction.on_commit(partial(_dispatch, population.pk))
    return population


def _dispatch(population_id: int) -> None:
    run_in_background(
        model=DemoPopulation,
        run_id=population_id,
        body=lambda run_id: population_run(population_id=run_id),
        task="simulator.tasks.populate.population_run_task",
    )


def population_run(*, population_id: int) -> DemoPopulation | None:
    """Run a pending population to its end. Does nothing when the run was reaped or already claimed."""
    claimed = DemoPopulation.objects.filter(pk=population_id, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    _stamp(population_id, "starting", 0, 1)
    population = DemoPopulation.objects.get(pk=population_id)
    try:
        result = demo_populate(
            players=population.players,
            games=population.games,
            scores=population.scores,
            progress=partial(_stamp, population_id),
        )
    except Exception as exc:  # noqa: BLE001  recorded on the run, which must not stay running
        logger.exception("demo population %s failed", population_id)
        _end(population_id, status=RunStatus.FAILED, error=str(exc) or type(exc).__name__)
    else:
        _end(
            population_id,
            status=RunStatus.FINISHED,
            created=result.created,
            summary=_summary_dict(result.summary),
            seconds=round(result.seconds, 1),
        )
    return DemoPopulation.objects.get(pk=population_id)


def _summary_dict(summary: DemoSummary) -> dict[str, Any]:
    return {
        "players": summary.players,
        "games": summary.games,
        "scores": summary.scores,
        "tournaments": summary.tournaments,
    }


def _end(population_id: int, *, status: str, **fields: Any) -> None:
    """Close the row (a reaped run is left as it is); tried a few times, as a run left active blocks the next."""
    cache.delete(population_progress_key(population_id))
    for attempt in range(END_ATTEMPTS):
        try:
            DemoPopulation.objects.filter(pk=population_id, status=RunStatus.RUNNING).update(
                status=status, active=None, finished_at=timezone.now(), **fields
            )
            return
        except DatabaseError:
            if attempt == END_ATTEMPTS - 1:
                raise
            logger.warning("demo population %s: could not record its end; trying again", population_id, exc_info=True)
            time.sleep(0.5)
