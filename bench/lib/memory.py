"""Memory over time (bench.soak): every process of the production profile under honcho, Redis, PostgreSQL, trends.

``ProfileProcesses`` names each process under honcho by Procfile entry and
place (``web: granian worker 1``) and samples its RSS, USS and CPU time with
psutil; ``memory_trend`` turns a series into slopes and a verdict.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.lib.postgres import admin_url, database_name
from bench.lib.stats import mean, slope

logger = logging.getLogger("bench.memory")

MIB = 2**20

# A process "grows steadily" when its RSS rises by at least this much per minute both over the whole window and
# over its second half. 0.25 MiB/min is 15 MiB an hour, 360 MiB a day: a leak of that size would take a worker
# of about 100 MiB past 1 GiB within three days, and at the default 60 actions/s it is about 140 bytes kept per
# request for each web worker (about 32 requests/s each). Below it, a 10-minute window cannot tell a leak from the
# allocator: RSS moves in steps of an arena or a page run (about 1 MiB), and one 1 MiB step in the middle of a
# window fits a slope of about 0.15 MiB/min. Requiring the second half to grow too separates a warm-up that
# settles (caches, connection pools, interned strings filled in the first minutes) from growth that goes on.
GROWTH_MIB_PER_MIN = 0.25


ROLES = (("web", ("granian",)), ("ws", ("uvicorn",)), ("worker", ("celery", "worker")), ("beat", ("celery", "beat")))

MAIN_NAME = {"web": "granian main", "ws": "uvicorn", "worker": "celery main", "beat": "celery beat"}

CHILD_NAME = {"web": "granian worker", "ws": "uvicorn worker", "worker": "celery pool", "beat": "beat child"}


def role_of(procs: Iterable[psutil.Process]) -> str:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            words = {Path(word).name for word in " ".join(proc.cmdline()).split()}
            for role, needed in ROLES:
                if all(word in words for word in needed):
                    return role
    return "other"


@dataclass
class Tracked:
    label: str
    role: str
    proc: psutil.Process
    command: str
    first_seen_s: float
    rss_mib: list[float | None] = field(default_factory=list)
    uss_mib: list[float | None] = field(default_factory=list)
    cpu_s: list[float | None] = field(default_factory=list)


class ProfileProcesses:
    """Every process under honcho, each with a stable label (``web: granian worker 1``) and its samples."""

    def __init__(self, honcho_pid: int) -> None:
        self.root = psutil.Process(honcho_pid)
        self.tracked: dict[int, Tracked] = {}
        self.restarts: list[dict[str, Any]] = []
        self.times_s: list[float] = []
        self.marks: list[str] = []

    def discover(self, now_s: float) -> None:
        """Label processes not seen before: by Procfile entry (role) and depth under honcho."""
        with contextlib.suppress(psutil.NoSuchProcess):
            if self.root.pid not in self.tracked:
                self._track(self.root, "honcho (parent)", "honcho", now_s)
            for runner in self.root.children():
                below = runner.children(recursive=True)
                role = role_of(below)
                self._track(runner, f"{role}: honcho runner", role, now_s)
                for shell in runner.children():
                    self._track(shell, f"{role}: sh", role, now_s)
                    for main in shell.children():
                        self._track(main, f"{role}: {MAIN_NAME.get(role, main.name())}", role, now_s)
                        for child in sorted(main.children(recursive=True), key=lambda p: (p.create_time(), p.pid)):
                            self._track(
                                child, f"{role}: {CHILD_NAME.get(role, child.name())}", role, now_s, numbered=True
                            )

    def _track(self, proc: psutil.Process, label: str, role: str, now_s: float, *, numbered: bool = False) -> None:
        if proc.pid in self.tracked and self.tracked[proc.pid].proc.is_running():
            return
        if numbered:
            taken = {t.label for t in self.tracked.values() if t.proc.is_running()}
            number = 1
            while f"{label} {number}" in taken:
                number += 1
            label = f"{label} {number}"
        gone = [t for t in self.tracked.values() if t.label == label and not t.proc.is_running()]
        if gone:
            self.restarts.append({"label": label, "old_pid": gone[0].proc.pid, "new_pid": proc.pid, "at_s": now_s})
            label = f"{label} (pid {proc.pid})"
        try:
            command = " ".join(proc.cmdline())
        except psutil.Error:
            command = ""
        tracked = Tracked(label, role, proc, command[:300], now_s)
        tracked.rss_mib = [None] * len(self.times_s)
        tracked.uss_mib = [None] * len(self.times_s)
        tracked.cpu_s = [None] * len(self.times_s)
        self.tracked[proc.pid] = tracked

    def sample(self, now_s: float, mark: str) -> None:
        self.discover(now_s)
        self.times_s.append(round(now_s, 1))
        self.marks.append(mark)
        for tracked in self.tracked.values():
            rss = uss = cpu = None
            with contextlib.suppress(psutil.Error):
                if tracked.proc.is_running():
                    with tracked.proc.oneshot():
                        info = tracked.proc.memory_full_info()
                        times = tracked.proc.cpu_times()
                    rss, uss = round(info.rss / MIB, 2), round(info.uss / MIB, 2)
                    cpu = round(times.user + times.system, 2)
            tracked.rss_mib.append(rss)
            tracked.uss_mib.append(uss)
            tracked.cpu_s.append(cpu)

    def all_procs(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            self.discover(self.times_s[-1] if self.times_s else 0.0)
        return [tracked.proc for tracked in self.tracked.values()]

    def total_rss(self, index: int) -> float:
        return round(sum(t.rss_mib[index] or 0 for t in self.tracked.values()), 1)


def redis_memory(port: int, pid: int) -> dict[str, Any]:
    import redis

    info = redis.Redis(port=port, socket_timeout=2).info()
    return {
        "used_memory_mib": round(info["used_memory"] / MIB, 2),
        "used_memory_rss_mib": round(info["used_memory_rss"] / MIB, 2),
        "process_rss_mib": round(psutil.Process(pid).memory_info().rss / MIB, 2),
        "keys": sum(value.get("keys", 0) for key, value in info.items() if key.startswith("db")),
        "connected_clients": info["connected_clients"],
    }


def postgres_memory(database_url: str) -> dict[str, Any]:
    """The database's size, and the sessions connected to it (not this one) with their backends' memory."""
    import psycopg

    name = database_name(database_url)
    with psycopg.connect(admin_url(database_url), autocommit=True) as conn:
        size = conn.execute("SELECT pg_database_size(%s)", [name]).fetchone()[0]
        pids = [row[0] for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [name])]
    rss = uss = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            info = psutil.Process(pid).memory_full_info()
            rss, uss = rss + info.rss, uss + info.uss
    return {
        "database_mib": round(size / MIB, 2),
        "sessions": len(pids),
        "backends_rss_mib": round(rss / MIB, 2),
        "backends_uss_mib": round(uss / MIB, 2),
    }


def wait_leftovers(procs: Iterable[psutil.Process], *, grace: float = 30, timeout: float = 10) -> dict[str, Any]:
    """Wait for these processes to end (honcho has signalled them), then SIGTERM and SIGKILL the ones still alive.

    honcho counts a Procfile entry stopped when its shell ends, which is at once, while the Celery worker and
    beat under it are still shutting down: they outlive honcho by a moment, and must be gone before the next run.
    """
    started = time.monotonic()
    alive = [proc for proc in procs if proc.is_running()]
    names = {proc.pid: f"{proc.pid} {proc.name()}" for proc in alive}
    _, alive = psutil.wait_procs(alive, timeout=grace)
    waited = round(time.monotonic() - started, 1)
    forced = [names[proc.pid] for proc in alive]
    if alive:
        logger.warning("processes still alive %.0f s after the profile stopped, terminating: %s", grace, forced)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        _, alive = psutil.wait_procs(alive, timeout=timeout)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
    return {"outlived_honcho": sorted(names.values()), "waited_s": waited, "terminated_by_bench": forced}


def memory_trend(
    times_s: Sequence[float], values: Sequence[float | None], *, end: int, duration: float
) -> dict[str, Any]:
    """Slope over the window (samples up to index ``end``) and its second half, the halves' means, and the verdict.

    The verdict is "STEADY GROWTH" when both slopes reach ``GROWTH_MIB_PER_MIN``
    and the last half's mean is above the first's.
    """
    inside = list(zip(times_s[: end + 1], values[: end + 1], strict=True))
    times = [t for t, _ in inside]
    vals = [v for _, v in inside]
    half = duration / 2
    first = [v for t, v in inside if t < half]
    last = [v for t, v in inside if t >= half]
    # Slopes per minute.
    whole = slope([t / 60 for t in times], vals)
    late = slope([t / 60 for t in times if t >= half], [v for t, v in inside if t >= half])
    first_mean, last_mean = mean(first), mean(last)
    halves = round(last_mean - first_mean, 2) if first_mean is not None and last_mean is not None else None
    present = [v for v in vals if v is not None]
    if whole is None or late is None or halves is None:
        verdict = "not enough samples"
    elif whole >= GROWTH_MIB_PER_MIN and late >= GROWTH_MIB_PER_MIN and halves > 0:
        verdict = "STEADY GROWTH"
    elif whole >= GROWTH_MIB_PER_MIN and halves > 0:
        verdict = "grew, then settled"
    else:
        verdict = "no steady growth"
    return {
        "start": present[0] if present else None,
        "end": present[-1] if present else None,
        "growth": round(present[-1] - present[0], 2) if present else None,
        "slope_per_min": whole,
        "second_half_slope_per_min": late,
        "first_half_mean": first_mean,
        "last_half_mean": last_mean,
        "last_minus_first_half": halves,
        "verdict": verdict,
    }
