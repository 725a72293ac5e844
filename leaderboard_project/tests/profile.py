"""The production profile's processes, one by one, for tests that break things under them.

``Profile`` runs the ``Procfile``'s lines (the commands ``make serve`` runs under
honcho) as separate process groups, so a test can kill one of them, start a
second WebSocket server or a new worker, and keep the rest running. ``RedisServer``,
``RedisClusterNodes`` and ``PostgresServer`` are private servers on free ports that
a test may stop and start again without touching the machine's own, which other
tests use. Starting,
waiting and stopping processes is the benchmarks' harness (``bench/lib/procs.py``).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.lib import procs
from leaderboard_project import serve
from realtime.tests.servers import PROJECT, free_port

BIN = Path(sys.executable).parent
FIGURES = PROJECT / "artifacts" / "reliability.json"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def procfile() -> dict[str, str]:
    """The Procfile's commands by process name."""
    commands = {}
    for line in serve.PROCFILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            commands[name.strip()] = command.strip()
    return commands


def up(port: int, path: str = "/healthz") -> bool:
    return 200 <= procs.http_status(f"http://127.0.0.1:{port}{path}", timeout=2) < 400


def wait_until(check: Callable[[], Any], seconds: float, what: str | Callable[[], str], interval: float = 0.2) -> None:
    """Wait for ``check()`` to hold; ``what`` (or what it returns, read at the time-out) says what was awaited."""
    procs.wait_until(check, timeout=seconds, what=what, interval=interval, error=AssertionError)


class RedisServer:
    """A private redis-server that keeps nothing on disk, as the machine's own: a restart starts it empty."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = self.workdir / f"redis-{self.port}.log"
        self.process = procs.start_redis_server(port=self.port, workdir=self.workdir, log=log, timeout=10)

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None:
            procs.stop_group(self.process, sig=sig)
            self.process = None


class RedisClusterNodes:
    """A private Redis Cluster, as ``deploy/redis-cluster.sh`` makes it: 3 primaries and 3 replicas, each
    keeping nothing on disk, on six free consecutive loopback ports (and their cluster-bus ports, +10000)."""

    SCRIPT = PROJECT / "deploy" / "redis-cluster.sh"

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "redis-cluster"
        self.port = _free_ports(6)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _run(self, command: str) -> str:
        env = {**os.environ, "REDIS_CLUSTER_PORT": str(self.port), "REDIS_CLUSTER_DIR": str(self.dir)}
        done = subprocess.run(
            ["bash", str(self.SCRIPT), command], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, f"redis-cluster.sh {command}: {done.stdout}{done.stderr}"
        return done.stdout

    def start(self) -> None:
        """Start every node that is not running (a stopped one rejoins as a replica), and wait until each
        primary has a replica in sync."""
        self._run("start")

    def stop(self) -> None:
        self._run("stop")

    def primary_port(self, key: str, *, asking: int | None = None) -> int | None:
        """The port of the live primary that serves ``key``, as the node on ``asking`` (the first) sees the
        cluster now; None while no live primary serves it."""
        from redis.crc import key_slot

        slot = key_slot(key.encode())
        done = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(asking or self.port), "cluster", "nodes"],
            capture_output=True,
            text=True,
        )
        for line in done.stdout.splitlines():
            fields = line.split()  # id, address@bus-port, flags, primary, ping, pong, epoch, link, slots...
            flags = fields[2].split(",")
            if "master" not in flags or "fail" in flags or fields[7] != "connected":
                continue
            for served in fields[8:]:
                first, _, last = served.partition("-")
                if first.isdigit() and int(first) <= slot <= int(last or first):
                    return int(fields[1].split("@")[0].rsplit(":", 1)[1])
        return None

    def kill(self, port: int) -> None:
        """SIGKILL one node: no goodbye to the cluster, whose other nodes see it fail."""
        os.kill(int((self.dir / str(port) / "redis.pid").read_text()), signal.SIGKILL)


def _free_ports(count: int) -> int:
    """The first of ``count`` consecutive loopback ports that are free, each with its port + 10000."""
    for _ in range(100):
        first = random.randrange(20000, 40000)
        ports = [port for n in range(count) for port in (first + n, first + n + 10000)]
        try:
            probes = []
            for port in ports:
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return first
    raise RuntimeError(f"no {count} consecutive free ports")


class PostgresServer:
    """A private PostgreSQL 15 cluster (run as the ``postgres`` user, as the server refuses root)."""

    def __init__(self) -> None:
        self.port = free_port()
        # Not under the test's own temporary directory: the postgres user could not reach into it.
        self.dir = Path(tempfile.mkdtemp(prefix="podium-pg-"))
        shutil.chown(self.dir, "postgres")
        self._as_postgres(PG_BIN / "initdb", "-D", self.dir / "data", "-A", "trust", "-U", "postgres", "--no-sync")

    def _as_postgres(self, *command: object) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *map(str, command)], check=True, capture_output=True)

    def url(self, database: str, **query: str) -> str:
        params = "&".join(f"{key}={value}" for key, value in query.items())
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}" + (f"?{params}" if params else "")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        self._as_postgres(
            PG_BIN / "pg_ctl", "-D", self.dir / "data", "-o", options, "-l", self.dir / "log", "-w", "start"
        )

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: every session cut at once, as when the server crashes or its machine restarts."""
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.dir / "data", "-m", mode, "-w", "stop")

    def remove(self) -> None:
        """Stop the server if it runs, and delete its files."""
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.dir / "data"),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self, name: str) -> None:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", f"CREATE DATABASE {name}"],
            check=True,
            capture_output=True,
        )


@dataclass
class Profile:
    """Procfile processes started one by one with the environment ``make serve`` gives them."""

    env: dict[str, str]
    workdir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @classmethod
    def configure(cls, workdir: Path, **env: str) -> Profile:
        full = dict(env)
        serve.fill_defaults(full)
        full["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
        Path(full["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        return cls(env=full, workdir=workdir)

    def start(self, name: str, process: str | None = None, **env: str) -> subprocess.Popen:
        """Start the Procfile's ``process`` line (``name`` by default) as ``name``, with ``env`` on top."""
        command = procfile()[process or name]
        started = procs.start(
            ["bash", "-c", f"exec {command}"], env={**self.env, **env}, log=self.workdir / f"{name}.log", cwd=PROJECT
        )
        self.processes[name] = started
        return started

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        procs.stop_group(self.processes.pop(name), sig=sig)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for path in self.workdir.glob("*.log")
        )


@contextmanager
def running(profile: Profile) -> Iterator[Profile]:
    try:
        yield profile
    finally:
        profile.stop_all()


def call(port: int, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    """One HTTP request; returns the status and the JSON body (None when it is not JSON)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(request, data=data, timeout=15) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except OSError as error:
        return 0, str(error)  # no answer at all: refused, reset or timed out
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, None


def record(name: str, figures: dict[str, Any]) -> None:
    """Keep a test's figures in ``artifacts/reliability.json`` (what docs/reliability.md reports), by test name."""
    FIGURES.parent.mkdir(exist_ok=True)
    try:
        kept = json.loads(FIGURES.read_text())
    except (OSError, ValueError):
        kept = {}
    kept[name] = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
    FIGURES.write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")
