"""What bench.http and bench.batch share: Podium served as in production, its bench data, and wrk.

* ``Profile``: the environment of a production-like run (DEBUG off, a fresh
  SECRET_KEY, PostgreSQL and Redis on databases of the bench's own, the
  per-player score rate and the sign-in throttles raised out of the way), used
  both by the gunicorn server and by this process, which seeds the data.
* ``reset_and_seed``: migrate, empty every table and the Redis DB, then load
  N users, one game (descending, best score), a score for each user (through
  ``score_submit_batch``), an API key for the game, optionally an access token
  per user, and rebuild the ranking index (``rebuild_rankings``) so that it is
  marked complete and reads are served by Redis.
* ``ServerProcess``: a server in its own process group, its output in a log
  file that is scanned for errors after every phase, its processes (the whole
  tree) found for CPU accounting; stopped with its whole process group.
  ``GunicornServer`` is ``gunicorn leaderboard_project.wsgi:application`` with N
  workers of a class (``sync`` or ``gthread``); ``CommandServer`` runs any
  command line (granian, uvicorn, daphne, ...); ``UvicornServer`` is the
  production profile's WebSocket server.
* ``run_phase``: an optional untimed warm-up, then a timed run of ``wrk``
  replaying a request file (``bench/wrk_requests.lua``), with the CPU time each
  party used meanwhile (gunicorn, PostgreSQL, Redis, wrk) and the server log of
  that phase.

Nothing here measures by itself; the benchmarks (bench.http, bench.batch,
bench.servers, bench.ws_fanout) decide the phases.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger("bench.serving")

PROJECT_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT_DIR / "bench"
RESULTS_DIR = BENCH_DIR / "results"
WORK_DIR = BENCH_DIR / "work"
WRK_SCRIPT = BENCH_DIR / "wrk_requests.lua"
GUNICORN = Path(sys.executable).with_name("gunicorn")
GRANIAN = Path(sys.executable).with_name("granian")
GRANIAN_THREADS = 32  # the Procfile's WEB_THREADS default
WSGI_APP = "leaderboard_project.wsgi:application"

# High enough never to be what a benchmark measures; the bench says so in its output.
SCORE_RATE = "1000000/min"
KEY_SCORE_RATE = "1000000000/min"  # a game server's batches carry tens of thousands of scores a second
THROTTLE_RATE = "1000000/min"
JWT_ACCESS_MINUTES = 720
# Variables of the calling shell that would change what is measured.
CLEARED_ENV = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "RANKING_ENGINE",
    "RANKING_REDIS_URL",
    "CELERY_BROKER_URL",
    "JWT_SIGNING_KEY",
    "DB_CONN_MAX_AGE",
    "NUM_PROXIES",
    "API_MAX_BODY_BYTES",
    "DJANGO_SETTINGS_MODULE",
)
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- environment -----------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """The production-like environment shared by the server and the seeding process."""

    database_url: str
    redis_url: str
    settings_module: str = "leaderboard_project.settings"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50), repr=False)

    def environ(self) -> dict[str, str]:
        return {
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "DEBUG": "false",
            "SECRET_KEY": self.secret_key,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SCORE_RATE_PER_USER_GAME": SCORE_RATE,
            "SCORE_RATE_PER_API_KEY": KEY_SCORE_RATE,
            "THROTTLE_LOGIN_IP": THROTTLE_RATE,
            "THROTTLE_LOGIN_USERNAME": THROTTLE_RATE,
            "THROTTLE_REGISTER_IP": THROTTLE_RATE,
            "THROTTLE_REGISTER_USERNAME": THROTTLE_RATE,
            "JWT_ACCESS_MINUTES": str(JWT_ACCESS_MINUTES),
            "LOG_LEVEL": "INFO",
        }

    def server_environ(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in CLEARED_ENV}
        return env | self.environ()

    def described(self) -> dict[str, str]:
        """The environment as recorded in the results (the secret left out)."""
        return {key: value for key, value in self.environ().items() if key != "SECRET_KEY"} | {"SECRET_KEY": "(random)"}


def check_wrk() -> str | None:
    """Why the load generator cannot run (None when it can)."""
    return None if shutil.which("wrk") else "this benchmark drives the server with wrk: apt-get install wrk"


def check_dedicated_redis(url: str) -> str | None:
    """An error message when ``url`` is not a dedicated Redis DB (the bench flushes it)."""
    if urlsplit(url).path.strip("/") in ("", "0"):
        return "--redis-url must name a dedicated Redis DB other than 0: the bench flushes it"
    return None


def ensure_database(database_url: str) -> None:
    """Create the bench database if it is missing (connecting to the server's ``postgres`` database)."""
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            logger.info("postgres: creating database %s", name)
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(profile: Profile) -> None:
    for key in CLEARED_ENV:
        os.environ.pop(key, None)
    os.environ.update(profile.environ())
    import django

    django.setup()


# --- data --------------------------------------------------------------------------


@dataclass
class Seed:
    game_id: uuid.UUID
    user_ids: list[uuid.UUID]
    access_tokens: list[str]
    api_key: str
    report: dict[str, Any]


def reset_and_seed(*, profile: Profile, users: int, tokens: bool, seed: int) -> Seed:
    """Empty the bench database and Redis DB, then load the bench data (see the module docstring)."""
    import redis
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from accounts.services import api_key_create, user_tokens
    from games.services import game_create
    from scores.services import MAX_BATCH, BatchItem, score_submit_batch

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    redis.Redis.from_url(profile.redis_url).flushdb()

    rng = random.Random(seed)
    people = []
    for i in range(users):
        user = User(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            username=f"bench{i:06d}",
            email=f"bench{i:06d}@example.invalid",
            display_name=f"Bench player {i}",
        )
        user.set_unusable_password()
        people.append(user)
    User.objects.bulk_create(people, batch_size=5_000)
    game = game_create(name="Bench game", slug="bench-game", sort_order="desc", score_operator="best")
    api_key, raw_key = api_key_create(name="bench", games=[game])
    for start in range(0, users, MAX_BATCH):
        items = [
            BatchItem(user.pk, game.pk, rng.randrange(10**9), {}, None) for user in people[start : start + MAX_BATCH]
        ]
        outcomes = score_submit_batch(api_key=api_key, items=items)
        if any(outcome.status != "created" for outcome in outcomes):
            raise RuntimeError(f"seeding: a first score was not created: {outcomes[0]}")
    access = [user_tokens(user=user)["access"] for user in people] if tokens else []
    with contextlib.redirect_stdout(io.StringIO()) as rebuilt:
        call_command("rebuild_rankings")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    seconds = round(time.perf_counter() - started, 1)
    summary = rebuilt.getvalue().strip().rsplit("\n", 1)[-1].strip()
    logger.info("seeded %s users, 1 game, %s scores in %.1fs; %s", f"{users:,}", f"{users:,}", seconds, summary)
    return Seed(
        game_id=game.pk,
        user_ids=[user.pk for user in people],
        access_tokens=access,
        api_key=raw_key,
        report={
            "users": users,
            "games": 1,
            "game": {"slug": game.slug, "sort_order": "desc", "score_operator": "best"},
            "first_scores": users,
            "access_tokens": len(access),
            "rebuild_rankings": summary,
            "seconds": seconds,
        },
    )


def score_count() -> int:
    from scores.models import Score

    return Score.objects.count()


# --- request files ------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One line of a request file; a ``{score}`` in the body becomes a random integer per request."""

    method: str
    path: str
    authorization: str = ""
    body: str = ""


def write_request_file(path: Path, requests: Iterable[Request]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for request in requests:
            fields = (request.method, request.path, request.authorization, request.body)
            if any("\t" in value or "\n" in value for value in fields):
                raise ValueError(f"a request field holds a tab or a newline: {request.path}")
            out.write("\t".join(fields) + "\n")
    return path


def work_dir(name: str) -> Path:
    path = WORK_DIR / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def remove_work_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(OSError):
        WORK_DIR.rmdir()


def http_call(base_url: str, request: Request, *, score: int = 1) -> tuple[int, Any]:
    """One request outside wrk, for the checks: (status, parsed JSON body or None)."""
    body = request.body.replace("{score}", str(score)).encode() if request.body else None
    call = urllib.request.Request(base_url + request.path, data=body, method=request.method)
    if request.authorization:
        call.add_header("Authorization", request.authorization)
    if body is not None:
        call.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(call, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


# --- the server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def add_thread_arguments(parser: argparse.ArgumentParser) -> None:
    """``--gthread-threads`` and ``--blocking-threads``: the threads of each worker, for gunicorn's gthread and
    for granian."""
    parser.add_argument("--gthread-threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument(
        "--blocking-threads",
        type=int,
        default=GRANIAN_THREADS,
        help=f"granian's threads per worker (default {GRANIAN_THREADS}, the Procfile's WEB_THREADS)",
    )


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

    def __init__(self, *, profile: Profile, port: int, log_path: Path) -> None:
        self.profile = profile
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environ(self) -> dict[str, str]:
        return self.profile.server_environ()

    def booted(self) -> bool:
        return True

    def label(self) -> str:
        return f"port {self.port}"

    @property
    def tag(self) -> str:
        return self.name

    def pids(self) -> set[int]:
        """The server's process and all its descendants (workers, their helpers), as alive now."""
        if self.process is None:
            return set()
        every = processes()
        found = {self.process.pid}
        grew = True
        while grew:
            more = {pid for pid, proc in every.items() if proc.ppid in found} - found
            grew = bool(more)
            found |= more
        return found

    def wait_idle(self, *, timeout: float = 60, interval: float = 0.5, busy_seconds: float = 0.05) -> float:
        """Wait until the process tree used under ``busy_seconds`` of CPU in ``interval``; returns the seconds waited.

        After ``start`` one worker answers; the others may still be importing
        the application. A timed phase should not pay for their boot.
        """
        started = time.monotonic()

        def ticks() -> int:
            every = processes()
            return sum(every[pid].cpu_ticks for pid in self.pids() if pid in every)

        last = ticks()
        while time.monotonic() - started < timeout:
            time.sleep(interval)
            now = ticks()
            if (now - last) / CLK_TCK < busy_seconds:
                break
            last = now
        else:
            logger.warning("%s: still busy %.0f s after start", self.name, time.monotonic() - started)
        return round(time.monotonic() - started, 1)

    def start(self, timeout: float = 60) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        logger.info("%s: %s", self.name, self.label())
        self.process = subprocess.Popen(
            self.command(),
            cwd=PROJECT_DIR,
            env=self.environ(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if self.booted() and http_call(self.base_url, Request("GET", "/healthz"))[0] == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer /healthz within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 15) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
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
        super().__init__(profile=profile, port=port, log_path=log_path)
        self.name = name
        self.command_line = list(command)
        self.processes = processes
        self.extra_environ = environ or {}

    def label(self) -> str:
        return " ".join(self.command())

    def command(self) -> list[str]:
        return [part.replace("{port}", str(self.port)) for part in self.command_line]

    def environ(self) -> dict[str, str]:
        return self.profile.server_environ() | self.extra_environ

    def booted(self) -> bool:
        return len(self.pids()) >= self.processes


_PROBLEM = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback|WORKER TIMEOUT")
_WARNING = re.compile(r"\bWARNING\b")
_BOOT = re.compile(r"Booting worker")


def scan_log(text: str) -> dict[str, Any]:
    """Count what a phase left in the server log: errors, warnings (Django logs every 4xx), worker restarts."""
    lines = text.splitlines()
    problems = [line for line in lines if _PROBLEM.search(line)]
    warnings = [line for line in lines if _WARNING.search(line)]
    samples = list(dict.fromkeys(re.sub(r"^\S+ \S+ ", "", line)[:200] for line in problems + warnings))[:5]
    return {
        "lines": len(lines),
        "errors": len(problems),
        "warnings": len(warnings),
        "worker_boots": sum(1 for line in lines if _BOOT.search(line)),
        "samples": samples,
    }


@contextlib.contextmanager
def stopped_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt, so that ``finally`` blocks stop the server."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --- CPU accounting ----------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    comm: str
    ppid: int
    cpu_ticks: int


def processes() -> dict[int, Proc]:
    found: dict[int, Proc] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        close = stat.rfind(")")
        fields = stat[close + 2 :].split()
        found[int(entry.name)] = Proc(
            stat[stat.find("(") + 1 : close], int(fields[1]), int(fields[11]) + int(fields[12])
        )
    return found


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already in user
    return total - idle, total


def machine_busy_percent(seconds: float = 1.0) -> float:
    """How busy all CPUs were over ``seconds`` (100 = every core busy)."""
    busy_0, total_0 = machine_ticks()
    time.sleep(seconds)
    busy_1, total_1 = machine_ticks()
    return round(100 * (busy_1 - busy_0) / max(total_1 - total_0, 1), 1)


@dataclass
class CpuSnapshot:
    wall: float
    by_pid: dict[int, Proc]
    machine: tuple[int, int]
    children_seconds: float


def cpu_snapshot() -> CpuSnapshot:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSnapshot(time.monotonic(), processes(), machine_ticks(), children.ru_utime + children.ru_stime)


def cpu_usage(
    before: CpuSnapshot, after: CpuSnapshot, server_pids: set[int], *, party: str = "gunicorn"
) -> dict[str, float]:
    """``cpu_by_party`` for a wrk phase: the server (as ``party``), PostgreSQL, Redis, wrk, other.

    wrk is the bench's only child that exits in between, so its CPU is the
    growth of this process's reaped-children time.
    """
    return cpu_by_party(
        before, after, {party: server_pids}, measured={"wrk": after.children_seconds - before.children_seconds}
    )


# --- wrk ----------------------------------------------------------------------------------


@dataclass
class WrkResult:
    duration_s: float
    requests: int
    requests_per_s: float
    latency_ms: dict[str, float]
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    bytes_received: int

    def unexpected(self, ok: Sequence[int]) -> int:
        """Responses with a status other than ``ok``, plus socket errors and time-outs."""
        return sum(count for status, count in self.statuses.items() if status not in ok) + sum(
            self.socket_errors.values()
        )

    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)


def wrk_version() -> str:
    found = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (found.stdout or found.stderr).split("\n", 1)[0].split(" Copyright")[0].strip()


def run_wrk(
    base_url: str, request_file: Path, *, duration: float, connections: int, threads: int, timeout: float = 10
) -> tuple[WrkResult, str]:
    """Run wrk over ``request_file``; returns its result and its printed output."""
    command = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={duration:g}s",
        f"--timeout={timeout:g}s",
        "--latency",
        f"--script={WRK_SCRIPT}",
        base_url,
        "--",
        str(request_file),
        str(threads),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_DIR)
    line = next((line for line in done.stdout.splitlines() if line.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / 1e6
    latency = {key: round(value / 1000, 2) for key, value in raw["latency_us"].items()}
    errors = raw["errors"]
    result = WrkResult(
        duration_s=round(seconds, 2),
        requests=raw["requests"],
        requests_per_s=round(raw["requests"] / seconds, 1),
        latency_ms=latency,
        statuses={int(status): count for status, count in sorted(raw["statuses"].items())},
        socket_errors={key: errors[key] for key in ("connect", "read", "write", "timeout")},
        bytes_received=raw["bytes"],
    )
    return result, done.stdout.replace(line + "\n", "")


@dataclass(frozen=True)
class Phase:
    name: str
    what: str
    request_file: Path
    ok: tuple[int, ...] = (200,)


@dataclass
class PhaseResult:
    name: str
    what: str
    server: str
    result: WrkResult
    cpu: dict[str, float]
    log: dict[str, Any]
    warmup: dict[str, Any] | None
    checks: dict[str, Any] = field(default_factory=dict)
    wrk_output: str = ""
    ok: tuple[int, ...] = (200,)

    @property
    def unexpected(self) -> int:
        return self.result.unexpected(self.ok)


def run_phase(
    server: ServerProcess,
    phase: Phase,
    *,
    duration: float,
    warmup: float,
    connections: int,
    threads: int,
    count: Callable[[], int] | None = None,
) -> PhaseResult:
    """Warm up (untimed, recorded), then one timed wrk run with CPU accounting and the server log scanned.

    ``count`` (e.g. the number of stored scores) is read right before and after
    the timed run; its growth goes into the result's checks as ``stored``.
    """
    warm = None
    if warmup > 0:
        warm_result, _ = run_wrk(
            server.base_url, phase.request_file, duration=warmup, connections=connections, threads=threads
        )
        warm = {"seconds": warmup, "requests": warm_result.requests, "statuses": warm_result.statuses}
    position = server.log_position()
    pids = server.pids()
    counted = count() if count else 0
    before = cpu_snapshot()
    result, output = run_wrk(
        server.base_url, phase.request_file, duration=duration, connections=connections, threads=threads
    )
    after = cpu_snapshot()
    checks = {"stored": count() - counted} if count else {}
    log = scan_log(server.log_since(position))
    done = PhaseResult(
        name=phase.name,
        what=phase.what,
        server=server.tag,
        result=result,
        cpu=cpu_usage(before, after, pids, party=server.cpu_party),
        log=log,
        warmup=warm,
        checks=checks,
        wrk_output=output,
        ok=phase.ok,
    )
    if done.unexpected or log["errors"] or log["worker_boots"]:
        logger.warning(
            "%s / %s: %d unexpected responses or socket errors %s %s, server log: %d errors, %d worker boots %s",
            server.tag, phase.name, done.unexpected, result.statuses, result.socket_errors,
            log["errors"], log["worker_boots"], log["samples"],
        )  # fmt: skip
    logger.info(
        "%s / %s: %.0f req/s, p50 %.2f ms, p99 %.2f ms, statuses %s",
        server.tag, phase.name, result.requests_per_s, result.latency_ms["p50"], result.latency_ms["p99"],
        result.statuses,
    )  # fmt: skip
    return done


def phase_record(phase: PhaseResult, **extra: Any) -> dict[str, Any]:
    record = asdict(phase)
    record["unexpected"] = phase.unexpected
    record["non_2xx"] = phase.result.non_2xx()
    record.update(extra)
    return record


# --- report ---------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "" where there is none."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return ""
    lines = cpuinfo.read_text().splitlines()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")


def machine_info(profile: Profile) -> dict[str, Any]:
    import django
    import gunicorn
    import psycopg
    import redis
    from django.db import connection

    model = cpu_model()
    mem_kib = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres_version = cursor.fetchone()[0]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "mem_total_gib": round(mem_kib / 2**20, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "wrk": wrk_version(),
        "psycopg": psycopg.__version__,
        "redis_py": redis.__version__,
        "redis_server": redis.Redis.from_url(profile.redis_url).info("server")["redis_version"],
        "postgres": postgres_version,
        "load_average": os.getloadavg(),
        "busy_percent_before": machine_busy_percent(),
    }


def machine_line(name: str, machine: dict[str, Any]) -> str:
    return (
        f"{name}  {machine['date']}  {machine['cpu_count']} CPUs ({machine['cpu_model']})  "
        f"Python {machine['python']}  Django {machine['django']}  gunicorn {machine['gunicorn']}  "
        f"{machine['wrk']}  PostgreSQL {machine['postgres']}  Redis {machine['redis_server']}"
    )


def statuses_text(phase: PhaseResult) -> str:
    """The responses that were not the expected status, e.g. ``429:312 read:4``, or ``0``."""
    parts = [f"{status}:{count}" for status, count in phase.result.statuses.items() if status not in phase.ok]
    parts += [f"{kind}:{count}" for kind, count in phase.result.socket_errors.items() if count]
    return " ".join(parts) or "0"


def cpu_table(phases: Sequence[PhaseResult]) -> list[str]:
    lines = [
        "CPU during each timed phase, % of one core (machine = all cores, 100 per core):",
        f"{'server':14} {'phase':8} | {'server':>8} {'postgres':>8} {'redis':>6} {'wrk':>6} {'other':>6} | "
        f"{'machine':>7} | server log: errors, warnings, worker boots",
    ]
    for phase in phases:
        cpu, log = phase.cpu, phase.log
        lines.append(
            f"{phase.server:14} {phase.name:8} | {cpu.get('gunicorn', cpu.get('server', 0)):8.0f} "
            f"{cpu['postgres']:8.0f} {cpu['redis']:6.0f} "
            f"{cpu['wrk']:6.0f} {cpu['other']:6.0f} | {cpu['machine']:7.0f} | "
            f"{log['errors']}, {log['warnings']}, {log['worker_boots']}"
        )
    return lines


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    logger.info("wrote %s", path)


def warn_if_busy(machine: dict[str, Any]) -> None:
    if machine["busy_percent_before"] > 25:
        logger.warning(
            "the machine was %.0f%% busy before the run (load average %s): another benchmark running?",
            machine["busy_percent_before"],
            machine["load_average"],
        )


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


def run_server(
    args: argparse.Namespace,
    profile: Profile,
    config: ServerConfig,
    phases: list[Phase],
    *,
    check: Callable[[str], dict[str, Any]],
    counted_phase: str,
) -> list[PhaseResult]:
    """Start one gunicorn, check it answers (``check(base_url)``), run the selected phases, stop it.

    ``counted_phase`` is the phase whose stored scores are counted in the database.
    """
    port = args.port or free_port()
    log_path = args.work / f"server-{config.worker_class}.log"
    server = make_server(profile, config, port, log_path)
    results: list[PhaseResult] = []
    try:
        server.start()
        checks = check(server.base_url)
        startup_log = scan_log(server.log_since(0))
        for phase in phases:
            if phase.name in args.phases:
                results.append(
                    run_phase(
                        server,
                        phase,
                        duration=args.duration,
                        warmup=args.warmup,
                        connections=args.connections,
                        threads=args.threads,
                        count=score_count if phase.name == counted_phase else None,
                    )
                )
        if results:
            results[0].checks["server"] = checks | {"startup_log": startup_log}
    finally:
        server.stop()
    return results


# --- WebSocket servers and CPU by party (bench.ws_fanout) ---------------------------------------

UVICORN = Path(sys.executable).with_name("uvicorn")
ASGI_APP = "leaderboard_project.asgi:application"


class UvicornServer(ServerProcess):
    """``uvicorn <app>`` (one process, WebSockets by the ``websockets`` library) in its own process group.

    The flags are those of the production profile's WebSocket servers; ``environ``
    is added to the profile's environment (e.g. ``REALTIME_CHANNEL_LAYER``).
    """

    name = "uvicorn"

    def __init__(
        self,
        *,
        profile: Profile,
        port: int,
        log_path: Path,
        app: str = ASGI_APP,
        environ: dict[str, str] | None = None,
    ) -> None:
        super().__init__(profile=profile, port=port, log_path=log_path)
        self.app = app
        self.extra_environ = environ or {}

    def label(self) -> str:
        return f"{self.app} on port {self.port}"

    def environ(self) -> dict[str, str]:
        return self.profile.server_environ() | self.extra_environ

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

    def stop(self, timeout: float = 20) -> None:
        super().stop(timeout)


def cpu_by_party(
    before: CpuSnapshot,
    after: CpuSnapshot,
    parties: dict[str, set[int]],
    *,
    measured: dict[str, float] | None = None,
) -> dict[str, float]:
    """CPU each party used between two snapshots, in % of one core (a 2-core machine tops out at 200).

    ``parties`` names sets of process ids (processes alive at the second
    snapshot); PostgreSQL and Redis are found by process name; ``measured``
    adds parties whose CPU seconds were measured otherwise. ``other`` is
    every other process plus kernel time not charged to a process.
    """
    wall = after.wall - before.wall

    def seconds_of(pids: Iterable[int]) -> float:
        total = 0
        for pid in pids:
            if pid in after.by_pid:
                start = before.by_pid.get(pid)
                total += after.by_pid[pid].cpu_ticks - (start.cpu_ticks if start else 0)
        return total / CLK_TCK

    groups = {name: seconds_of(pids) for name, pids in parties.items()}
    groups["postgres"] = seconds_of(pid for pid, proc in after.by_pid.items() if proc.comm == "postgres")
    groups["redis"] = seconds_of(pid for pid, proc in after.by_pid.items() if proc.comm == "redis-server")
    groups.update(measured or {})
    cores = os.cpu_count() or 1
    busy = (after.machine[0] - before.machine[0]) / max(after.machine[1] - before.machine[1], 1) * cores * wall
    groups["other"] = max(busy - sum(groups.values()), 0.0)
    usage = {name: round(100 * seconds / wall, 1) for name, seconds in groups.items()}
    usage["machine"] = round(100 * busy / wall, 1)
    return usage


def rss_mib(pids: Iterable[int]) -> float:
    """Resident memory of these processes together, in MiB (0 for those gone)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
    return round(total / 1024, 1)


def code_state() -> dict[str, Any]:
    """The commit a bench ran on, and what was changed outside bench/ (figures of uncommitted code say so)."""

    def git(*command: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", *command],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.rstrip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_outside_bench": [
            line for line in git("status", "--porcelain").splitlines() if " bench/" not in line
        ],
    }
