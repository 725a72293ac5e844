"""Background simulations over the API: staff only, one at a time, counters, stop, crash recovery, a real worker."""

import threading
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import IntegrityError
from django.utils import timezone

from games.tests.factories import GameFactory
from scores.models import Score, Source
from simulator import selectors
from simulator.models import RunStatus, Simulation
from simulator.services import simulations as services

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/simulator/simulations"


@pytest.fixture(autouse=True)
def _runs_in_process(settings):
    """Runs start in a thread of this process, as embedded, whether or not a broker is configured
    (the worker test below sends one through the broker); every run is over before the next test."""
    settings.SIMULATION_IN_PROCESS = True
    yield
    for simulation in Simulation.objects.filter(active=True):
        services.simulation_stop(simulation=simulation)
    for thread in threading.enumerate():
        if thread.name.startswith("podium-simulation-"):
            thread.join(timeout=10)


@pytest.fixture
def games(db):
    return [
        GameFactory(synthetic=True, sort_order="desc"),
        GameFactory(synthetic=True, sort_order="asc", min_score=1000, max_score=9000),
    ]


@pytest.fixture
def staff_client(staff, client_for):
    return client_for(staff)


def wait_for(simulation_id, statuses, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        simulation = Simulation.objects.get(pk=simulation_id)
        if simulation.status in statuses:
            return simulation
        time.sleep(0.05)
    raise AssertionError(f"simulation {simulation_id} is still {simulation.status}")


def test_anonymous_callers_get_401(api_client):
    assert api_client.get(URL).status_code == 401
    response = api_client.post(URL, {"players": 10, "rate": 1, "duration": 1})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_players_who_are_not_staff_get_403(user, client_for):
    client = client_for(user)

    assert client.get(URL).status_code == 403
    response = client.post(URL, {"players": 10, "rate": 1, "duration": 1})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Simulation.objects.exists()


def test_a_start_returns_202_and_the_run_finishes_with_its_counters(staff, staff_client, games):
    response = staff_client.post(URL, {"players": 10, "rate": 10, "duration": 1})

    assert response.status_code == 202
    body = response.json()
    assert body["status"] in ("pending", "running")
    assert (body["players"], body["rate"], body["duration"], body["started_by"]) == (10, 10.0, 1, str(staff.pk))
    wait_for(body["id"], {RunStatus.FINISHED})
    done = staff_client.get(f"{URL}/{body['id']}").json()
    assert done["status"] == "finished"
    assert 7 <= done["scores_submitted"] <= 11
    assert done["scores_submitted"] == Score.objects.filter(source=Source.SIMULATOR).count()
    assert done["errors"] == 0 and done["error"] == ""
    assert done["started_at"] and done["finished_at"] and done["started_at"] < done["finished_at"]


def test_counters_are_written_while_the_run_goes_on(staff_client, games):
    simulation_id = staff_client.post(URL, {"players": 10, "rate": 10, "duration": 30}).json()["id"]
    wait_for(simulation_id, {RunStatus.RUNNING})
    time.sleep(2.2)

    body = staff_client.get(f"{URL}/{simulation_id}").json()

    assert body["status"] == "running"
    assert body["scores_submitted"] >= 10


def test_a_second_start_is_409_while_one_runs(staff_client, games):
    first = staff_client.post(URL, {"players": 10, "rate": 1, "duration": 30}).json()

    response = staff_client.post(URL, {"players": 10, "rate": 1, "duration": 30})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "simulation_running"
    assert str(first["id"]) in response.json()["error"]["message"]
    assert Simulation.objects.count() == 1


def test_the_database_refuses_a_second_active_run(staff):
    Simulation.objects.create(players=1, rate=1, duration=1)

    with pytest.raises(IntegrityError):
        Simulation.objects.create(players=1, rate=1, duration=1)


def test_delete_stops_the_run_within_a_second(staff_client, games):
    simulation_id = staff_client.post(URL, {"players": 10, "rate": 5, "duration": 600}).json()["id"]
    wait_for(simulation_id, {RunStatus.RUNNING})

    response = staff_client.delete(f"{URL}/{simulation_id}")

    assert response.status_code == 202
    assert response.json()["status"] == "stopping"
    stopped = wait_for(simulation_id, {RunStatus.STOPPED, RunStatus.FINISHED, RunStatus.FAILED}, timeout=2.0)
    assert stopped.status == RunStatus.STOPPED and stopped.active is None and stopped.finished_at
    assert staff_client.delete(f"{URL}/{simulation_id}").status_code == 200  # already over
    assert staff_client.post(URL, {"players": 10, "rate": 1, "duration": 1}).status_code == 202


def test_a_run_stopped_before_it_started_never_runs(staff):
    simulation = Simulation.objects.create(players=1, rate=1, duration=1)

    services.simulation_stop(simulation=simulation)

    assert simulation.status == RunStatus.STOPPED and simulation.active is None
    assert services.simulation_run(simulation_id=simulation.pk) is None
    assert not Score.objects.exists()


def test_a_run_that_stopped_reporting_is_failed_and_a_new_one_may_start(staff_client, games):
    long_ago = timezone.now() - timedelta(minutes=5)
    dead = Simulation.objects.create(
        players=10, rate=1, duration=600, status=RunStatus.RUNNING, created_at=long_ago, started_at=long_ago
    )

    response = staff_client.post(URL, {"players": 10, "rate": 1, "duration": 1})

    assert response.status_code == 202
    dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED and dead.active is None and "stopped reporting" in dead.error


def test_a_live_run_is_not_taken_for_dead(staff_client, games, monkeypatch):
    monkeypatch.setattr(selectors, "SIMULATION_STALE_SECONDS", 1.5)
    simulation_id = staff_client.post(URL, {"players": 10, "rate": 2, "duration": 30}).json()["id"]
    wait_for(simulation_id, {RunStatus.RUNNING})
    time.sleep(2.5)  # older than SIMULATION_STALE_SECONDS: only its heartbeats keep it alive

    assert staff_client.post(URL, {"players": 10, "rate": 1, "duration": 1}).status_code == 409
    assert Simulation.objects.get(pk=simulation_id).status == RunStatus.RUNNING


@pytest.mark.parametrize(
    "body, field",
    [
        ({"players": 0, "rate": 1, "duration": 1}, "players"),
        ({"players": 10_001, "rate": 1, "duration": 1}, "players"),
        ({"players": "many", "rate": 1, "duration": 1}, "players"),
        ({"players": 10, "rate": 0.05, "duration": 1}, "rate"),
        ({"players": 10, "rate": 501, "duration": 1}, "rate"),
        ({"players": 10, "rate": 1, "duration": 0}, "duration"),
        ({"players": 10, "rate": 1, "duration": 3601}, "duration"),
    ],
)
def test_out_of_bounds_parameters_are_400(staff_client, games, body, field):
    response = staff_client.post(URL, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["fields"]
    assert not Simulation.objects.exists()


def test_a_rate_the_players_cannot_carry_is_400(staff_client, games):
    response = staff_client.post(URL, {"players": 2, "rate": 10, "duration": 1})  # 2 x 2 pairs carry 3.2/s

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "rate_too_high"
    assert "rate" in response.json()["error"]["fields"]


def test_the_list_is_paginated_newest_first(staff_client):
    for _ in range(3):
        Simulation.objects.create(players=1, rate=1, duration=1, status=RunStatus.FINISHED, active=None)

    body = staff_client.get(URL, {"limit": 2}).json()

    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert body["results"][0]["id"] > body["results"][1]["id"]


def test_an_unknown_simulation_is_404(staff_client):
    assert staff_client.get(f"{URL}/999").status_code == 404
    assert staff_client.delete(f"{URL}/999").json()["error"]["code"] == "not_found"


@pytest.mark.postgres
@pytest.mark.redis
def test_without_the_in_process_setting_a_celery_worker_runs_it(staff_client, games, settings):
    from leaderboard_project.celery import app

    settings.SIMULATION_IN_PROCESS = False
    assert not app.conf.task_always_eager
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        simulation_id = staff_client.post(URL, {"players": 10, "rate": 10, "duration": 1}).json()["id"]
        done = wait_for(simulation_id, {RunStatus.FINISHED, RunStatus.FAILED}, timeout=30)

    assert done.status == RunStatus.FINISHED
    assert done.scores_submitted >= 7
