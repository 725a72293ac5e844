"""Removing everything load runs wrote: synthetic players and games, with every score, standing and tournament."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from common.errors import Conflict
from games.models import Game

from ..models import Simulation, StressTest
from .cleanup import Progress, data_delete, data_lock
from .simulations import simulations_reap
from .stress import stress_tests_reap
from .synthetic import SyntheticSummary, synthetic_summary


class LoadRunning(Conflict):
    code = "load_running"
    message = "A simulation or stress test is running; stop it before removing what load runs wrote."


def synthetic_delete(*, progress: Progress | None = None) -> SyntheticSummary:
    """Remove every synthetic player and game with all they wrote (``cleanup.data_delete``); returns what was removed.

    409 ``load_running`` while a simulation or stress test runs: it would write again at once. The run reports
    themselves (simulations, stress tests) are kept.
    """
    simulations_reap()
    stress_tests_reap()
    with transaction.atomic():
        data_lock()
        if Simulation.objects.filter(active=True).exists() or StressTest.objects.filter(active=True).exists():
            raise LoadRunning()
        removed = synthetic_summary()
        if not removed.empty:
            data_delete(
                games=list(Game.objects.filter(is_synthetic=True)),
                players=User.objects.filter(is_synthetic=True),
                progress=progress,
            )
    return removed
