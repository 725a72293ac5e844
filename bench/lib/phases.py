"""Timed wrk phases against one server: warm-up, the timed run, the CPU each party used, what the server logged.

``run_server`` starts a server, checks it, runs the selected phases and stops
it; ``cpu_table`` and ``statuses_text`` are the parts of the tables that
bench.http, bench.batch and bench.servers print alike.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.lib import procs
from bench.lib.cpu import CpuSnapshot, cpu_by_party, cpu_snapshot
from bench.lib.logs import scan_log
from bench.lib.profile import Profile
from bench.lib.seed import score_count
from bench.lib.server import WSGI_APP, ServerConfig, ServerProcess, make_server
from bench.lib.wrk import WrkResult, run_wrk

logger = logging.getLogger("bench.phases")


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
    port = args.port or procs.free_port()
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


def wrk_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The load of ``cli.add_wrk_load`` as the results record it."""
    return {
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "connections": args.connections,
        "wrk_threads": args.threads,
    }


def server_settings(args: argparse.Namespace, profile: Profile) -> dict[str, Any]:
    """The servers of ``cli.add_workers`` and their environment, as the results record them."""
    return {
        "workers": args.workers,
        "worker_classes": args.worker_classes,
        "gthread_threads": args.gthread_threads,
        "blocking_threads": args.blocking_threads,
        "wsgi_app": WSGI_APP,
        "environment": profile.described(),
    }
