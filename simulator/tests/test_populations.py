"""Demo data in the background: one run at a time, idempotent, its progress, dispatch, and crash recovery."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import IntegrityError
from django.utils import timezone

from games.tests.factories import GameFactory
from simulator.models import DemoPopulation, RunStatus
from simulator.selectors import DEMO_MARK, POPULATION_STALE_SECONDS, demo_players, demo_summary, population_progress
from simulator.services import populations
from simulator.services.runs import DEAD_MESSAGE

SMALL = {"players": 30, "games": 2}


@pytest.fixture(autouse=True)
def _index(ranking_index):
    return ranking_index


@pytest.fixture
def no_dispatch(monkeypatch):
    """Record the runs handed to a runner instead of running them."""
    started: list[int] = []
    monkeypatch.setattr(populations, "_dispatch", started.append)
    return started


@pytest.mark.django_db
def test_start_records_a_pending_run_and_hands_it_to_a_runner_after_commit(
    staff, no_dispatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        population = populations.population_start(started_by=staff)

    assert (population.status, population.active, population.started_by) == (RunStatus.PENDING, True, staff)
    assert (population.players, population.games, population.scores) == (2_000, 4, None)
    assert no_dispatch == [population.pk]


@pytest.mark.django_db
def test_a_second_start_is_refused_while_one_runs(staff, no_dispatch):
    first = populations.population_start(started_by=staff)

    with pytest.raises(populations.PopulationRunning) as refused:
        populations.population_start(started_by=staff)

    assert refused.value.code == "population_running" and refused.value.status_code == 409
    assert str(first.pk) in refused.value.message
    assert DemoPopulation.objects.count() == 1


@pytest.mark.django_db
def test_the_database_refuses_a_second_active_run():
    DemoPopulation.objects.create(players=2, games=1)
    with pytest.raises(IntegrityError):
        DemoPopulation.objects.create(players=2, games=1)


@pytest.mark.django_db
def test_a_start_does_nothing_when_demo_data_exists(staff, no_dispatch):
    GameFactory(rules={"demo": DEMO_MARK})
    assert not demo_summary().empty

    with pytest.raises(populations.DemoDataExists) as refused:
        populations.population_start(started_by=staff)

    assert refused.value.code == "demo_data_exists"
    assert not DemoPopulation.objects.exists() and no_dispatch == []


@pytest.mark.django_db
def test_a_run_that_stopped_reporting_is_failed_and_does_not_block_a_new_one(staff, no_dispatch):
    long_ago = timezone.now() - timedelta(seconds=POPULATION_STALE_SECONDS + 5)
    dead = DemoPopulation.objects.create(
        players=30, games=2, status=RunStatus.RUNNING, created_at=long_ago, started_at=long_ago
    )

    fresh = populations.population_start(started_by=staff)

    dead.refresh_from_db()
    assert (dead.status, dead.active, dead.error) == (RunStatus.FAILED, None, DEAD_MESSAGE)
    assert fresh.active


@pytest.mark.django_db
def test_a_run_that_reports_progress_is_alive():
    long_ago = timezone.now() - timedelta(minutes=10)
    run = DemoPopulation.objects.create(
        players=30, games=2, status=RunStatus.RUNNING, created_at=long_ago, started_at=long_ago
    )
    populations._stamp(run.pk, "scores", 200, 600)

    assert populations.populations_reap() == 0
    progress = population_progress(run)
    assert {key: progress[key] for key in ("step", "done", "total")} == {"step": "scores", "done": 200, "total": 600}


@pytest.mark.django_db(transaction=True)
def test_a_run_creates_the_demo_data_and_records_what_exists(staff, monkeypatch):
    population = DemoPopulation.objects.create(started_by=staff, **SMALL)
    steps: list[str] = []
    original = populations._stamp

    def spy(population_id, step, done, total):
        steps.append(step)
        original(population_id, step, done, total)

    monkeypatch.setattr(populations, "_stamp", spy)
    done = populations.population_run(population_id=population.pk)

    assert (done.status, done.active, done.created, done.error) == (RunStatus.FINISHED, None, True, "")
    assert done.summary["players"] == demo_players().count() == 31  # 30 players and the organizer
    assert done.summary["games"] == 2 and done.summary["scores"] == 600
    assert done.seconds > 0 and done.started_at <= done.finished_at
    assert {"players", "scores", "tournaments"} <= set(steps)
    assert population_progress(done) is None  # over: no progress left behind
    assert populations.population_run(population_id=population.pk) is None  # a repeated delivery does nothing


@pytest.mark.django_db(transaction=True)
def test_a_run_that_finds_demo_data_changes_nothing(staff):
    first = DemoPopulation.objects.create(**SMALL)
    populations.population_run(population_id=first.pk)
    before = demo_summary()

    again = DemoPopulation.objects.create(**SMALL)
    done = populations.population_run(population_id=again.pk)

    assert (done.status, done.created) == (RunStatus.FINISHED, False)
    assert demo_summary() == before


@pytest.mark.django_db(transaction=True)
def test_a_run_that_fails_is_recorded_failed_and_leaves_no_demo_data(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(populations, "demo_populate", broken)
    population = DemoPopulation.objects.create(**SMALL)

    done = populations.population_run(population_id=population.pk)

    assert (done.status, done.active, done.error) == (RunStatus.FAILED, None, "the disk is full")
    assert demo_summary().empty


@pytest.mark.django_db
def test_without_a_broker_the_run_goes_to_a_daemon_thread(monkeypatch, settings):
    settings.SIMULATION_IN_PROCESS = True
    ran = threading.Event()
    seen: dict[str, object] = {}

    def fake_run(*, population_id: int) -> None:
        seen.update(id=population_id, thread=threading.current_thread())
        ran.set()

    monkeypatch.setattr(populations, "population_run", fake_run)
    populations._dispatch(42)
    assert ran.wait(5)
    assert seen["id"] == 42 and seen["thread"].daemon and seen["thread"] is not threading.main_thread()


@pytest.mark.django_db
def test_with_a_broker_the_run_is_a_celery_task(monkeypatch, settings):
    from simulator.tasks import populate as tasks

    settings.SIMULATION_IN_PROCESS = False
    queued: list[int] = []
    monkeypatch.setattr(tasks.population_run_task, "delay", queued.append)
    populations._dispatch(7)
    assert queued == [7]


@pytest.mark.django_db
def test_a_run_that_cannot_be_queued_ends_failed(monkeypatch, settings):
    from simulator.tasks import populate as tasks

    settings.SIMULATION_IN_PROCESS = False

    def down(population_id: int) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.population_run_task, "delay", down)
    population = DemoPopulation.objects.create(**SMALL)
    populations._dispatch(population.pk)
    population.refresh_from_db()
    assert (population.status, population.active) == (RunStatus.FAILED, None)
    assert "broker unreachable" in population.error


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_runs_it(staff, settings):
    from leaderboard_project.celery import app

    settings.SIMULATION_IN_PROCESS = False
    assert not app.conf.task_always_eager
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        population = populations.population_start(started_by=staff, **SMALL)
        deadline = time.monotonic() + 60
        while population.active and time.monotonic() < deadline:
            time.sleep(0.1)
            population.refresh_from_db()

    assert (population.status, population.created) == (RunStatus.FINISHED, True)
    assert population.summary["scores"] == 600
