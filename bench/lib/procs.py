"""The process harness: a free port, a process started in a group of its own, waiting until it answers, stopping it.

Used by the benchmarks and by the tests that run real servers
(``realtime/tests/servers.py``, ``leaderboard_project/tests/profile.py``), so
it imports nothing but the standard library.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.lib.paths import PROJECT_DIR

logger = logging.getLogger("bench.procs")

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(
    command: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path = PROJECT_DIR,
    pipes: bool = False,
) -> subprocess.Popen:
    """Start ``command`` in a session of its own, its output appended to ``log``.

    Its own session makes its process group its own, so ``stop_group`` ends it
    with every child it started (workers, pools). With ``pipes`` its stdin and
    stdout are text pipes (a child that talks JSON lines) and only stderr goes
    to the log; otherwise stdin is closed.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else out,
            stderr=out if pipes else subprocess.STDOUT,
            text=pipes,
            start_new_session=True,
        )


def tail(log: Path | None, lines: int = 40) -> str:
    """The last lines of a log, for error messages ("" when there is none)."""
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def http_status(url: str, *, timeout: float = 5) -> int:
    """The status ``url`` answers a GET with; 0 when nothing answers (refused, reset, timed out)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def wait_until(
    ready: Callable[[], Any],
    *,
    timeout: float,
    what: str | Callable[[], str],
    process: subprocess.Popen | None = None,
    log: Path | None = None,
    interval: float = 0.2,
    tolerate: tuple[type[BaseException], ...] = (),
    error: type[Exception] = RuntimeError,
) -> None:
    """Wait until ``ready()`` is true; raise ``error`` when ``process`` exits first or ``timeout`` passes.

    ``what`` (or what it returns, read when it fails) names what was awaited;
    the message ends with the tail of ``log``. Exceptions of the ``tolerate``
    kinds count as "not yet" (a server still binding its port).
    """

    def failed(why: str) -> Exception:
        name = what() if callable(what) else what
        return error(f"{name}: {why}" + (f"\n{tail(log)}" if log is not None else ""))

    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise failed(f"exited with {process.returncode}")
        with contextlib.suppress(*tolerate):
            if ready():
                return
        if time.monotonic() > deadline:
            raise failed(f"not ready within {timeout:g} s")
        time.sleep(interval)


def wait_http(url: str, *, process: subprocess.Popen, log: Path, timeout: float = 60, what: str = "") -> None:
    """Wait until ``url`` answers 200 (a server's ``/healthz``), or fail with the server's log."""
    wait_until(lambda: http_status(url) == 200, timeout=timeout, what=what or url, process=process, log=log)


def stop_group(
    process: subprocess.Popen | None, *, sig: int = signal.SIGTERM, timeout: float = 15, kill_timeout: float = 10
) -> None:
    """Send ``sig`` to the process group of ``process`` (see ``start``), wait, then SIGKILL the group.

    The group is signalled even when its leader has exited already: workers it
    left behind still belong to it.
    """
    if process is None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        logger.warning("pid %d did not stop within %.0f s: SIGKILL", process.pid, timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(kill_timeout)


def start_redis_server(*, port: int, workdir: Path, log: Path, timeout: float = 15) -> subprocess.Popen:
    """A private ``redis-server`` on ``port`` that keeps nothing on disk; returns once it answers PING.

    Its own server, so a bench or a test may flush, stop or restart it without
    touching the machine's Redis, which others use.
    """
    command = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--daemonize", "no", "--dir", str(workdir),
    ]  # fmt: skip
    process = start(command, log=log, cwd=workdir)
    import redis

    client = redis.Redis(port=port, socket_connect_timeout=1)
    wait_until(
        client.ping,
        timeout=timeout,
        what="redis-server answering",
        process=process,
        log=log,
        tolerate=(redis.RedisError,),
    )
    return process


@contextlib.contextmanager
def interrupted_on(signals: Sequence[int] = SIGNALS[1:]) -> Iterator[None]:
    """Turn these signals into KeyboardInterrupt, so that ``finally`` blocks stop what the bench started.

    SIGINT is worth listing when the bench may have been started with it
    ignored, as a shell does for a command it runs in the background.
    """

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def ignored_signals(signals: Sequence[int] = SIGNALS) -> Iterator[None]:
    """Ignore these signals for a while: a second Ctrl-C must not cut a clean-up short."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
