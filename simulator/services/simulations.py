"""Background simulations: start one (one at a time), run it, stop it, and clean up after a crash.

A run is a ``Simulation`` row. Its ``active`` column is unique while the run
is not over, so a second concurrent start fails in the database, not only in
a check. The runner (a Celery task, or a thread of the server in embedded
mode) claims the row ``pending -> running``, writes its counters about once a
second with ``status = running`` in the WHERE clause, so the same statement
notices a stop request (``stopping``) made by any process, and ends the row
``finished``, ``stopped`` or ``failed``.

Liveness: each counter write also refreshes a heartbeat in the cache (Redis
in production, shared with the workers; local memory in the one embedded
process). An active run without a heartbeat for ``SIMULATION_STALE_SECONDS`` (selectors) is dead
(its worker or server went away): the next start, stop or read ends it.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial

from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from common.errors import Conflict

from .. import selectors
from ..models import RunStatus, Simulation
from ..selectors import simulation_alive, simulation_heartbeat_key
from .runs import DEAD_MESSAGE, reap_dead, run_in_background
from .simulate import (
    Counters,
    Simulator,
    simulated_games,
    simulated_players,
    simulation_games_count,
    simulation_validate,
)

logger = logging.getLogger(__name__)

END_ATTEMPTS = 5


class SimulationRunning(Conflict):
    code = "simulation_running"
    message = "A simulation is already running; stop it first."


def _beat(simulation_id: int) -> None:
    cache.set(
        simulation_heartbeat_key(simulation_id), timezone.now().timestamp(), timeout=selectors.SIMULATION_STALE_SECONDS
    )


def simulations_reap() -> int:
    """End the active runs that stopped reporting: ``failed`` (``stopped`` when a stop was asked). Returns how many."""
    return reap_dead(model=Simulation, alive=simulation_alive, message=DEAD_MESSAGE)


def simulation_start(*, players: int, rate: float, duration: int, started_by: User | None) -> Simulation:
    """Record a run and hand it to a worker (or a thread of this process). 409 while another run is active."""
    simulation_validate(players=players, rate=rate, duration=duration, games=simulation_games_count())
    simulations_reap()
    try:
        with transaction.atomic():
            simulation = Simulation.objects.create(players=players, rate=rate, duration=duration, started_by=started_by)
    except IntegrityError:
        running = Simulation.objects.filter(active=True).first()
        raise SimulationRunning(
            f"Simulation {running.pk} is {running.status}; stop it first." if running else None
        ) from None
    _beat(simulation.pk)
    transaction.on_commit(partial(_dispatch, simulation.pk))
    return simulation


def _dispatch(simulation_id: int) -> None:
    run_in_background(
        model=Simulation,
        run_id=simulation_id,
        body=lambda run_id: simulation_run(simulation_id=run_id),
        task="simulator.tasks.simulations.simulation_run_task",
    )


def simulation_stop(*, simulation: Simulation) -> Simulation:
    """Ask a run to stop. A run not picked up yet, or dead, ends ``stopped`` at once; a live one within a second."""
    now = timezone.now()
    over = {"status": RunStatus.STOPPED, "active": None, "finished_at": now}
    if not Simulation.objects.filter(pk=simulation.pk, status=RunStatus.PENDING).update(**over):
        Simulation.objects.filter(pk=simulation.pk, status=RunStatus.RUNNING).update(status=RunStatus.STOPPING)
    simulation.refresh_from_db()
    if simulation.status == RunStatus.STOPPING and not simulation_alive(simulation):
        Simulation.objects.filter(pk=simulation.pk, status=RunStatus.STOPPING).update(**over, error=DEAD_MESSAGE)
        simulation.refresh_from_db()
    return simulation


def simulation_run(*, simulation_id: int) -> Simulation | None:
    """Run a pending simulation to its end. Does nothing when the run was stopped, reaped or already claimed
    (a repeated task delivery)."""
    claimed = Simulation.objects.filter(pk=simulation_id, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    _beat(simulation_id)
    simulation = Simulation.objects.get(pk=simulation_id)
    counters = Counters()

    def report(progress: Counters) -> bool:
        _beat(simulation_id)
        # status=running in the WHERE clause: 0 rows means a stop was asked (or the run was reaped).
        try:
            running = Simulation.objects.filter(pk=simulation_id, status=RunStatus.RUNNING)
            return bool(running.update(**progress.as_dict()))
        except DatabaseError:
            logger.warning("simulation %s: could not write its counters; trying again in a second", simulation_id)
            return True

    try:
        simulator = Simulator(
            players=simulated_players(count=simulation.players),
            games=simulated_games(),
            rate=simulation.rate,
            duration=simulation.duration,
        )
        counters = simulator.counters
        simulator.run(stop=threading.Event(), on_progress=report)
    except Exception as exc:  # noqa: BLE001  recorded on the run, which must not stay running
        logger.exception("simulation %s failed", simulation_id)
        _end(simulation_id, counters, final=RunStatus.FAILED, error=str(exc) or type(exc).__name__)
    else:
        _end(simulation_id, counters, final=RunStatus.FINISHED)
    return Simulation.objects.get(pk=simulation_id)


def _end(simulation_id: int, counters: Counters, *, final: str, error: str = "") -> None:
    """Close the row: ``stopped`` when a stop was asked, else ``final``; a reaped run is left as it is.

    Tried a few times: a run left ``running`` by one failed write would block new runs until it looks dead.
    """
    cache.delete(simulation_heartbeat_key(simulation_id))
    fields = {**counters.as_dict(), "active": None, "finished_at": timezone.now(), "error": error}
    for attempt in range(END_ATTEMPTS):
        try:
            with transaction.atomic():
                stopped = Simulation.objects.filter(pk=simulation_id, status=RunStatus.STOPPING)
                if not stopped.update(status=RunStatus.STOPPED, **fields):
                    Simulation.objects.filter(pk=simulation_id, status=RunStatus.RUNNING).update(status=final, **fields)
            return
        except DatabaseError:
            if attempt == END_ATTEMPTS - 1:
                raise
            logger.warning("simulation %s: could not record its end; trying again", simulation_id, exc_info=True)
            time.sleep(0.5)
