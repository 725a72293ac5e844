"""``make serve`` end to end: the production profile's real processes, driven over HTTP and a WebSocket.

``python -m leaderboard_project.serve`` (what ``make serve`` runs once the venv is set up) starts
gunicorn, uvicorn, a Celery worker and Celery beat under honcho, against the test database and the
test Redis. A player registers over HTTP, a WebSocket client on the ASGI server sees their score,
and a short tournament is started, finished and paid by beat and the worker alone.

Before any of that, serve creates the database ``DATABASE_URL`` names when the server has none (tested on
the test PostgreSQL's server, with a database of the test's own that it drops afterwards).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.utils import timezone
from psycopg import sql
from websockets.sync.client import ClientConnection, connect

from accounts.models import CreditEntry
from accounts.services import CreditGrant, credits_grant
from games.tests.factories import GameFactory
from leaderboard_project import serve
from leaderboard_project.tests.browser import _page_fixture
from leaderboard_project.tests.profile import call
from realtime.tests.servers import PROJECT, _wait_for_sessions_to_end, environment, free_port
from tournaments.models import Status, Tournament

START_SECONDS = 180.0  # migrate (nothing to do) and collectstatic come first


@dataclass
class Served:
    web: int
    ws: int
    worker_metrics: int
    process: subprocess.Popen
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web}{path}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return True
    except OSError:
        return False


def _stop(process: subprocess.Popen) -> int:
    """Ctrl-C, as a person at the terminal would: honcho stops every process it runs."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def _alive_in_group(pgid: int) -> list[int]:
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    alive.append(int(entry.name))
            except ProcessLookupError:
                pass
    return alive


@pytest.fixture
def served(transactional_db, tmp_path) -> Iterator[Served]:
    web, ws, worker_metrics = free_port(), free_port(), free_port()
    env = environment(
        WEB_HOST="127.0.0.1",
        WEB_PORT=str(web),
        WS_PORT=str(ws),
        WEB_WORKERS="1",
        WORKER_CONCURRENCY="1",
        TOURNAMENT_TICK_SECONDS="1",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        CELERY_BEAT_SCHEDULE=str(tmp_path / "celerybeat-schedule"),
        LOG_LEVEL="INFO",
        CELERY_METRICS_PORT=str(worker_metrics),
    )
    for name in ("PORT", "PAGES_WEBSOCKET_URL", "STRESS_WS_URL", "JOBS_IN_PROCESS", "SIMULATION_IN_PROCESS"):
        env.pop(name, None)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "leaderboard_project.serve"],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Served(web=web, ws=ws, worker_metrics=worker_metrics, process=process, log=log)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not (_up(web) and _up(ws)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"make serve did not come up:\n{running.output()[-3000:]}")
            time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            _stop(process)
        _wait_for_sessions_to_end()


@pytest.fixture
def tab(request, browser):
    """A browser tab on the served site (not the in-process ``site`` of the other page tests)."""
    yield from _page_fixture(request, browser, 1280, 900)


def _events(client: ClientConnection) -> Iterator[dict[str, Any]]:
    """Every event the client receives, ``batch`` frames opened up."""
    while True:
        frame = json.loads(client.recv(timeout=1))
        yield from frame["events"] if frame.get("type") == "batch" else [frame]


def _wait_for(client: ClientConnection, match: Callable[[dict[str, Any]], bool], seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    seen = []
    while time.monotonic() < deadline:
        try:
            for event in _events(client):
                seen.append(event.get("type"))
                if match(event):
                    return event
                if time.monotonic() > deadline:
                    break
        except TimeoutError:
            continue
    raise AssertionError(f"no matching event within {seconds} s; saw {seen[-20:]}")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_make_serve_runs_the_whole_production_profile_until_ctrl_c(served, tab):
    game = GameFactory(name="Serve Smoke")

    status, registered = call(
        served.web, "POST", "/api/v1/users/register", {"username": "smoke", "email": "s@x.io", "password": "k8#vRt2!q"}
    )
    assert status == 201, registered
    token = registered["access"]

    with connect(f"ws://127.0.0.1:{served.ws}/ws/main", open_timeout=10) as client:
        client.send(json.dumps({"type": "subscribe", "channels": [f"leaderboard.{game.pk}", "tournament"]}))
        _wait_for(client, lambda e: e["type"] == "leaderboard.snapshot", 10)

        # The dashboard, rendered by gunicorn, goes live on uvicorn's port (PAGES_WEBSOCKET_URL=:port/ws/main).
        tab.goto(served.url("/"))
        tab.wait_for_selector('html[data-live="live"]', state="attached", timeout=15_000)

        # A score over HTTP (gunicorn) reaches the WebSocket client of uvicorn, and the open dashboard.
        status, submitted = call(served.web, "POST", "/api/v1/scores", {"game_id": str(game.pk), "score": 4321}, token)
        assert status == 201, submitted
        event = _wait_for(client, lambda e: e["type"] == "score.submitted", 10)
        assert event["data"]["score"] == 4321 and event["data"]["username"] == "smoke"
        tab.wait_for_selector(f'[data-feed] [data-score-id="{submitted["score"]["id"]}"]', timeout=5_000)

        # A short tournament: beat's clock and the worker start it, finish it and pay it; nothing here drives it.
        # Its organizer, a player, pays the pool from credits a staff member granted.
        credits_grant(
            grants=[
                CreditGrant(
                    user_id=uuid.UUID(registered["user"]["id"]),
                    amount=100,
                    reference="smoke:welcome",
                    kind=CreditEntry.Kind.ADJUSTMENT,
                )
            ]
        )
        start = timezone.now() + timedelta(seconds=3)
        status, cup = call(
            served.web,
            "POST",
            "/api/v1/tournaments",
            {
                "name": "Smoke Cup",
                "game_id": str(game.pk),
                "prize_pool": 100,
                "start_time": start.isoformat(),
                "end_time": (start + timedelta(seconds=4)).isoformat(),
            },
            token,
        )
        assert status == 201, cup
        assert call(served.web, "POST", f"/api/v1/tournaments/{cup['id']}/join", token=token)[0] == 201
        _wait_for(client, lambda e: e["type"] == "tournament.started" and e["data"]["tournament_id"] == cup["id"], 30)
        status, _ = call(served.web, "POST", "/api/v1/scores", {"game_id": str(game.pk), "score": 50}, token)
        assert status == 201
        _wait_for(client, lambda e: e["type"] == "tournament.paid" and e["data"]["tournament_id"] == cup["id"], 45)

    # The metrics of every process add up: /metrics of gunicorn (one multiprocess directory for all) and the
    # worker's own endpoint both count the payout the worker made and the worker's tasks.
    for url in (served.url("/metrics"), f"http://127.0.0.1:{served.worker_metrics}/metrics"):
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        assert "podium_prizes_paid_total 1.0" in text, url
        assert 'podium_celery_tasks_total{outcome="success",task="tournaments.tasks.tournaments_tick"}' in text, url
        scores = f'podium_scores_submitted_total{{game="{game.slug}",source="client"}} 2.0'
        assert scores in text, [line for line in text.splitlines() if "scores_submitted" in line]

    tournament = Tournament.objects.get(pk=cup["id"])
    assert tournament.status == Status.PAID
    prize = CreditEntry.objects.get(reference=f"tournament:{tournament.pk}:prize")
    assert (str(prize.user_id), prize.amount) == (registered["user"]["id"], 50)

    # Ctrl-C stops them all (the tab leaves first, or it would log its reconnection attempts as errors).
    tab.goto("about:blank")
    pgid = served.process.pid
    _stop(served.process)
    deadline = time.monotonic() + 10
    while _alive_in_group(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive_in_group(pgid) == []
    output = served.output()
    for name in ("web", "ws", "worker", "beat"):
        assert f"{name}.1 stopped" in output, output[-3000:]
    assert "Traceback" not in output


def test_make_serve_refuses_to_start_without_postgres_and_redis():
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "leaderboard_project.serve"], cwd=PROJECT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "needs DATABASE_URL and REDIS_URL" in result.stderr

    with pytest.raises(serve.ServeError, match="needs DATABASE_URL and REDIS_URL"):
        serve.check_required({})
    with pytest.raises(serve.ServeError, match="needs REDIS_URL"):
        serve.check_required({"DATABASE_URL": "postgres://x@127.0.0.1/podium"})
    with pytest.raises(serve.ServeError, match="needs PostgreSQL"):
        serve.check_required({"DATABASE_URL": "sqlite:///x.db", "REDIS_URL": "redis://127.0.0.1:6379/0"})


def _server_url(database: str, user: str | None = None) -> str:
    """A URL for ``database`` on the test database's PostgreSQL server."""
    db = settings.DATABASES["default"]
    user = quote(user or db["USER"], safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{quote(database, safe='')}"


def _maintenance() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        dbname="postgres",
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db.get("PASSWORD") or None,
        autocommit=True,
    )


def _database_exists(name: str) -> bool:
    with _maintenance() as connection:
        return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


@pytest.fixture
def new_database_name() -> Iterator[str]:
    """A database name no server has, one that SQL must quote; dropped after the test if it was created."""
    name = f'podium serve "{uuid.uuid4().hex[:8]}"'
    yield name
    with _maintenance() as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


class Migrating(Exception):
    """Raised by the test's stand-in for ``manage.py migrate``, so that nothing after it runs."""


@pytest.mark.postgres
def test_make_serve_creates_a_missing_database_before_it_migrates(new_database_name, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", _server_url(new_database_name))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("SECRET_KEY", "test-only-" + "k" * 50)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    monkeypatch.setattr(serve, "_check_redis", lambda url: None)

    def manage(env, *args):
        raise Migrating(args, _database_exists(new_database_name))

    monkeypatch.setattr(serve, "_manage", manage)

    with pytest.raises(Migrating) as migrating:
        serve.main([])

    assert migrating.value.args == (("migrate", "--noinput"), True)
    assert capsys.readouterr().out == f'PostgreSQL has no database "{new_database_name}" yet; creating it\n'
    serve.ensure_database(_server_url(new_database_name))  # the next start finds it: nothing to say
    assert capsys.readouterr().out == ""


@pytest.mark.postgres
def test_make_serve_says_what_to_do_when_the_role_may_not_create_the_database(new_database_name):
    role = f"podium_serve_{uuid.uuid4().hex[:8]}"
    with _maintenance() as connection:
        connection.execute(sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB").format(sql.Identifier(role)))
    try:
        with pytest.raises(serve.ServeError, match=f"the role {role} may not create databases") as refused:
            serve.ensure_database(_server_url(new_database_name, user=role))
        assert f'ALTER ROLE "{role}" CREATEDB' in str(refused.value)
        assert not _database_exists(new_database_name)
    finally:
        with _maintenance() as connection:
            connection.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_make_serve_says_so_when_postgresql_does_not_answer():
    with pytest.raises(serve.ServeError, match="cannot connect to PostgreSQL .*Start it, or fix DATABASE_URL"):
        serve.ensure_database(f"postgres://postgres@127.0.0.1:{free_port()}/podium")
