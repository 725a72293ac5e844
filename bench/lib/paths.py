"""Where the benchmarks live and write: the project root, the results, and the scratch work directories."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
BENCH_DIR = PROJECT_DIR / "bench"
RESULTS_DIR = BENCH_DIR / "results"
WORK_DIR = BENCH_DIR / "work"


def work_dir(name: str) -> Path:
    """``bench/work/<name>``, emptied: request files, server and client logs of one run."""
    path = WORK_DIR / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def remove_work_dir(path: Path) -> None:
    """Remove a run's work directory, and ``bench/work`` itself once no other run uses it."""
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(OSError):
        WORK_DIR.rmdir()
