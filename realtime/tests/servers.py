"""Real servers for tests that cross processes: gunicorn (the HTTP API) and uvicorn (WebSockets).

They run the production profile against the test database and the test Redis,
so what a test commits, they see. Starting, waiting and stopping are the
benchmarks' process harness (``bench/lib/procs.py``); the environment and the
wait for the servers' database sessions to end are the tests' own.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from bench.lib import procs
from bench.lib.procs import free_port

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[2]
APP_NAME = "podium-test-server"  # how the servers' database sessions are told apart from the test's own


def environment(**extra: str) -> dict[str, str]:
    db = settings.DATABASES["default"]
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}?application_name={APP_NAME}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leaderboard_project.settings",
        "DEBUG": "false",
        "SECRET_KEY": "test-only-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "SCORE_RATE_PER_USER_GAME": "100000/min",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


@contextmanager
def serve(kind: str, tmp_path: Path, **env: str) -> Iterator[int]:
    """Run ``gunicorn`` (WSGI) or ``uvicorn`` (ASGI) on a free port until the block ends; yields the port."""
    port = free_port()
    if kind == "gunicorn":
        command = [str(BIN / "gunicorn"), "leaderboard_project.wsgi:application", "-w", "1", "-b", f"127.0.0.1:{port}"]
    else:
        command = [
            str(BIN / "uvicorn"),
            "leaderboard_project.asgi:application",
            "--ws",
            "websockets-sansio",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--ws-ping-interval",
            "300",  # a stalled test client answers no pings; it must not be closed for that
        ]
    log = tmp_path / f"{kind}-{port}.log"
    process = procs.start(command, env=environment(**env), log=log, cwd=PROJECT)
    try:
        procs.wait_http(f"http://127.0.0.1:{port}/healthz", process=process, log=log, timeout=30, what=f"{kind} server")
        yield port
    finally:
        procs.stop_group(process, timeout=10)
        _wait_for_sessions_to_end()


def _wait_for_sessions_to_end(timeout: float = 10.0) -> None:
    """PostgreSQL ends a dead server's sessions a moment later; the test database can only be dropped after."""
    from django.db import connection

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
                [APP_NAME],
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.05)
