"""The options benches share (``--json``, ``--database-url``, ``--redis-url``, wrk's load...), logging, and ``main``.

Each ``add_*`` adds its options in the order the benches list them, with
the same help, so that every bench's ``--help`` reads alike.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import NoReturn

from bench.lib.paths import PROJECT_DIR
from bench.lib.server import GRANIAN_THREADS

WORKER_CLASSES = ("granian", "sync", "gthread")


def parser(module: str, doc: str, *, summary_lines: bool = False) -> argparse.ArgumentParser:
    """The parser of ``python -m bench.<module>``, described by the first line of its docstring.

    With ``summary_lines``, by its first paragraph instead (a summary that wraps).
    """
    description = doc.split("\n\n")[0] if summary_lines else doc.split("\n", 1)[0]
    return argparse.ArgumentParser(prog=f"python -m {module}", description=description)


def names(text: str) -> list[str]:
    """``"a, b,,c"`` as ``["a", "b", "c"]``."""
    return [name.strip() for name in text.split(",") if name.strip()]


def known_names(parser: argparse.ArgumentParser, text: str, known: Collection[str], what: str) -> list[str]:
    """The comma-separated names of ``text``; an argument error names the unknown ones."""
    found = names(text)
    if unknown := set(found) - set(known):
        parser.error(f"unknown {what}: {', '.join(sorted(unknown))}")
    return found


def add_wrk_load(
    parser: argparse.ArgumentParser,
    *,
    duration: float,
    connections: int,
    duration_help: str = "seconds per timed phase",
    warmup_help: str = "untimed seconds before each phase (default 2)",
) -> None:
    """``--duration``, ``--warmup``, ``--connections`` and ``--threads`` of wrk."""
    parser.add_argument("--duration", type=float, default=duration, help=f"{duration_help} (default {duration:g})")
    parser.add_argument("--warmup", type=float, default=2, help=warmup_help)
    parser.add_argument("--connections", type=int, default=connections, help=f"wrk connections (default {connections})")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")


def add_users(parser: argparse.ArgumentParser, *, each: str = "a token and a score") -> None:
    parser.add_argument("--users", type=int, default=1000, help=f"users, each with {each} (default 1000)")


def add_workers(parser: argparse.ArgumentParser, *, worker_class_help: str) -> None:
    """``--workers``, ``--worker-class`` and the threads of each worker (gunicorn's gthread, granian)."""
    parser.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
    parser.add_argument("--worker-class", default="granian", help=worker_class_help)
    parser.add_argument("--gthread-threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument(
        "--blocking-threads",
        type=int,
        default=GRANIAN_THREADS,
        help=f"granian's threads per worker (default {GRANIAN_THREADS}, the Procfile's WEB_THREADS)",
    )


def add_json(parser: argparse.ArgumentParser, default: Path) -> None:
    parser.add_argument("--json", type=Path, default=default, help=f"default {default.relative_to(PROJECT_DIR)}")


def add_services(
    parser: argparse.ArgumentParser,
    *,
    database_url: str,
    redis_url: str | None,
    database_help: str | None = "a dedicated database: it is emptied",
) -> None:
    """``--database-url`` and, unless ``redis_url`` is None, ``--redis-url`` (a DB the bench flushes)."""
    parser.add_argument("--database-url", default=database_url, help=database_help)
    if redis_url is not None:
        parser.add_argument("--redis-url", default=redis_url, help="a dedicated Redis DB: it is flushed")


def add_run(
    parser: argparse.ArgumentParser,
    *,
    seed: int,
    work: str,
    kept: str = "request files, server logs",
    port: str | None = "server port (default: a free one)",
) -> None:
    """``--port`` (unless ``port`` is None), ``--seed`` and ``--keep-files`` (keep ``bench/work/<work>``)."""
    if port is not None:
        parser.add_argument("--port", type=int, default=0, help=port)
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--keep-files", action="store_true", help=f"keep bench/work/{work} ({kept})")


def check_worker_classes(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``args.worker_classes`` from ``--worker-class``."""
    args.worker_classes = known_names(parser, args.worker_class, WORKER_CLASSES, "worker classes")


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)


def run(main: Callable[[], int], *, logger: logging.Logger, interrupted: str) -> NoReturn:
    """Run a bench's ``main`` as a command: Ctrl-C, SIGTERM or SIGHUP end it with status 130 and ``interrupted``."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        logger.warning(interrupted)
        sys.exit(130)
