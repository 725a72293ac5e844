"""The servers a bench measures, each in a process group of its own: gunicorn, granian, uvicorn, any command.

``ServerProcess`` starts a server with the bench's ``Profile``, waits until it
answers ``/healthz``, finds its processes (the whole tree) for CPU accounting,
keeps its output in a log file that ``scan_log`` reads after every phase, and
stops it with its whole process group.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.lib import procs
from bench.lib.cpu import cpu_seconds, processes, tree_pids
from bench.lib.profile import Profile

logger = logging.getLogger("bench.server")

GUNICORN = Path(sys.executable).with_name("gunicorn")
GRANIAN = Path(sys.executable).with_name("granian")
UVICORN = Path(sys.executable).with_name("uvicorn")
GRANIAN_THREADS = 32  # the Procfile's WEB_THREADS default
WSGI_APP = "leaderboard_project.wsgi:application"
ASGI_APP = "leaderboard_project.asgi:application"


@dataclass(frozen=True)
class ServerConfig:
    """``granian``: the production profile's web server (the Procfile's ``web``), which keeps connections
    open; ``sync`` and ``gthread``: gunicorn's workers (``sync`` closes every connection after its response)."""

    worker_class: str = "granian"
    workers: int = 2
    threads: int = 1

    @property
    def label(self) -> str:
        threads = f"x{self.threads}t" if self.worker_class in ("gthread", "granian") else ""
        return f"{self.worker_class} {self.workers}w{threads}"


def server_config(args: argparse.Namespace, worker_class: str) -> ServerConfig:
    threads = {"gthread": args.gthread_threads, "granian": args.blocking_threads}.get(worker_class, 1)
    return ServerConfig(worker_class=worker_class, workers=args.workers, threads=threads)


class ServerProcess:
    """A server in its own process group, output to a log file: started, health-checked, stopped, its log read.

    Subclasses give ``name``, ``command()`` and, if need be, ``environ()``,
    ``booted()`` and ``tag`` (the server's name in tables and results).
    ``cpu_party`` names the server's processes in ``cpu_usage``.
    """

    name = "server"
    cpu_party = "server"
    stop_timeout = 15.0

    def __init__(self, *, profile: Profile, port: int, log_path: Path, environ: dict[str, str] | None = None) -> None:
        self.profile = profile
        self.port = port
        self.log_path = log_path
        self.extra_environ = environ or {}  # added to the profile's (e.g. ``REALTIME_CHANNEL_LAYER``)
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environ(self) -> dict[str, str]:
        return self.profile.server_environ() | self.extra_environ

    def booted(self) -> bool:
        return True

    def label(self) -> str:
        return f"port {self.port}"

    @property
    def tag(self) -> str:
        return self.name

    def pids(self) -> set[int]:
        """The server's process and all its descendants (workers, their helpers), as alive now."""
        return tree_pids(self.process.pid) if self.process is not None else set()

    def wait_idle(self, *, timeout: float = 60, interval: float = 0.5, busy_seconds: float = 0.05) -> float:
        """Wait until the process tree used under ``busy_seconds`` of CPU in ``interval``; returns the seconds waited.

        After ``start`` one worker answers; the others may still be importing
        the application. A timed phase should not pay for their boot.
        """
        started = time.monotonic()

        last = cpu_seconds(self.pids())
        while time.monotonic() - started < timeout:
            time.sleep(interval)
            now = cpu_seconds(self.pids())
            if now - last < busy_seconds:
                break
            last = now
        else:
            logger.warning("%s: still busy %.0f s after start", self.name, time.monotonic() - started)
        return round(time.monotonic() - started, 1)

    def start(self, timeout: float = 60) -> None:
        """Start the server and return once it is booted and answers ``/healthz``."""
        logger.info("%s: %s", self.name, self.label())
        self.process = procs.start(self.command(), env=self.environ(), log=self.log_path)
        procs.wait_until(
            lambda: self.booted() and procs.http_status(f"{self.base_url}/healthz", timeout=30) == 200,
            timeout=timeout,
            what=f"{self.name} answering /healthz",
            process=self.process,
            log=self.log_path,
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        procs.stop_group(self.process, timeout=self.stop_timeout, kill_timeout=5)
        logger.info("%s: stopped (port %d)", self.name, self.port)

    def log_position(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, position: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(position)
            return log.read().decode(errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_since(0).splitlines()[-lines:]) if self.log_path.exists() else ""


class GunicornServer(ServerProcess):
    """``gunicorn leaderboard_project.wsgi:application`` with the workers of a ``ServerConfig``."""

    name = "gunicorn"
    cpu_party = "gunicorn"

    def __init__(self, *, profile: Profile, config: ServerConfig, port: int, log_path: Path) -> None:
        super().__init__(profile=profile, port=port, log_path=log_path)
        self.config = config

    def label(self) -> str:
        return f"{self.config.label} on port {self.port}"

    @property
    def tag(self) -> str:
        return self.config.label

    def command(self) -> list[str]:
        command = [
            str(GUNICORN),
            WSGI_APP,
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.config.workers),
            "--worker-class", self.config.worker_class,
            "--timeout", "30",
            "--error-logfile", "-",
            "--log-level", "info",
            # gunicorn 27 opens a control socket at a fixed path in $HOME by default; a bench needs none.
            "--no-control-socket",
        ]  # fmt: skip
        if self.config.worker_class == "gthread":
            command += ["--threads", str(self.config.threads)]
        return command

    def booted(self) -> bool:
        return len(self.worker_pids()) >= self.config.workers

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        return [pid for pid, proc in processes().items() if proc.ppid == self.process.pid]

    def pids(self) -> set[int]:
        return {self.process.pid, *self.worker_pids()} if self.process else set()


class CommandServer(ServerProcess):
    """Any server started from a command line (granian, uvicorn, daphne, gunicorn...) with the profile's environment.

    ``{port}`` in the command becomes the port; ``environ`` is added to the
    profile's environment. The server counts as booted once its process tree
    holds ``processes`` processes and ``/healthz`` answers (one worker is up;
    ``wait_idle`` tells when the others are).
    """

    cpu_party = "server"

    def __init__(
        self,
        *,
        name: str,
        command: Sequence[str],
        profile: Profile,
        port: int,
        log_path: Path,
        processes: int = 1,
        environ: dict[str, str] | None = None,
    ) -> None:
        super().__init__(profile=profile, port=port, log_path=log_path, environ=environ)
        self.name = name
        self.command_line = list(command)
        self.processes = processes

    def label(self) -> str:
        return " ".join(self.command())

    def command(self) -> list[str]:
        return [part.replace("{port}", str(self.port)) for part in self.command_line]

    def booted(self) -> bool:
        return len(self.pids()) >= self.processes


class GranianServer(CommandServer):
    """The Procfile's ``web`` process: granian (WSGI), keep-alive, ``config.workers`` workers of
    ``config.threads`` blocking threads each."""

    def __init__(self, *, profile: Profile, config: ServerConfig, port: int, log_path: Path) -> None:
        command = [
            str(GRANIAN), "--interface", "wsgi", "--host", "127.0.0.1", "--port", "{port}",
            "--workers", str(config.workers), "--blocking-threads", str(config.threads),
            "--no-ws", "--log-level", "warning", WSGI_APP,
        ]  # fmt: skip
        super().__init__(
            name="granian", command=command, profile=profile, port=port, log_path=log_path, processes=config.workers + 1
        )
        self.config = config

    @property
    def tag(self) -> str:
        return self.config.label


def make_server(profile: Profile, config: ServerConfig, port: int, log_path: Path) -> ServerProcess:
    if config.worker_class == "granian":
        return GranianServer(profile=profile, config=config, port=port, log_path=log_path)
    return GunicornServer(profile=profile, config=config, port=port, log_path=log_path)


class UvicornServer(ServerProcess):
    """``uvicorn <app>`` (one process, WebSockets by the ``websockets`` library) in its own process group.

    The flags are those of the production profile's WebSocket servers.
    """

    name = "uvicorn"
    stop_timeout = 20.0

    def __init__(
        self,
        *,
        profile: Profile,
        port: int,
        log_path: Path,
        app: str = ASGI_APP,
        environ: dict[str, str] | None = None,
    ) -> None:
        super().__init__(profile=profile, port=port, log_path=log_path, environ=environ)
        self.app = app

    def label(self) -> str:
        return f"{self.app} on port {self.port}"

    @property
    def ws_base_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            str(UVICORN),
            self.app,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--ws", "websockets-sansio",
            "--no-access-log",
            "--ws-max-size", "65536",
            # The production profile: a frame is built once for every client; deflating it per connection
            # would be most of the fan-out's CPU.
            "--ws-per-message-deflate", "false",
            "--log-level", "warning",
        ]  # fmt: skip
