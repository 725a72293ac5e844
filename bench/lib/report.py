"""Writing a benchmark's result: the JSON file (complete, or ``<json>.partial`` while running) and its table header."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger("bench.report")


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    logger.info("wrote %s", path)


def partial_path(path: Path) -> Path:
    """Where the report so far goes while a run is not complete: ``<path>.partial``."""
    return path.with_name(path.name + ".partial")


def write_result(path: Path, report: dict[str, Any], *, complete: bool) -> None:
    """Write the report; until the run is complete it goes to ``<path>.partial``.

    So a run that dies keeps what it measured without overwriting the last
    complete report; the complete one removes the partial file.
    """
    write_json(path if complete else partial_path(path), report)
    if complete:
        partial_path(path).unlink(missing_ok=True)


def machine_line(name: str, machine: dict[str, Any], *versions: str) -> str:
    """The first line of a table: the bench, when, on which CPUs, then ``versions`` (``"Python 3.13.1"``...)."""
    return "  ".join([name, machine["date"], f"{machine['cpu_count']} CPUs ({machine['cpu_model']})", *versions])


def serving_machine_line(name: str, machine: dict[str, Any]) -> str:
    """``machine_line`` with the versions of ``machine.serving_stack`` (bench.http, bench.batch, bench.servers)."""
    return machine_line(
        name, machine, f"Python {machine['python']}", f"Django {machine['django']}", f"gunicorn {machine['gunicorn']}",
        machine["wrk"], f"PostgreSQL {machine['postgres']}", f"Redis {machine['redis_server']}",
    )  # fmt: skip
