"""The Procfile's ``ws`` line as ``make serve`` runs it: uvicorn's current WebSocket implementation, quietly.

The server runs embedded (no ``DATABASE_URL`` or ``REDIS_URL``): what is checked here is uvicorn's own
handling of frames, before any of Podium's code sees them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

from leaderboard_project.tests.profile import procfile
from realtime.tests.servers import PROJECT, free_port

MAX_FRAME = 64 * 1024


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def ws_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """The ``ws`` line under bash, as honcho runs it; yields its port and its log (stdout and stderr)."""
    port = free_port()
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "leaderboard_project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "WS_PORT": str(port),
    }
    log = tmp_path / "ws.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {procfile()['ws']}"],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the ws process did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield port, log
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _open(port: int) -> ClientConnection:
    # The client offers permessage-deflate, as browsers do.
    return connect(f"ws://127.0.0.1:{port}/ws/main", open_timeout=10)


def test_the_procfile_ws_server_prints_no_deprecation_warning(ws_server):
    port, log = ws_server
    with _open(port) as client:
        client.send('{"type": "ping"}')
        client.recv(timeout=5)

    output = log.read_text()
    assert "Uvicorn running on" in output, output
    assert "deprecat" not in output.lower(), output
    assert "Traceback" not in output, output


def test_the_procfile_ws_server_declines_per_message_deflate(ws_server):
    port, _ = ws_server
    with _open(port) as client:
        assert client.protocol.extensions == []


def test_the_procfile_ws_server_closes_a_connection_that_sends_a_frame_over_64_kib(ws_server):
    port, _ = ws_server
    with _open(port) as client:
        client.send("x" * MAX_FRAME)  # the limit itself passes
        client.recv(timeout=5)
        client.send("x" * (MAX_FRAME + 1))
        with pytest.raises(ConnectionClosedError) as closed:
            client.recv(timeout=5)
    assert closed.value.rcvd.code == 1009  # message too big
