"""Real servers for tests that cross processes: gunicorn (the HTTP API) and uvicorn (WebSockets).

They run the production profile against the test database and the test Redis,
so what a test commits, they see.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[2]
APP_NAME = "podium-test-server"  # how the servers' database sessions are told apart from the test's own


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def _wait_until_up(port: int, process: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


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
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=PROJECT, env=environment(**env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_until_up(port, process, log)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
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
