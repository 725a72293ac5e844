"""Stress tests: locust runs ``locustfile.py`` headless against this server, its figures streamed live.

A run is a ``StressTest`` row; its ``active`` column is unique while the run
is not over, so a second concurrent start fails in the database. The runner
(a Celery task, or a daemon thread of the server when tasks would run eagerly)
claims the row ``pending -> running``, starts locust in a child process and
reads the JSON lines the locustfile prints (``PODIUM_STRESS_REPORT=1``): one
``progress`` line a second and a ``report`` line when locust quits, also on
SIGTERM. Once a second it writes the latest figures into ``report["live"]``
with ``status = running`` in the WHERE clause (0 rows: a stop was asked from
any process, so it terminates locust) and publishes ``stress.progress`` on
the ``stress`` channel; at the end it stores the report and publishes
``stress.finished``.

Accounts: the runner creates synthetic ``stress_NNNN`` players itself
(unusable passwords) and hands locust their access tokens in a private
temporary file. They play the synthetic games only (``synthetic``), so a
stress test never touches the real boards or tournaments.

Liveness: each write also stamps ``report["updated_at"]``. An active run with
no stamp for ``STALE_SECONDS`` (its worker or server died) is ended by the
next start, stop or read, so it never blocks new runs.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from common import ratelimit
from common.errors import Conflict, DomainError
from events.bus import publish

from ..models import RunStatus, StressTest
from .runs import DEAD_MESSAGE, reap_dead, run_in_background
from .synthetic import load_credentials, synthetic_games, synthetic_players

logger = logging.getLogger(__name__)

CHANNEL = "stress"
MIN_USERS, MAX_USERS = 1, 1000
MIN_ACTIONS, MAX_ACTIONS = 1, 1000
MIN_DURATION, MAX_DURATION = 10, 600
STALE_SECONDS = 30.0
# Beyond its duration, how long locust may take to spawn, stop its users and print its report before it is killed.
GRACE_SECONDS = 30.0
STOP_WAIT_SECONDS = 10.0
PLAYER_PREFIX = "stress_"
LOCUSTFILE = Path(settings.BASE_DIR) / "locustfile.py"
REPORT_PREFIX = "PODIUM_STRESS "  # the locustfile's marker for its JSON lines


class StressTestRunning(Conflict):
    code = "stress_test_running"
    message = "A stress test is already running; stop it first."


class StressTestInvalid(DomainError):
    code = "invalid"
    message = "The stress test parameters are out of range."


def stress_test_validate(*, concurrent_users: int, actions_per_second: int, duration: int) -> None:
    for name, value, low, high in (
        ("concurrent_users", concurrent_users, MIN_USERS, MAX_USERS),
        ("actions_per_second", actions_per_second, MIN_ACTIONS, MAX_ACTIONS),
        ("duration", duration, MIN_DURATION, MAX_DURATION),
    ):
        if not low <= value <= high:
            raise StressTestInvalid(
                f"{name} must be between {low} and {high}.", fields={name: [f"Must be between {low} and {high}."]}
            )


def _stamp() -> str:
    return timezone.now().isoformat()


def stress_test_alive(stress_test: StressTest) -> bool:
    """Whether an active run has reported within ``STALE_SECONDS`` (a new run gets that long to start)."""
    moments = [stress_test.created_at, stress_test.started_at]
    stamp = (stress_test.report or {}).get("updated_at")
    if isinstance(stamp, str):
        try:
            moments.append(datetime.fromisoformat(stamp))
        except ValueError:
            pass
    latest = max(moment for moment in moments if moment is not None)
    return latest > timezone.now() - timedelta(seconds=STALE_SECONDS)


def stress_tests_reap() -> int:
    """End the active runs that stopped reporting: ``failed`` (``stopped`` when a stop was asked). Returns how many."""
    return reap_dead(model=StressTest, alive=stress_test_alive, message=DEAD_MESSAGE)


def stress_target(*, own_url: str) -> str:
    """Where a stress test sends its traffic: ``STRESS_TARGET_URL``, else this server's own URL."""
    return settings.STRESS_TARGET_URL or own_url.rstrip("/")


def stress_test_start(
    *, concurrent_users: int, actions_per_second: int, duration: int, target: str, started_by: User | None
) -> StressTest:
    """Record a run against ``target`` (a base URL) and hand it to a worker, or a thread of this process.

    409 ``stress_test_running`` while another run is active.
    """
    stress_test_validate(concurrent_users=concurrent_users, actions_per_second=actions_per_second, duration=duration)
    stress_tests_reap()
    try:
        with transaction.atomic():
            stress_test = StressTest.objects.create(
                concurrent_users=concurrent_users,
                actions_per_second=actions_per_second,
                duration=duration,
                target=target.rstrip("/"),
                started_by=started_by,
            )
    except IntegrityError:
        running = StressTest.objects.filter(active=True).first()
        raise StressTestRunning(
            f"Stress test {running.pk} is {running.status}; stop it first." if running else None
        ) from None
    transaction.on_commit(partial(_dispatch, stress_test.pk))
    return stress_test


def _dispatch(stress_test_id: int) -> None:
    run_in_background(
        model=StressTest,
        run_id=stress_test_id,
        body=lambda run_id: stress_test_run(stress_test_id=run_id),
        task="simulator.tasks.stress.stress_test_run_task",
    )


def stress_test_stop(*, stress_test: StressTest, wait: float = 5.0) -> StressTest:
    """Stop a run. A pending or dead run ends ``stopped`` at once; a live one is asked to stop (``stopping``),
    its runner terminates locust and keeps the partial report. Waits up to ``wait`` seconds for that."""
    over = {"status": RunStatus.STOPPED, "active": None, "finished_at": timezone.now()}
    if not StressTest.objects.filter(pk=stress_test.pk, status=RunStatus.PENDING).update(**over):
        StressTest.objects.filter(pk=stress_test.pk, status=RunStatus.RUNNING).update(status=RunStatus.STOPPING)
    stress_test.refresh_from_db()
    if stress_test.status == RunStatus.STOPPING and not stress_test_alive(stress_test):
        StressTest.objects.filter(pk=stress_test.pk, status=RunStatus.STOPPING).update(**over, error=DEAD_MESSAGE)
        stress_test.refresh_from_db()
    deadline = time.monotonic() + wait
    while stress_test.status == RunStatus.STOPPING and time.monotonic() < deadline:
        time.sleep(0.1)
        stress_test.refresh_from_db()
    return stress_test


def stress_players(*, count: int) -> list[User]:
    """The first ``count`` ``stress_NNNN`` players (synthetic: they play synthetic games only), made when missing."""
    return synthetic_players(prefix=PLAYER_PREFIX, count=count, display="Stress")


def locust_plan(*, concurrent_users: int, actions_per_second: int) -> dict[str, Any]:
    """How a run's parameters map onto locust: one user in ten is a spectator (none in a one-user run), and the
    players share ``actions_per_second`` (spectators make no requests), each from a random phase of its period."""
    spectators = 0 if concurrent_users < 2 else max(1, concurrent_users // 10)
    players = concurrent_users - spectators
    return {"players": players, "spectators": spectators, "throughput": actions_per_second / players}


def _command(stress_test: StressTest, spectators: int) -> list[str]:
    users = stress_test.concurrent_users
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        stress_test.target,
        "--users",
        str(users),
        "--spawn-rate",
        str(min(users, 200)),
        "--run-time",
        f"{stress_test.duration}s",
        "--stop-timeout",
        "2",
        "--exit-code-on-error",
        "0",
        "--only-summary",
        "--loglevel",
        "WARNING",
        *(["Player", "Spectator"] if spectators else ["Player"]),
    ]


def _reader(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        if line.startswith(REPORT_PREFIX):
            lines.put(line[len(REPORT_PREFIX) :])
    lines.put(None)


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)  # locust prints its report on SIGTERM, then exits
        except ProcessLookupError:
            pass


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def stress_test_run(*, stress_test_id: int, spectators: int | None = None) -> StressTest | None:
    """Run a pending stress test to its end; returns it, or None when it was stopped, reaped or already claimed.

    ``spectators`` overrides the plan's number of WebSocket spectators (tests against a server without /ws/main).
    """
    claimed = StressTest.objects.filter(pk=stress_test_id, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING, started_at=timezone.now(), report={"updated_at": _stamp()}
    )
    if not claimed:
        return None
    stress_test = StressTest.objects.get(pk=stress_test_id)
    publish(
        CHANNEL,
        "stress.started",
        {
            "id": stress_test.pk,
            "concurrent_users": stress_test.concurrent_users,
            "actions_per_second": stress_test.actions_per_second,
            "duration": stress_test.duration,
        },
    )
    workdir = tempfile.TemporaryDirectory(prefix="podium-stress-")
    try:
        _run(stress_test, Path(workdir.name), spectators)
    except Exception as exc:  # noqa: BLE001  recorded on the run, which must not stay running
        logger.exception("stress test %s failed", stress_test_id)
        _end(stress_test_id, RunStatus.FAILED, report={}, error=str(exc) or type(exc).__name__)
    finally:
        workdir.cleanup()
    return StressTest.objects.get(pk=stress_test_id)


def _run(stress_test: StressTest, workdir: Path, spectators: int | None) -> None:
    plan = locust_plan(concurrent_users=stress_test.concurrent_users, actions_per_second=stress_test.actions_per_second)
    if spectators is not None:
        plan["spectators"] = min(spectators, stress_test.concurrent_users - 1)
        plan["players"] = stress_test.concurrent_users - plan["spectators"]
        plan["throughput"] = stress_test.actions_per_second / plan["players"]
    players = stress_players(count=plan["players"])
    synthetic_games()  # what locust's players play: created when there is none
    credentials = workdir / "credentials.json"
    credentials.touch(mode=0o600)
    lifetime = timedelta(seconds=stress_test.duration + 600)  # outlives the run
    credentials.write_text(json.dumps(load_credentials(players=players, lifetime=lifetime)))
    allowed, period = ratelimit.parse_rate(settings.SCORE_RATE_PER_USER_GAME)
    env = {
        **os.environ,
        "PODIUM_STRESS_REPORT": "1",
        "PODIUM_STRESS_CREDENTIALS": str(credentials),
        "PODIUM_STRESS_THROUGHPUT": f"{plan['throughput']:.6f}",
        "PODIUM_STRESS_SPECTATORS": str(plan["spectators"]),
        "PODIUM_STRESS_SCORE_LIMIT": f"{allowed}/{period}",
        "PODIUM_STRESS_PARENT_PID": str(os.getpid()),
        "PYTHONUNBUFFERED": "1",
    }
    if settings.STRESS_WS_URL:
        env["PODIUM_STRESS_WS_URL"] = settings.STRESS_WS_URL
    log_path = workdir / "locust.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            _command(stress_test, plan["spectators"]),
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
    try:
        outcome = _follow(stress_test, process, plan)
    finally:
        _kill(process)
    live, report, stopped, timed_out = outcome
    if report is None:
        if not stopped and live is None:
            _end(stress_test.pk, RunStatus.FAILED, report={}, error=_tail(log_path) or "locust reported nothing.")
            return
        report = {**(live or {}), "endpoints": [], "errors": []}
    report = {**report, "partial": stopped or timed_out, "plan": plan}
    error = "locust did not finish in time; it was stopped." if timed_out else ""
    _end(stress_test.pk, RunStatus.STOPPED if stopped else RunStatus.FINISHED, report=report, error=error)


def _follow(
    stress_test: StressTest, process: subprocess.Popen, plan: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, bool, bool]:
    """Relay locust's figures until it exits. Returns (last live figures, final report, stopped, timed out)."""
    lines: queue.Queue[str | None] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=_reader, args=(process.stdout, lines), name="podium-stress-reader", daemon=True).start()
    started = time.monotonic()
    deadline = started + stress_test.duration + GRACE_SECONDS
    live: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    published: dict[str, Any] | None = None
    stopped = timed_out = False
    stop_deadline: float | None = None
    next_tick = started
    while True:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            line = ""
        if line is None:
            break
        if line:
            try:
                message = json.loads(line)
            except ValueError:
                message = {}
            kind = message.pop("kind", None)
            if kind == "progress":
                live = {**message, "elapsed": round(time.monotonic() - started, 1)}
            elif kind == "report":
                report = message
        now = time.monotonic()
        if now >= next_tick:
            next_tick = now + 1.0
            fields = {"report": {"live": live or {}, "plan": plan, "updated_at": _stamp()}}
            # status=running in the WHERE clause: 0 rows means a stop was asked (or the run was reaped).
            if not StressTest.objects.filter(pk=stress_test.pk, status=RunStatus.RUNNING).update(**fields):
                if not stopped:
                    stopped = True
                    stop_deadline = now + STOP_WAIT_SECONDS
                    _terminate(process)
                StressTest.objects.filter(pk=stress_test.pk, status=RunStatus.STOPPING).update(**fields)
            if live is not None and live != published:
                publish(CHANNEL, "stress.progress", {"id": stress_test.pk, **live})
                published = live
        if not stopped and not timed_out and now > deadline:
            timed_out = True
            stop_deadline = now + STOP_WAIT_SECONDS
            _terminate(process)
        if stop_deadline is not None and now > stop_deadline:
            _kill(process)
            stop_deadline = None
    return live, report, stopped, timed_out


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:].strip()
    except OSError:
        return ""


def _end(stress_test_id: int, final: str, *, report: dict[str, Any], error: str = "") -> None:
    """Close the row: ``stopped`` when a stop was asked, else ``final``; a reaped run is left as it is."""
    fields = {"active": None, "finished_at": timezone.now(), "report": report, "error": error}
    if StressTest.objects.filter(pk=stress_test_id, status=RunStatus.STOPPING).update(
        status=RunStatus.STOPPED, **fields
    ) or StressTest.objects.filter(pk=stress_test_id, status=RunStatus.RUNNING).update(status=final, **fields):
        stress_test = StressTest.objects.get(pk=stress_test_id)
        publish(
            CHANNEL,
            "stress.finished",
            {"id": stress_test_id, "status": stress_test.status, "report": report, "error": error},
        )
