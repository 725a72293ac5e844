"""A background simulation, run as in embedded mode (a thread of the server), reaches /ws/main subscribers."""

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async

from games.tests.factories import GameFactory
from simulator.models import Simulation
from simulator.services import simulations

from .conftest import connect, events, run, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _in_process(settings):
    settings.SIMULATION_IN_PROCESS = True
    yield
    for simulation in Simulation.objects.filter(active=True):
        simulations.simulation_stop(simulation=simulation)
    for thread in threading.enumerate():
        if thread.name.startswith("podium-simulation-"):
            thread.join(timeout=10)


def test_simulated_scores_are_published_as_score_submitted(staff):
    game = GameFactory(synthetic=True, slug="arena")
    start = database_sync_to_async(simulations.simulation_start)

    async def scenario():
        client = await connect()
        await subscribe(client, "score", f"leaderboard.{game.pk}")
        await start(players=20, rate=10, duration=2, started_by=staff)
        seen = []
        deadline = asyncio.get_running_loop().time() + 10
        while sum(e["type"] == "score.submitted" and e["channel"] == "score" for e in seen) < 10:
            assert asyncio.get_running_loop().time() < deadline, seen
            seen += await events(client, 1)
        await client.disconnect()
        return seen

    seen = run(scenario)

    scores = [e for e in seen if e["type"] == "score.submitted" and e["channel"] == "score"]
    assert {e["data"]["source"] for e in scores} == {"simulator"}
    assert {e["data"]["game_id"] for e in scores} == {str(game.pk)}
    assert all(e["data"]["username"].startswith("sim_") for e in scores)
    assert any(e["type"] == "leaderboard.updated" for e in seen)
