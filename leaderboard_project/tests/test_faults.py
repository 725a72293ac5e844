"""Faults under the production profile's real processes: nothing acknowledged is lost, no 500, all heals.

Each test runs the ``Procfile``'s processes (granian, uvicorn, the Celery worker
and beat) against PostgreSQL and a private Redis, then breaks one piece while
load runs: Redis stopped in the middle of an ingest, a worker killed inside a
payout, PostgreSQL restarted, a WebSocket server killed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.utils import timezone
from websockets.sync.client import connect

from accounts.models import CreditEntry, User
from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from leaderboard_project.tests.profile import (
    PostgresServer,
    Profile,
    RedisClusterNodes,
    RedisServer,
    call,
    record,
    running,
    up,
    wait_until,
)
from rankings.boards import game_board_at
from rankings.periods import Period
from realtime.tests.servers import APP_NAME, PROJECT, _wait_for_sessions_to_end, environment, free_port
from scores.models import Score
from scores.services import score_submit
from tournaments import services
from tournaments.models import Status, Tournament, TournamentResult

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PASSWORD = "k8#vRt2!q-fault"


@pytest.fixture(scope="session")
def collected_static() -> None:
    """The pages' static files, collected once, as ``make serve`` does before it starts the processes."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=PROJECT,
        env=environment(),
        check=True,
        capture_output=True,
    )


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _profile(tmp_path, redis_url: str, **env: str) -> Profile:
    return Profile.configure(
        tmp_path,
        **environment(
            REDIS_URL=redis_url,
            WEB_PORT=str(free_port()),
            WS_PORT=str(free_port()),
            WEB_WORKERS="2",
            WORKER_CONCURRENCY="1",
            TOURNAMENT_TICK_SECONDS="1",
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
            CELERY_BEAT_SCHEDULE=str(tmp_path / "celerybeat-schedule"),
            **env,
        ),
    )


@pytest.fixture
def profile(tmp_path, redis_server, collected_static) -> Iterator[Profile]:
    with running(_profile(tmp_path, redis_server.url)) as started:
        yield started
    _wait_for_sessions_to_end()


def _start(profile: Profile, *names: str) -> None:
    for name in names:
        profile.start(name)
    web, ws = int(profile.env["WEB_PORT"]), int(profile.env["WS_PORT"])
    checks = {"web": lambda: up(web), "ws": lambda: up(ws)}
    for name in names:
        if name in checks:
            wait_until(checks[name], 60, lambda name=name: f"{name} serving\n{profile.logs()}")


def _players(port: int, count: int, prefix: str) -> list[str]:
    tokens = []
    for n in range(count):
        body = {"username": f"{prefix}{n}", "email": f"{prefix}{n}@x.io", "password": PASSWORD}
        status, registered = call(port, "POST", "/api/v1/users/register", body)
        assert status == 201, registered
        tokens.append(registered["access"])
    return tokens


@dataclass
class Ingest:
    """Scores POSTed at a steady rate by several players until stopped, every answer kept."""

    port: int
    game_id: str
    tokens: list[str]
    rate: float  # scores per second, all players together
    answers: list[tuple[float, int, Any]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, seconds: float) -> None:
        threads = [threading.Thread(target=self._player, args=(i, seconds)) for i in range(len(self.tokens))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _player(self, index: int, seconds: float) -> None:
        interval = len(self.tokens) / self.rate
        started = time.monotonic()
        n = 0
        while not self.stop.is_set():
            due = started + n * interval + index * interval / len(self.tokens)
            if due - started > seconds:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            value = 1000 + (index * 7919 + n * 104729) % 100_000
            status, body = call(
                self.port, "POST", "/api/v1/scores", {"game_id": self.game_id, "score": value}, self.tokens[index]
            )
            self.answers.append((time.monotonic() - started, status, body))
            n += 1

    def statuses(self) -> Counter:
        return Counter(status for _, status, _ in self.answers)

    def acknowledged(self) -> set[str]:
        return {str(body["score"]["id"]) for _, status, body in self.answers if 200 <= status < 300}


def _board(port: int, game_id: str) -> list[tuple[str, int, int]]:
    status, body = call(port, "GET", f"/api/v1/leaderboard/game/{game_id}?limit=100")
    assert status == 200, body
    return [(row["user_id"], row["rank"], row["value"]) for row in body["entries"]]


class Listener:
    """A WebSocket client whose frames a thread reads as they come, so the server never waits on it."""

    def __init__(self, port: int, channels: list[str]) -> None:
        self.client = connect(f"ws://127.0.0.1:{port}/ws/main", open_timeout=10)
        self.frames: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self.subscribe(channels)

    def _read(self) -> None:
        try:
            for raw in self.client:
                frame = json.loads(raw)
                self.frames.extend(frame["events"] if frame.get("type") == "batch" else [frame])
        except Exception:  # noqa: BLE001  the connection ended; what was read stays in ``frames``
            pass

    def subscribe(self, channels: list[str]) -> None:
        self.client.send(json.dumps({"type": "subscribe", "channels": channels}))

    def wait_for(self, match: Callable[[dict[str, Any]], bool], seconds: float, after: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for frame in self.frames[after:]:
                if match(frame):
                    return frame
            time.sleep(0.05)
        raise AssertionError(f"no matching frame within {seconds} s; saw {[f.get('type') for f in self.frames[-20:]]}")

    def close(self) -> None:
        self.client.close()


def _snapshot_top(frame: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(row["user_id"], row["rank"], row["value"]) for row in frame["data"]["top"]]


def test_redis_stopped_mid_ingest_loses_nothing_and_the_boards_heal(profile, redis_server):
    _start(profile, "web", "ws", "worker", "beat")
    web, ws = int(profile.env["WEB_PORT"]), int(profile.env["WS_PORT"])
    game = GameFactory(name="Fault Ingest")
    tokens = _players(web, 8, "ingest")
    user_ids = [str(pk) for pk in User.objects.filter(username__startswith="ingest").values_list("pk", flat=True)]
    board = f"leaderboard.{game.pk}"
    listener = Listener(ws, [board])
    listener.wait_for(lambda e: e["type"] == "leaderboard.snapshot", 10)

    ingest = Ingest(port=web, game_id=str(game.pk), tokens=tokens, rate=40.0)
    loader = threading.Thread(target=ingest.run, args=(30.0,))
    loader.start()
    reads: list[int] = []
    logins: list[int] = []
    try:
        time.sleep(8)
        redis_server.stop()  # SIGKILL: no goodbye, and it comes back empty
        down_at = time.monotonic()
        while time.monotonic() - down_at < 10:
            reads.append(call(web, "GET", f"/api/v1/leaderboard/game/{game.pk}?limit=10")[0])
            reads.append(call(web, "GET", f"/api/v1/leaderboard/game/{game.pk}/players/{user_ids[0]}")[0])
            login = {"username": "ingest0", "password": PASSWORD}
            logins.append(call(web, "POST", "/api/v1/users/login", login)[0])
            time.sleep(0.5)
        seen_before_return = len(listener.frames)
        redis_server.start()
    finally:
        loader.join()

    # Every score the API acknowledged is in PostgreSQL; nothing failed with anything but a clear 503.
    statuses = ingest.statuses()
    assert set(statuses) <= {201, 503}, statuses
    assert statuses[201] > 0
    acknowledged = ingest.acknowledged()
    stored = {str(pk) for pk in Score.objects.filter(game=game).values_list("pk", flat=True)}
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged scores are not in PostgreSQL"
    # Reads fell back to the database while Redis was away.
    assert set(reads) == {200}, Counter(reads)
    # Signing in needs its throttle's counters, in Redis: it is refused with a clear 503, never let through.
    assert set(logins) == {503}, Counter(logins)

    # The WebSocket server learned that it missed events and told its client, which re-syncs from a snapshot.
    dropped = listener.wait_for(lambda e: e["type"] == "dropped" and board in e["channels"], 30, seen_before_return)
    assert dropped["count"] is None

    # The boards heal: the heal task alone rebuilds the index, which then equals what rebuild_rankings gives.
    wait_until(lambda: call(web, "GET", "/readyz")[1]["status"] == "ok", 60, f"heal: {call(web, 'GET', '/readyz')}")
    healed = _board(web, str(game.pk))
    assert len(healed) == 8
    check = subprocess.run(
        [sys.executable, "manage.py", "check_rankings"], cwd=PROJECT, env=profile.env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    rebuild = [sys.executable, "manage.py", "rebuild_rankings"]
    subprocess.run(rebuild, cwd=PROJECT, env=profile.env, check=True, capture_output=True)
    assert _board(web, str(game.pk)) == healed

    resync = len(listener.frames)
    listener.client.send(json.dumps({"type": "unsubscribe", "channels": [board]}))
    listener.subscribe([board])
    snapshot = listener.wait_for(lambda e: e["type"] == "leaderboard.snapshot", 10, resync)
    assert _snapshot_top(snapshot) == healed
    # A client connecting now gets the same fresh snapshot, and live events flow again.
    late = Listener(ws, [board])
    assert _snapshot_top(late.wait_for(lambda e: e["type"] == "leaderboard.snapshot", 10)) == healed
    status, body = call(web, "POST", "/api/v1/scores", {"game_id": str(game.pk), "score": 10_000_000}, tokens[0])
    assert status == 201, body
    for client in (listener, late):
        client.wait_for(lambda e: e["type"] == "score.submitted" and e["data"]["score_id"] == body["score"]["id"], 10)
        client.close()
    record(
        "redis_stopped_mid_ingest",
        {
            "seconds": 30,
            "rate_per_second": ingest.rate,
            "redis_down_seconds": 10,
            "answers": {str(status): count for status, count in statuses.items()},
            "acknowledged": len(acknowledged),
            "stored": len(stored),
            "lost": len(acknowledged - stored),
            "reads_while_down": dict(Counter(str(status) for status in reads)),
            "logins_while_down": dict(Counter(str(status) for status in logins)),
        },
    )


@pytest.fixture
def redis_cluster(tmp_path) -> Iterator[RedisClusterNodes]:
    cluster = RedisClusterNodes(tmp_path)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_a_cluster_primary_killed_mid_ingest_loses_nothing_and_the_boards_heal(
    tmp_path, redis_server, redis_cluster, collected_static
):
    """The ranking index on a Redis Cluster whose writes wait for a replica: one primary is killed while scores
    arrive, its replica takes over its slots, the killed node is started again and rejoins as a replica."""
    index_env = {
        "RANKING_REDIS_URL": redis_cluster.url,
        "RANKING_REDIS_CLUSTER": "true",
        "RANKING_REDIS_WAIT_REPLICAS": "1",
    }
    with running(_profile(tmp_path, redis_server.url, **index_env)) as profile:
        _start(profile, "web", "worker", "beat")
        web = int(profile.env["WEB_PORT"])
        game = GameFactory(name="Failover Ingest")
        tokens = _players(web, 8, "failover")
        # The node that holds the game's all-time board: the board under test is on the primary that fails.
        board = game_board_at(game, Period.ALL, timezone.now())
        killed = redis_cluster.primary_port(f"podium:rank:{{{board.key}}}:z")
        assert killed is not None
        wait_until(
            lambda: call(web, "GET", "/readyz")[1]["status"] == "ok", 60, lambda: f"{call(web, 'GET', '/readyz')}"
        )

        ingest = Ingest(port=web, game_id=str(game.pk), tokens=tokens, rate=40.0)
        loader = threading.Thread(target=ingest.run, args=(25.0,))
        loader.start()
        reads: list[int] = []
        try:
            time.sleep(6)
            redis_cluster.kill(killed)
            killed_at = time.monotonic()
            survivor = redis_cluster.port if killed != redis_cluster.port else redis_cluster.port + 1
            key = f"podium:rank:{{{board.key}}}:z"
            # Reads go on while no live primary serves the board, until its replica has taken over.
            while redis_cluster.primary_port(key, asking=survivor) in (killed, None):
                reads.append(call(web, "GET", f"/api/v1/leaderboard/game/{game.pk}?limit=10")[0])
                time.sleep(0.2)
                assert time.monotonic() - killed_at < 30, "no replica took over the failed primary's slots"
            failover_seconds = time.monotonic() - killed_at
            redis_cluster.start()  # the killed node comes back empty and rejoins as its successor's replica
        finally:
            loader.join()

        # Every score was acknowledged (the index is never in the way of a submission), and every one is stored.
        statuses = ingest.statuses()
        assert set(statuses) == {201}, statuses
        acknowledged = ingest.acknowledged()
        stored = {str(pk) for pk in Score.objects.filter(game=game).values_list("pk", flat=True)}
        assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged scores are not in PostgreSQL"
        assert set(reads) <= {200}, Counter(reads)

        # Writes to the failed primary's boards failed (or were not held by a replica): their boards were marked
        # stale and read from the table. The heal task rebuilds them, and the index then equals the table.
        assert "marking them stale" in profile.log("web"), profile.log("web")[-3000:]
        wait_until(
            lambda: call(web, "GET", "/readyz")[1]["status"] == "ok", 60, lambda: f"{call(web, 'GET', '/readyz')}"
        )
        check = subprocess.run(
            [sys.executable, "manage.py", "check_rankings"],
            cwd=PROJECT,
            env=profile.env,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        healed = _board(web, str(game.pk))
        assert len(healed) == 8
        rebuild = [sys.executable, "manage.py", "rebuild_rankings"]
        subprocess.run(rebuild, cwd=PROJECT, env=profile.env, check=True, capture_output=True)
        assert _board(web, str(game.pk)) == healed
    record(
        "redis_cluster_primary_killed_mid_ingest",
        {
            "seconds": 25,
            "rate_per_second": ingest.rate,
            "failover_seconds": round(failover_seconds, 1),
            "answers": {str(status): count for status, count in statuses.items()},
            "acknowledged": len(acknowledged),
            "stored": len(stored),
            "lost": len(acknowledged - stored),
            "reads_during_failover": dict(Counter(str(status) for status in reads)),
        },
    )


def test_postgres_restarted_is_503_while_down_and_podium_recovers_by_itself(tmp_path, redis_server, collected_static):
    postgres = PostgresServer()
    postgres.start()
    try:
        postgres.create_database("podium")
        profile = _profile(tmp_path, redis_server.url, DATABASE_URL=postgres.url("podium"))
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=PROJECT,
            env=profile.env,
            check=True,
            capture_output=True,
        )
        with running(profile):
            _start(profile, "web", "worker", "beat")
            web = int(profile.env["WEB_PORT"])
            pids = {name: process.pid for name, process in profile.processes.items()}
            (token,) = _players(web, 1, "restart")
            status, game = call(web, "GET", "/api/v1/games")
            assert status == 200, game
            assert call(web, "GET", "/")[0] == 200
            staff_game = _staff_game(profile)
            assert call(web, "POST", "/api/v1/scores", {"game_id": staff_game, "score": 10}, token)[0] == 201

            postgres.stop()  # immediate: every session cut, as in a crash
            down: Counter = Counter()
            requests = [
                ("POST", "/api/v1/scores", {"game_id": staff_game, "score": 20}),
                ("GET", f"/api/v1/leaderboard/game/{staff_game}", None),
                ("GET", "/api/v1/users/me", None),
                ("GET", "/api/v1/games", None),
                ("GET", "/", None),
                ("POST", "/api/v1/users/login", {"username": "restart0", "password": PASSWORD}),
            ]
            for _ in range(5):
                for method, path, body in requests:
                    status, answer = call(web, method, path, body, token)
                    down[(method, path, status)] += 1
                    if status == 503 and path.startswith("/api/"):
                        assert answer["error"]["code"] == "service_unavailable", answer
            statuses = {status for (_, _, status) in down}
            assert statuses == {503}, down
            assert call(web, "GET", "/readyz")[0] == 503

            postgres.start()
            wait_until(lambda: call(web, "GET", "/readyz")[0] == 200, 30, "ready again")
            after: Counter = Counter()
            for _ in range(3):
                for method, path, body in requests:
                    after[(method, path, call(web, method, path, body, token)[0])] += 1
            assert {status for (_, _, status) in after} <= {200, 201}, after
            assert {name: process.pid for name, process in profile.processes.items()} == pids
            assert all(process.poll() is None for process in profile.processes.values()), profile.logs()
            record(
                "postgres_restarted",
                {
                    "requests_while_down": sum(down.values()),
                    "answers_while_down": dict(Counter(str(status) for (_, _, status) in down.elements())),
                    "requests_after": sum(after.values()),
                    "answers_after": dict(Counter(str(status) for (_, _, status) in after.elements())),
                    "processes_restarted": sum(
                        process.pid != pids[name] for name, process in profile.processes.items()
                    ),
                },
            )
    finally:
        postgres.remove()


def _staff_game(profile: Profile) -> str:
    """A game made with the management shell of the profile's own database."""
    script = "from games.tests.factories import GameFactory; print(GameFactory(name='Restart Rally').pk)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=PROJECT,
        env=profile.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip().splitlines()[-1]


def _database_dsn() -> str:
    db = settings.DATABASES["default"]
    return f"host={db['HOST']} port={db['PORT']} user={db['USER']} dbname={db['NAME']}"


def _sessions():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_name, state, wait_event_type, query FROM pg_stat_activity"
            " WHERE datname = current_database()"
        )
        return cursor.fetchall()


def _lock_waiters() -> list[str]:
    """Queries of the served processes' database sessions that wait on a row lock."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s"
            " AND wait_event_type = 'Lock'",
            [APP_NAME],
        )
        return [row[0] for row in cursor.fetchall()]


def test_a_worker_killed_inside_a_payout_pays_every_winner_exactly_once_after_a_new_worker_starts(profile):
    game = GameFactory(name="Fault Payout")
    players = UserFactory.create_batch(12)
    start = timezone.now() - timedelta(seconds=1)
    cup = services.tournament_create(
        organizer=UserFactory(is_staff=True),  # staff: the house funds the pool, so the ledger holds the prizes only
        game=game,
        name="Killed Cup",
        start_time=start,
        end_time=start + timedelta(seconds=6),
        prize_pool=10_000,
        prize_split=[20, 15, 10, 10, 8, 8, 7, 6, 5, 4, 4, 3],  # every player wins: whoever is locked last is paid
    )
    cup = services.tournament_start(tournament=cup)
    for n, player in enumerate(players):
        services.tournament_join(tournament=cup, user=player)
        score_submit(user=player, game=game, value=1000 + n * 10)

    # Hold the row of the player the payout locks last, as the payout itself does (NO KEY UPDATE: the finish,
    # whose results point at the players, is not held up). The payout then waits inside its transaction, with
    # the tournament and every other winner locked, until the worker running it is killed.
    blocker = psycopg.connect(_database_dsn(), autocommit=False)
    reference = f"tournament:{cup.pk}:prize"
    try:
        with blocker.cursor() as cursor:
            cursor.execute("SELECT 1 FROM accounts_user WHERE id = %s FOR NO KEY UPDATE", [max(p.pk for p in players)])
        profile.start("worker", LOG_LEVEL="INFO")
        profile.start("beat", LOG_LEVEL="INFO")
        wait_until(
            lambda: any("FOR NO KEY UPDATE" in query for query in _lock_waiters()),
            60,
            lambda: f"{_sessions()}{profile.logs()}",
        )
        assert Tournament.objects.get(pk=cup.pk).status == Status.FINISHED
        profile.kill("worker")  # SIGKILL to the worker and its pool: no clean-up of any kind
    finally:
        blocker.rollback()
        blocker.close()
    time.sleep(1)
    assert not CreditEntry.objects.filter(reference=reference).exists()
    assert Tournament.objects.get(pk=cup.pk).status == Status.FINISHED

    profile.start("worker")
    wait_until(lambda: Tournament.objects.get(pk=cup.pk).status == Status.PAID, 60, profile.logs)
    time.sleep(3)  # more ticks, and any redelivered payout task, pay nobody again
    expected = dict(TournamentResult.objects.filter(tournament=cup, prize__gt=0).values_list("user_id", "prize"))
    entries = list(CreditEntry.objects.filter(reference=reference).values_list("user_id", "amount"))
    assert len(entries) == len(expected) == 12
    assert dict(entries) == expected
    assert sum(expected.values()) == 10_000
    paid_twice = len(entries) - len({user_id for user_id, _ in entries})
    record(
        "worker_killed_in_payout",
        {"winners": len(expected), "ledger_entries": len(entries), "paid_twice": paid_twice},
    )


def test_two_worker_nodes_share_the_payouts_and_pay_every_winner_once(profile):
    """Two Celery worker nodes on one queue: sixteen tournaments end on the same tick, both nodes take payouts,
    and every winner of every tournament is paid exactly once."""
    game = GameFactory(name="Shared Payouts")
    organizer = UserFactory(is_staff=True)
    start = timezone.now() - timedelta(seconds=1)
    cups = []
    for n in range(16):
        cup = services.tournament_create(
            organizer=organizer,
            game=game,
            name=f"Shared Cup {n}",
            start_time=start,
            end_time=start + timedelta(seconds=8),
            prize_pool=1_000,
            prize_split=[50, 30, 20],
        )
        cup = services.tournament_start(tournament=cup)
        for rank, player in enumerate(UserFactory.create_batch(3)):
            services.tournament_join(tournament=cup, user=player)
            score_submit(user=player, game=game, value=1000 - rank)
        cups.append(cup)

    nodes = {"worker-one": "one", "worker-two": "two"}
    for name, node in nodes.items():
        profile.start(name, process="worker", LOG_LEVEL="INFO", WORKER_NAME=node)
    for name, node in nodes.items():
        wait_until(lambda name=name: "ready." in profile.log(name), 60, profile.logs)
        assert f"{node}@" in profile.log(name), profile.log(name)[-2000:]
    profile.start("beat", LOG_LEVEL="INFO")
    wait_until(
        lambda: all(c.status == Status.PAID for c in Tournament.objects.filter(pk__in=[c.pk for c in cups])),
        90,
        profile.logs,
    )
    time.sleep(3)  # more ticks, and any payout run twice, pay nobody again

    # Each node says what it ran (Celery's remote control, over the broker): both took tasks off the queue.
    inspect = subprocess.run(
        [str(Path(sys.executable).parent / "celery"), "-A", "leaderboard_project", "inspect", "stats", "--json"],
        cwd=PROJECT,
        env=profile.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    stats = json.loads(inspect.stdout.strip().splitlines()[-1])
    ran = {node.split("@")[0]: stats[node].get("total", {}) for node in stats}
    assert set(ran) == set(nodes.values()), inspect.stdout + inspect.stderr
    assert all(sum(tasks.values()) for tasks in ran.values()), ran
    for cup in cups:
        expected = dict(TournamentResult.objects.filter(tournament=cup, prize__gt=0).values_list("user_id", "prize"))
        entries = list(
            CreditEntry.objects.filter(reference=f"tournament:{cup.pk}:prize").values_list("user_id", "amount")
        )
        assert len(entries) == len(expected) == 3, cup.name
        assert dict(entries) == expected and sum(expected.values()) == 1_000, cup.name
    record("two_worker_nodes", {"tournaments": len(cups), "tasks_by_node": ran})


def test_a_websocket_server_killed_leaves_the_other_ones_clients_alone_and_reconnecting_clients_resync(profile):
    ws_other = str(free_port())
    profile.start("web")
    profile.start("ws")
    profile.start("ws2", "ws", WS_PORT=ws_other)
    web, ws, other = int(profile.env["WEB_PORT"]), int(profile.env["WS_PORT"]), int(ws_other)
    for port in (web, ws, other):
        wait_until(lambda port=port: up(port), 60, profile.logs)
    game = GameFactory(name="Fault Sockets")
    (token,) = _players(web, 1, "sockets")
    board = f"leaderboard.{game.pk}"
    staying = [Listener(ws, [board]) for _ in range(3)]
    leaving = [Listener(other, [board]) for _ in range(3)]
    for listener in staying + leaving:
        listener.wait_for(lambda e: e["type"] == "leaderboard.snapshot", 10)

    profile.kill("ws2")  # SIGKILL: its clients' connections drop without a close frame
    for listener in leaving:
        listener.thread.join(10)
        assert not listener.thread.is_alive()

    # The other server's clients go on receiving every event, in order, with nothing dropped.
    submitted = []
    for value in (100, 300, 200):
        status, body = call(web, "POST", "/api/v1/scores", {"game_id": str(game.pk), "score": value}, token)
        assert status == 201, body
        submitted.append(body["score"]["id"])
    received = []
    for listener in staying:
        listener.wait_for(lambda e: e["type"] == "score.submitted" and e["data"]["score_id"] == submitted[-1], 10)
        events = [e for e in listener.frames if e.get("channel") == board]
        received.append(sum(e["type"] == "score.submitted" for e in events))
        assert [e["data"]["score_id"] for e in events if e["type"] == "score.submitted"] == submitted
        assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
        assert not [e for e in listener.frames if e["type"] in ("dropped", "error")]

    # Its clients reconnect, to the surviving server or to the killed one started again, and each gets a fresh
    # snapshot that holds what happened while they were away.
    profile.start("ws2", "ws", WS_PORT=ws_other)
    wait_until(lambda: up(other), 60, profile.logs)
    resynced = 0
    for n, _ in enumerate(leaving):
        back = Listener((ws, other)[n % 2], [board])
        snapshot = back.wait_for(lambda e: e["type"] == "leaderboard.snapshot", 10)
        assert [(row["username"], row["value"]) for row in snapshot["data"]["top"]] == [("sockets0", 300)]
        resynced += 1
        back.close()
    for listener in staying:
        listener.close()
    record(
        "websocket_server_killed",
        {
            "clients_on_survivor": len(staying),
            "clients_on_killed": len(leaving),
            "scores_sent": len(submitted),
            "scores_received_by_each_survivor": received,
            "reconnected_with_fresh_snapshot": resynced,
        },
    )
