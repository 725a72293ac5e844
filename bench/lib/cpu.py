"""CPU and memory of processes, from /proc: who used how much CPU during a timed phase, and resident memory.

``cpu_snapshot`` before and after a phase, then ``cpu_by_party`` splits the
CPU time between the parties (a server's process tree, PostgreSQL, Redis, the
load generator, everything else). Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def tree_pids(root: int) -> set[int]:
    """``root`` and all its descendants, as alive now."""
    every = processes()
    found = {root}
    grew = True
    while grew:
        more = {pid for pid, proc in every.items() if proc.ppid in found} - found
        grew = bool(more)
        found |= more
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU seconds these processes have used so far (0 for those gone)."""
    every = processes()
    return sum(every[pid].cpu_ticks for pid in pids if pid in every) / CLK_TCK
