"""The machine a benchmark ran on: ``machine_info`` (CPU, cores, memory, platform, Python), and the extras benches add.

Every bench records ``machine_info(**extras)``: the common part first, then
what that bench adds (versions of what it ran, the load before it, the code it
measured). Figures from a noisy machine are compared through their ratios;
``load_before`` and ``warn_if_busy`` say when other work shared it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import platform
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.lib.cpu import machine_busy_percent
from bench.lib.paths import PROJECT_DIR

logger = logging.getLogger("bench.machine")


def machine_info(**extras: Any) -> dict[str, Any]:
    """Date, CPU count and model, memory, platform and Python, then ``extras`` in the order given."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "mem_total_gib": round(meminfo_kib().get("MemTotal", 0) / 2**20, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        **extras,
    }


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "" where there is none."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return ""
    lines = cpuinfo.read_text().splitlines()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")


def meminfo_kib() -> dict[str, int]:
    """/proc/meminfo in KiB (empty where there is none)."""
    meminfo = Path("/proc/meminfo")
    if not meminfo.exists():
        return {}
    fields = (line.split() for line in meminfo.read_text().splitlines())
    return {parts[0].rstrip(":"): int(parts[1]) for parts in fields if len(parts) >= 2}


def free_memory_bytes() -> int:
    return meminfo_kib().get("MemAvailable", 0) * 1024


def load_before() -> dict[str, Any]:
    """The load average, and how busy every CPU was over one second (100 = all busy), before the run."""
    return {"load_average": os.getloadavg(), "busy_percent_before": machine_busy_percent()}


def warn_if_busy(machine: dict[str, Any]) -> None:
    if machine["busy_percent_before"] > 25:
        logger.warning(
            "the machine was %.0f%% busy before the run (load average %s): another benchmark running?",
            machine["busy_percent_before"],
            machine["load_average"],
        )


def package_versions(names: Iterable[str], *, missing: str = "") -> dict[str, str]:
    """Installed distributions' versions by name; ``missing`` for one not installed."""

    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return missing

    return {name: version(name) for name in names}


def postgres_version() -> str:
    """``SHOW server_version`` through Django's connection."""
    return postgres_setting("server_version")


def postgres_setting(name: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def redis_server_version(url: str | None = None) -> str:
    """The version of the Redis server at ``url``; without one, of the ``redis-server`` binary ("" if none)."""
    if url is not None:
        import redis

        return redis.Redis.from_url(url).info("server")["redis_version"]
    found = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False).stdout
    return found.split()[2].removeprefix("v=") if found else ""


def serving_stack(redis_url: str) -> dict[str, Any]:
    """Versions of what serves Podium over HTTP in the benches: Django, gunicorn, wrk, the clients and servers."""
    import django
    import gunicorn
    import psycopg
    import redis

    from bench.lib.wrk import wrk_version

    return {
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "wrk": wrk_version(),
        "psycopg": psycopg.__version__,
        "redis_py": redis.__version__,
        "redis_server": redis_server_version(redis_url),
        "postgres": postgres_version(),
    }


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


def files_sha256(names: Iterable[str]) -> dict[str, str]:
    """The first 16 hex digits of each project file's SHA-256: which version of the code was measured."""
    return {name: hashlib.sha256((PROJECT_DIR / name).read_bytes()).hexdigest()[:16] for name in names}
