"""Load test of Podium: players using the REST API and spectators holding a WebSocket on /ws/main.

Players are synthetic accounts, which play the synthetic games only: a load
test never touches the real boards or tournaments, and ``manage.py
clear_synthetic`` removes all it wrote. Their access tokens come in the JSON
file named by ``PODIUM_STRESS_CREDENTIALS``: the stress-test service
(``simulator/services/stress.py``) writes one for each run, and from the
command line ``manage.py synthetic_players`` does::

    python manage.py synthetic_players 20 --output var/load-players.json
    PODIUM_STRESS_CREDENTIALS=var/load-players.json \
        locust -f locustfile.py --host http://127.0.0.1:8000 --headless -u 20 -r 5 -t 30s

Players mix score submissions on the synthetic games, reads of a board's top
and of the page around themselves, and listings and joins of those games'
tournaments. Spectators subscribe to ``leaderboard``, ``score`` and
``tournament`` and count each event they receive as a ``WS`` request (its
response time is the time from the server's publish, ``ts``, to receipt).

Other environment variables (all optional):

``PODIUM_STRESS_THROUGHPUT``   actions per second of each player (default 1)
``PODIUM_STRESS_SPECTATORS``   a fixed number of spectators (default: one user in ten)
``PODIUM_STRESS_SCORE_LIMIT``  the server's per-player-per-game score limit as ``N/seconds`` (default ``60/60``);
                               players stay under it and read instead
``PODIUM_STRESS_WS_URL``       the WebSocket URL (default: the host's, ``/ws/main``)
``PODIUM_STRESS_REPORT``       ``1``: print live figures and the final report as JSON lines (see ``REPORT_PREFIX``)
``PODIUM_STRESS_PARENT_PID``   stop when this process (the server that started the run) is gone

Only this file imports locust (which patches the standard library for gevent):
no Django module imports it.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import deque
from typing import Any

import gevent
from locust import HttpUser, User, between, events, task
from locust.env import Environment
from websockets.sync.client import connect as ws_connect

REPORT_PREFIX = "PODIUM_STRESS "
API = "/api/v1"

THROUGHPUT = float(os.environ.get("PODIUM_STRESS_THROUGHPUT", "0") or 0)
CREDENTIALS_FILE = os.environ.get("PODIUM_STRESS_CREDENTIALS", "")
SPECTATORS = os.environ.get("PODIUM_STRESS_SPECTATORS", "")
_limit, _, _window = os.environ.get("PODIUM_STRESS_SCORE_LIMIT", "60/60").partition("/")
# Stay a little under the server's limit: its window and ours do not start at the same moment.
SCORES_PER_WINDOW = max(1, int(int(_limit) * 0.9))
SCORE_WINDOW = float(_window or 60)
WS_URL = os.environ.get("PODIUM_STRESS_WS_URL", "")
REPORT = os.environ.get("PODIUM_STRESS_REPORT", "") == "1"
PARENT_PID = int(os.environ.get("PODIUM_STRESS_PARENT_PID", "0") or 0)

if not CREDENTIALS_FILE:
    raise SystemExit(
        "locustfile.py plays synthetic players: set PODIUM_STRESS_CREDENTIALS to the file that "
        "'python manage.py synthetic_players 20 --output var/load-players.json' writes."
    )
with open(CREDENTIALS_FILE) as file:
    _credentials: list[dict[str, str]] = json.load(file)
if not _credentials:
    raise SystemExit(f"{CREDENTIALS_FILE} names no player.")
_next_player = 0


def _take_player_number() -> int:
    global _next_player
    _next_player += 1
    return _next_player


class Player(HttpUser):
    """A signed-in player: submits scores, reads boards, browses and joins tournaments."""

    weight = 9
    next_start: float | None = None

    def wait_time(self) -> float:
        """``THROUGHPUT`` tasks a second from a random phase, or a random pause of 0.5 to 2 s without it.

        locust's ``constant_throughput`` counts each player's period from when the player started, and locust
        starts a second's players together: every player would then fire in the same instant of each second,
        one burst a second instead of a steady flow. A task that ran late is followed at once, never by a burst.
        """
        if THROUGHPUT <= 0:
            return random.uniform(0.5, 2)
        period = 1 / THROUGHPUT
        now = time.monotonic()
        if self.next_start is None:
            self.next_start = now + random.uniform(0, period)
        else:
            self.next_start = max(self.next_start + period, now)
        return self.next_start - now

    def on_start(self) -> None:
        account = _credentials[(_take_player_number() - 1) % len(_credentials)]
        self.user_id = account["id"]
        self.client.headers["Authorization"] = f"Bearer {account['access']}"
        # Synthetic players may play synthetic games only (a file of real players' tokens, as the soak bench makes
        # on a database of its own, plays the real games).
        synthetic = "true" if account.get("synthetic", True) else "false"
        response = self.client.get(f"{API}/games?is_active=true&synthetic={synthetic}&limit=100", name=f"{API}/games")
        self.games = response.json().get("results", []) if response.ok else []
        self.submitted: dict[str, deque[float]] = {game["id"]: deque() for game in self.games}

    def _game_with_room(self) -> dict[str, Any] | None:
        """A game this player may still submit to without passing the server's rate limit."""
        now = time.monotonic()
        games = random.sample(self.games, len(self.games))
        for game in games:
            times = self.submitted[game["id"]]
            while times and now - times[0] > SCORE_WINDOW:
                times.popleft()
            if len(times) < SCORES_PER_WINDOW:
                times.append(now)
                return game
        return None

    @task(5)
    def submit_score(self) -> None:
        game = self._game_with_room()
        if game is None:
            self.read_top()
            return
        low = game["min_score"] if game["min_score"] is not None else 0
        high = game["max_score"] if game["max_score"] is not None else max(low, 0) + 100_000
        body = {"game_id": game["id"], "score": random.randint(low, max(low, min(high, low + 1_000_000)))}
        self.client.post(f"{API}/scores", json=body, name=f"{API}/scores")

    @task(3)
    def read_top(self) -> None:
        if self.games:
            game = random.choice(self.games)
            self.client.get(f"{API}/leaderboard/game/{game['id']}?limit=10", name=f"{API}/leaderboard/game/[id] top")

    @task(2)
    def read_around_me(self) -> None:
        if self.games:
            game = random.choice(self.games)
            self.client.get(
                f"{API}/leaderboard/game/{game['id']}?around={self.user_id}&limit=11",
                name=f"{API}/leaderboard/game/[id] around",
            )

    @task(1)
    def read_global(self) -> None:
        self.client.get(f"{API}/leaderboard/global?limit=10", name=f"{API}/leaderboard/global")

    @task(1)
    def browse_and_join_tournament(self) -> None:
        if not self.games:
            return
        status = random.choice(["running", "scheduled"])
        game = random.choice(self.games)  # a synthetic game: its tournaments are the ones these players may join
        response = self.client.get(
            f"{API}/tournaments?status={status}&game_id={game['id']}&limit=20", name=f"{API}/tournaments?status"
        )
        if not response.ok:
            return
        tournaments = response.json().get("results", [])
        if not tournaments:
            return
        tournament = random.choice(tournaments)
        with self.client.post(
            f"{API}/tournaments/{tournament['id']}/join", name=f"{API}/tournaments/[id]/join", catch_response=True
        ) as join:
            if join.status_code in (201, 409):  # 409: already joined, full or closed, all fine here
                join.success()


class Spectator(User):
    """Watches the live feeds over one WebSocket, as the demo page does."""

    weight = 1
    wait_time = between(0, 0)

    def on_start(self) -> None:
        base = self.host or ""
        self.url = WS_URL or base.replace("https://", "wss://").replace("http://", "ws://").rstrip("/") + "/ws/main"
        self.socket = None
        self.last_ping = 0.0

    def on_stop(self) -> None:
        if self.socket is not None:
            self.socket.close()

    def _fire(self, name: str, response_time: float, length: int, exception: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=response_time,
            response_length=length,
            exception=exception,
            context={},
        )

    def _connect(self) -> None:
        started = time.perf_counter()
        try:
            self.socket = ws_connect(self.url, open_timeout=10, max_size=2**22)
            self.socket.send(json.dumps({"type": "subscribe", "channels": ["leaderboard", "score", "tournament"]}))
        except Exception as error:  # noqa: BLE001  any failure to connect is a failed request, then a retry
            self.socket = None
            self._fire("/ws/main connect", (time.perf_counter() - started) * 1000, 0, error)
            gevent.sleep(2)
            return
        self._fire("/ws/main connect", (time.perf_counter() - started) * 1000, 0)
        self.last_ping = time.monotonic()

    @task
    def listen(self) -> None:
        if self.socket is None:
            self._connect()
            return
        if time.monotonic() - self.last_ping > 20:
            self.socket.send(json.dumps({"type": "ping"}))
            self.last_ping = time.monotonic()
        try:
            raw = self.socket.recv(timeout=1)
        except TimeoutError:
            return
        except Exception as error:  # noqa: BLE001  the connection dropped: count it, reconnect next time
            self._fire("/ws/main receive", 0, 0, error)
            self.socket = None
            return
        frame = json.loads(raw)
        for event in frame["events"] if frame.get("type") == "batch" else [frame]:
            self._fire(f"/ws/main {event.get('type', '?')}", _lag_ms(event.get("ts")), len(raw))


def _lag_ms(ts: str | None) -> float:
    """Milliseconds from the server's publish to now (same clock when both run on one machine)."""
    if not ts:
        return 0.0
    from datetime import datetime

    try:
        sent = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
    return max(0.0, (time.time() - sent) * 1000)


if SPECTATORS:
    Spectator.fixed_count = int(SPECTATORS)


# --- live figures for the server that started this run ---------------------------------


def _emit(kind: str, data: dict[str, Any]) -> None:
    print(REPORT_PREFIX + json.dumps({"kind": kind, **data}, separators=(",", ":")), flush=True)


def _figures(environment: Environment) -> dict[str, Any]:
    total = environment.runner.stats.total
    return {
        "users": environment.runner.user_count,
        "requests": total.num_requests,
        "failures": total.num_failures,
        "rps": round(total.current_rps, 2),
        "failures_per_second": round(total.current_fail_per_sec, 2),
        "p50_ms": total.get_current_response_time_percentile(0.5) or 0,
        "p95_ms": total.get_current_response_time_percentile(0.95) or 0,
    }


def _report(environment: Environment) -> dict[str, Any]:
    stats = environment.runner.stats

    def entry(stat: Any) -> dict[str, Any]:
        return {
            "method": stat.method or "",
            "name": stat.name,
            "requests": stat.num_requests,
            "failures": stat.num_failures,
            "rps": round(stat.total_rps, 2),
            "avg_ms": round(stat.avg_response_time, 1),
            "p50_ms": stat.get_response_time_percentile(0.5) or 0,
            "p95_ms": stat.get_response_time_percentile(0.95) or 0,
            "p99_ms": stat.get_response_time_percentile(0.99) or 0,
            "max_ms": round(stat.max_response_time or 0, 1),
        }

    return {
        **entry(stats.total),
        "users": environment.runner.user_count,
        "endpoints": [entry(stat) for stat in sorted(stats.entries.values(), key=lambda s: (s.name, s.method or ""))],
        "errors": [
            {
                "method": error.method,
                "name": error.name,
                "error": str(error.error)[:300],
                "occurrences": error.occurrences,
            }
            for error in list(stats.errors.values())[:50]
        ],
    }


def _progress_loop(environment: Environment) -> None:
    while True:
        gevent.sleep(1.0)
        if PARENT_PID and os.getppid() != PARENT_PID:
            environment.runner.quit()  # the server that started this run is gone: nobody reads the figures
            return
        if environment.runner is not None:
            _emit("progress", _figures(environment))


@events.init.add_listener
def _on_init(environment: Environment, **_kwargs: Any) -> None:
    if REPORT:
        gevent.spawn(_progress_loop, environment)


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_kwargs: Any) -> None:
    if REPORT and environment.runner is not None:
        _emit("report", _report(environment))
