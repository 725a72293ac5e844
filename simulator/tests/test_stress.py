"""Stress tests: the API (staff only, bounds, one at a time), the runner's dispatch, and real locust runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.servers.basehttp import WSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from django.utils import timezone

from accounts.tests.factories import UserFactory
from games.models import Game
from games.tests.factories import GameFactory
from rankings.models import Standing
from scores.models import Score
from scores.services import score_submit
from simulator.models import RunStatus, StressTest
from simulator.services import stress
from tournaments.models import Participant, Tournament
from tournaments.services import tournament_join
from tournaments.tests.factories import TournamentFactory

URL = "/api/v1/simulator/stress-tests"
VALID = {"concurrent_users": 5, "actions_per_second": 10, "duration": 30}
PROJECT = Path(settings.BASE_DIR)


@pytest.fixture
def no_dispatch(monkeypatch):
    """Record the runs handed to a runner instead of starting locust."""
    started: list[int] = []
    monkeypatch.setattr(stress, "_dispatch", started.append)
    return started


# --- the API ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_start_returns_202_with_the_run_and_hands_it_to_a_runner(
    staff, client_for, no_dispatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(staff).post(URL, VALID, format="json")

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert (body["concurrent_users"], body["actions_per_second"], body["duration"]) == (5, 10, 30)
    assert body["target"] == "http://testserver"
    assert body["started_by"] == str(staff.pk)
    assert no_dispatch == [body["id"]]


@pytest.mark.django_db
def test_the_target_is_the_stress_target_url_setting_when_set(staff, client_for, no_dispatch, settings):
    settings.STRESS_TARGET_URL = "http://127.0.0.1:9000"
    response = client_for(staff).post(URL, VALID, format="json")
    assert response.json()["target"] == "http://127.0.0.1:9000"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("concurrent_users", 0),
        ("concurrent_users", 1001),
        ("actions_per_second", 0),
        ("actions_per_second", 1001),
        ("duration", 9),
        ("duration", 601),
        ("duration", "soon"),
    ],
)
def test_start_returns_400_for_a_parameter_out_of_bounds(staff, client_for, no_dispatch, field, value):
    response = client_for(staff).post(URL, {**VALID, field: value}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert list(response.json()["error"]["fields"]) == [field]
    assert not StressTest.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), [("concurrent_users", 1), ("concurrent_users", 1000), ("duration", 600)])
def test_start_accepts_the_bounds_themselves(staff, client_for, no_dispatch, field, value):
    assert client_for(staff).post(URL, {**VALID, field: value}, format="json").status_code == 202


@pytest.mark.django_db
def test_start_returns_400_for_a_missing_or_unknown_field(staff, client_for, no_dispatch):
    missing = client_for(staff).post(URL, {"concurrent_users": 5, "duration": 30}, format="json")
    unknown = client_for(staff).post(URL, {**VALID, "target": "http://example.com"}, format="json")
    assert list(missing.json()["error"]["fields"]) == ["actions_per_second"]
    assert list(unknown.json()["error"]["fields"]) == ["target"]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), [("get", URL), ("post", URL), ("get", f"{URL}/1"), ("delete", f"{URL}/1")])
def test_anonymous_callers_get_401(api_client, method, path):
    response = getattr(api_client, method)(path, VALID if method == "post" else None, format="json")
    assert response.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), [("get", URL), ("post", URL), ("get", f"{URL}/1"), ("delete", f"{URL}/1")])
def test_players_who_are_not_staff_get_403(user, client_for, method, path):
    response = getattr(client_for(user), method)(path, VALID if method == "post" else None, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
def test_start_returns_409_while_another_run_is_active(staff, client_for, no_dispatch):
    running = StressTest.objects.create(
        concurrent_users=1, actions_per_second=1, duration=10, status=RunStatus.RUNNING, started_at=timezone.now()
    )
    response = client_for(staff).post(URL, VALID, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "stress_test_running"
    assert str(running.pk) in response.json()["error"]["message"]


@pytest.mark.django_db
def test_a_run_that_stopped_reporting_does_not_block_a_new_one(staff, client_for, no_dispatch):
    long_ago = timezone.now() - timedelta(seconds=stress.STALE_SECONDS + 5)
    dead = StressTest.objects.create(
        concurrent_users=1,
        actions_per_second=1,
        duration=10,
        status=RunStatus.RUNNING,
        created_at=long_ago,
        started_at=long_ago,
        report={"updated_at": long_ago.isoformat()},
    )
    response = client_for(staff).post(URL, VALID, format="json")
    assert response.status_code == 202
    dead.refresh_from_db()
    assert (dead.status, dead.active) == (RunStatus.FAILED, None)
    assert dead.error == stress.DEAD_MESSAGE


@pytest.mark.django_db
def test_a_run_that_reported_recently_is_alive(staff):
    long_ago = timezone.now() - timedelta(minutes=5)
    run = StressTest.objects.create(
        concurrent_users=1,
        actions_per_second=1,
        duration=600,
        status=RunStatus.RUNNING,
        created_at=long_ago,
        started_at=long_ago,
        report={"updated_at": timezone.now().isoformat()},
    )
    assert stress.stress_tests_reap() == 0
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING


@pytest.mark.django_db
def test_list_returns_past_runs_newest_first_paginated(staff, client_for):
    for status in (RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.FAILED):
        StressTest.objects.create(concurrent_users=1, actions_per_second=1, duration=10, status=status, active=None)
    body = client_for(staff).get(f"{URL}?limit=2").json()
    assert body["count"] == 3
    assert [run["status"] for run in body["results"]] == ["failed", "stopped"]
    assert body["next"]


@pytest.mark.django_db
def test_get_returns_the_stored_report_and_404_for_an_unknown_id(staff, client_for):
    run = StressTest.objects.create(
        concurrent_users=1,
        actions_per_second=1,
        duration=10,
        status=RunStatus.FINISHED,
        active=None,
        report={"requests": 12, "failures": 0},
    )
    client = client_for(staff)
    assert client.get(f"{URL}/{run.pk}").json()["report"] == {"requests": 12, "failures": 0}
    missing = client.get(f"{URL}/{run.pk + 1}")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.django_db
def test_delete_stops_a_pending_run_at_once(staff, client_for):
    run = StressTest.objects.create(concurrent_users=1, actions_per_second=1, duration=10)
    response = client_for(staff).delete(f"{URL}/{run.pk}")
    assert (response.status_code, response.json()["status"]) == (200, "stopped")
    run.refresh_from_db()
    assert run.active is None and run.finished_at is not None


@pytest.mark.django_db
def test_delete_of_a_run_whose_runner_died_ends_it_stopped(staff, client_for):
    long_ago = timezone.now() - timedelta(minutes=5)
    run = StressTest.objects.create(
        concurrent_users=1,
        actions_per_second=1,
        duration=10,
        status=RunStatus.RUNNING,
        created_at=long_ago,
        started_at=long_ago,
    )
    response = client_for(staff).delete(f"{URL}/{run.pk}")
    assert response.json()["status"] == "stopped"
    assert response.json()["error"] == stress.DEAD_MESSAGE


@pytest.mark.django_db
def test_delete_of_a_finished_run_changes_nothing(staff, client_for):
    run = StressTest.objects.create(
        concurrent_users=1, actions_per_second=1, duration=10, status=RunStatus.FINISHED, active=None
    )
    response = client_for(staff).delete(f"{URL}/{run.pk}")
    assert (response.status_code, response.json()["status"]) == (200, "finished")


# --- dispatch and planning -------------------------------------------------------------


@pytest.mark.django_db
def test_without_a_broker_the_run_goes_to_a_daemon_thread_not_the_request(monkeypatch, settings):
    settings.SIMULATION_IN_PROCESS = True
    ran = threading.Event()
    seen: dict[str, object] = {}

    def fake_run(*, stress_test_id: int) -> None:
        seen.update(id=stress_test_id, thread=threading.current_thread())
        ran.set()

    monkeypatch.setattr(stress, "stress_test_run", fake_run)
    stress._dispatch(42)
    assert ran.wait(5)
    assert seen["id"] == 42
    assert seen["thread"] is not threading.main_thread() and seen["thread"].daemon


@pytest.mark.django_db
def test_with_a_broker_the_run_is_a_celery_task(monkeypatch, settings):
    from simulator.tasks import stress as tasks

    settings.SIMULATION_IN_PROCESS = False
    queued: list[int] = []
    monkeypatch.setattr(tasks.stress_test_run_task, "delay", queued.append)
    stress._dispatch(7)
    assert queued == [7]


@pytest.mark.parametrize(
    ("users", "actions", "players", "spectators", "throughput"),
    [(1, 5, 1, 0, 5.0), (3, 30, 2, 1, 15.0), (100, 1000, 90, 10, 1000 / 90), (1000, 1, 900, 100, 1 / 900)],
)
def test_plan_shares_the_actions_per_second_between_the_players(users, actions, players, spectators, throughput):
    plan = stress.locust_plan(concurrent_users=users, actions_per_second=actions)
    assert (plan["players"], plan["spectators"]) == (players, spectators)
    assert plan["throughput"] == pytest.approx(throughput)


@pytest.mark.django_db
def test_stress_players_are_created_once_and_reused():
    first = stress.stress_players(count=3)
    again = stress.stress_players(count=4)
    assert [player.username for player in first] == ["stress_0001", "stress_0002", "stress_0003"]
    assert {player.pk for player in first} < {player.pk for player in again}
    assert not any(player.has_usable_password() for player in again)


def test_importing_the_project_does_not_import_locust_or_gevent():
    code = (
        "import sys, django; django.setup(); import leaderboard_project.urls, simulator.tasks.stress; "
        "print(sorted(name for name in ('gevent', 'locust') if name in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leaderboard_project.settings"}
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, env=env, capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"


# --- real locust runs against a live server ----------------------------------------------


class _SerialServer(WSGIServer):
    def __init__(self, *args, connections_override=None, **kwargs):
        super().__init__(*args, **kwargs)


class _SerialServerThread(LiveServerThread):
    # One request at a time: with the embedded profile the server thread shares the test's in-memory SQLite
    # connection, and concurrent requests on one connection would interleave their transactions.
    server_class = _SerialServer


def _shared_connections() -> dict:
    return {conn.alias: conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()}


@pytest.fixture
def serial_live_server(transactional_db):
    """A live Django server on a free port, serving one request at a time; yields its URL."""
    shared = _shared_connections()
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread = _SerialServerThread("127.0.0.1", _StaticFilesHandler, connections_override=shared, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
    for conn in shared.values():
        conn.dec_thread_sharing()


def _in_thread_sharing_connections(target, *args) -> threading.Thread:
    shared = _shared_connections()

    def run() -> None:
        for alias, conn in shared.items():
            connections[alias] = conn
        target(*args)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, str, dict]]:
    events: list[tuple[str, str, dict]] = []
    monkeypatch.setattr(stress, "publish", lambda channel, type, data: events.append((channel, type, data)))
    return events


def real_boards() -> list[tuple]:
    """Every standing of a real board (a real game's, the global one, a real tournament's), and every real seat."""
    synthetic = [f"game.{pk}." for pk in Game.objects.filter(is_synthetic=True).values_list("pk", flat=True)]
    synthetic += [
        f"tournament.{pk}." for pk in Tournament.objects.filter(game__is_synthetic=True).values_list("pk", flat=True)
    ]
    rows = Standing.objects.order_by("board", "user_id").values_list("board", "user_id", "value", "reached_at")
    seats = Participant.objects.filter(tournament__game__is_synthetic=False).values_list("tournament_id", "user_id")
    return [row for row in rows if not row[0].startswith(tuple(synthetic))] + sorted(seats)


@pytest.fixture
def real_data(db):
    """A real game with a scored board and an open tournament: what a load run must leave exactly as it was."""
    game = GameFactory()
    players = UserFactory.create_batch(3)
    for value, player in enumerate(players, start=1):
        score_submit(user=player, game=game, value=value * 100)
    now = timezone.now()
    tournament = TournamentFactory(game=game, start_time=now + timedelta(hours=1), end_time=now + timedelta(hours=2))
    tournament_join(tournament=tournament, user=players[0])
    return real_boards()


def test_a_real_run_stores_its_report_and_publishes_live_figures(serial_live_server, published, real_data):
    GameFactory(synthetic=True), GameFactory(synthetic=True)
    run = StressTest.objects.create(concurrent_users=3, actions_per_second=20, duration=4, target=serial_live_server)

    # The live server serves no WebSocket: players only.
    result = stress.stress_test_run(stress_test_id=run.pk, spectators=0)

    assert (result.status, result.active, result.error) == (RunStatus.FINISHED, None, "")
    report = result.report
    assert report["requests"] > 0
    assert report["partial"] is False
    assert report["plan"] == {"players": 3, "spectators": 0, "throughput": pytest.approx(20 / 3)}
    scores = [entry for entry in report["endpoints"] if f"{entry['method']} {entry['name']}" == "POST /api/v1/scores"]
    assert scores and scores[0]["requests"] > 0 and scores[0]["failures"] == 0
    types = [type for channel, type, _ in published if channel == "stress"]
    assert types[0] == "stress.started" and types[-1] == "stress.finished"
    progress = [data for _, type, data in published if type == "stress.progress"]
    assert progress and progress[-1]["id"] == run.pk
    assert {"users", "requests", "failures", "rps", "p50_ms", "p95_ms"} <= progress[-1].keys()
    assert published[-1][2]["report"]["requests"] == report["requests"]
    assert Score.objects.filter(game__is_synthetic=True, user__username__startswith="stress_").exists()
    assert real_boards() == real_data


def test_stopping_a_real_run_terminates_locust_and_keeps_the_partial_report(serial_live_server, published):
    GameFactory(synthetic=True)
    run = StressTest.objects.create(concurrent_users=2, actions_per_second=10, duration=60, target=serial_live_server)
    stopped: list[StressTest] = []

    def stop_once_it_reports() -> None:
        deadline = time.monotonic() + 30
        while not any(type == "stress.progress" and data["requests"] for _, type, data in published):
            if time.monotonic() > deadline:
                return
            time.sleep(0.2)
        stopped.append(stress.stress_test_stop(stress_test=StressTest.objects.get(pk=run.pk), wait=0))

    # The runner works in this thread (it shares the in-memory database with the server); the stop comes from another.
    stopper = _in_thread_sharing_connections(stop_once_it_reports)
    started = time.monotonic()
    result = stress.stress_test_run(stress_test_id=run.pk)
    stopper.join(5)

    assert stopped, "the run never reported progress"
    assert time.monotonic() - started < 40  # long before its 60 s
    assert (result.status, result.active) == (RunStatus.STOPPED, None)
    assert result.report["partial"] is True
    assert result.report["requests"] > 0
    assert published[-1][1] == "stress.finished" and published[-1][2]["status"] == "stopped"


def test_the_locustfile_runs_headless_from_the_command_line_on_synthetic_players(
    serial_live_server, tmp_path, real_data
):
    credentials = tmp_path / "players.json"
    call_command("synthetic_players", "2", "--output", str(credentials), stdout=StringIO())
    env = {
        **os.environ,
        "PODIUM_STRESS_REPORT": "1",
        "PODIUM_STRESS_SPECTATORS": "0",
        "PODIUM_STRESS_CREDENTIALS": str(credentials),
        # A steady five tasks a second each: with the default pauses of 0.5 to 2 s, two players sometimes drew
        # no submission at all in the three seconds.
        "PODIUM_STRESS_THROUGHPUT": "5",
    }
    output = subprocess.run(
        locust_command(serial_live_server), cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )
    assert output.returncode == 0, output.stderr[-2000:]
    lines = [
        json.loads(line[len(stress.REPORT_PREFIX) :])
        for line in output.stdout.splitlines()
        if line.startswith(stress.REPORT_PREFIX)
    ]
    report = lines[-1]
    assert report["kind"] == "report" and report["requests"] > 0
    scores = [entry for entry in report["endpoints"] if entry["name"] == "/api/v1/scores"]
    assert scores and scores[0]["requests"] > 0 and scores[0]["failures"] == 0
    assert Score.objects.filter(user__username__startswith="load_", game__is_synthetic=True).exists()
    assert real_boards() == real_data


def test_the_locustfile_refuses_to_start_without_synthetic_players():
    env = {key: value for key, value in os.environ.items() if key != "PODIUM_STRESS_CREDENTIALS"}
    output = subprocess.run(
        locust_command("http://127.0.0.1:9"), cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )
    assert output.returncode != 0
    assert "synthetic_players" in output.stderr


def locust_command(host: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        "locustfile.py",
        "--headless",
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "3s",
        "--host",
        host,
        "--exit-code-on-error",
        "0",
        "--only-summary",
        "Player",
    ]
