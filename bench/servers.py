"""Which servers should serve Podium: WSGI and ASGI servers side by side on the same endpoints, in one run.

The production profile (docs/operations.md) serves the HTTP API from a WSGI
server and ``/ws/`` from ASGI processes. This bench measures, in one run and
under the same load, the candidates for both roles serving Podium's own
applications, ``leaderboard_project.wsgi:application`` and
``leaderboard_project.asgi:application`` (a channels ``ProtocolTypeRouter``
whose HTTP goes through Django's ASGI handler):

* WSGI: gunicorn sync with 2 workers (the production profile, and the
  baseline every ratio is taken against), gunicorn sync with 4, gunicorn
  gthread (2 workers x 4 threads), granian ``--interface wsgi`` with 2 workers
  and ``--blocking-threads 1`` or ``4`` (granian's default, up to 256 threads
  per worker each holding a PostgreSQL connection, exhausts PostgreSQL's
  connections: only on request, ``--candidates granian-wsgi-2-default``);
* ASGI: uvicorn with 2 workers (the Procfile's flags), daphne (one process),
  granian ``--interface asginl`` (ASGI without lifespan, as uvicorn runs with
  ``--lifespan off``) with 2 workers. ASGI servers run with
  ``DB_CONN_MAX_AGE=0``, as Django advises: its persistent connections are
  per thread, and its ASGI handler gives each request a thread of its own.

Each serves, one after another, on the same data (PostgreSQL and the Redis
ranking index, DEBUG off, a fresh SECRET_KEY, the settings of
``bench.lib.profile.Profile`` with the URLconf of ``bench.servers_urls``):

* ``ping``  -- ``GET /bench/ping``: a minimal DRF ``APIView`` with the project's
  default DRF classes answering a small JSON, no database, no Redis;
* ``top``   -- ``GET /api/v1/leaderboard/game/<id>?limit=100``: a real read, the
  top 100 of a board from the Redis index;
* ``write`` -- ``POST /api/v1/scores`` with each user's Bearer token and a
  random score: a real write (PostgreSQL, then the Redis index).

``wrk`` (32 connections, 2 threads; 2 s untimed warm-up, then 10 s timed per
endpoint) measures requests/s, p50 and p99 latency and every unexpected status
or socket error; the server's processes' CPU seconds are read from ``/proc``.
Every figure is also given as a ratio to gunicorn sync with 2 workers measured
in the same run, and the bench says which WSGI and which ASGI server the
numbers favour.

Run (from the project root)::

    .venv/bin/python -m bench.servers [--duration 10] [--connections 32] [--rounds 1]
                                      [--candidates gunicorn-sync-2,granian-wsgi-2-bt1,...]
                                      [--json bench/results/servers.json]

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import math
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import http
from bench.lib import cli, machine, phases, procs, report
from bench.lib.cpu import CLK_TCK, machine_busy_percent, processes
from bench.lib.logs import scan_log
from bench.lib.paths import RESULTS_DIR
from bench.lib.phases import Phase, PhaseResult
from bench.lib.profile import Profile, bench_services, check_dedicated_redis
from bench.lib.seed import Seed, reset_and_seed, score_count
from bench.lib.server import ASGI_APP, WSGI_APP, CommandServer, GunicornServer, ServerConfig, ServerProcess
from bench.lib.stats import geometric_mean, median
from bench.lib.wrk import Request, http_call, write_request_file

logger = logging.getLogger("bench.servers")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/podium_bench_servers"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
DEFAULT_JSON = RESULTS_DIR / "servers.json"
DEFAULT_SEED = 20260301
SETTINGS_MODULE = "bench.servers_settings"
PING_PATH = "/bench/ping"
PING_BODY = {"status": "ok", "server": "podium"}
ENDPOINTS = ("ping", "top", "write")
BASELINE = "gunicorn-sync-2"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Candidate:
    """One server configuration: how to start it, and which role (``wsgi`` or ``asgi``) it would fill."""

    key: str
    name: str
    interface: str
    command: tuple[str, ...] = ()
    processes: int = 1
    gunicorn: ServerConfig | None = None
    environ: tuple[tuple[str, str], ...] = ()
    default: bool = True

    def server(self, *, profile: Profile, port: int, log_path: Path) -> ServerProcess:
        if self.gunicorn is not None:
            return GunicornServer(profile=profile, config=self.gunicorn, port=port, log_path=log_path)
        return CommandServer(
            name=self.key,
            command=self.command,
            profile=profile,
            port=port,
            log_path=log_path,
            processes=self.processes,
            environ=dict(self.environ),
        )

    def command_line(self) -> str:
        """The command as recorded in the results (the port left as ``{port}``, the venv's scripts by name)."""
        if self.gunicorn is not None:
            server = self.server(profile=Profile(database_url="", redis_url=""), port=0, log_path=Path())
            command = [part.replace("127.0.0.1:0", "127.0.0.1:{port}") for part in server.command()]
        else:
            command = list(self.command)
        return " ".join(Path(part).name if part.startswith(str(BIN)) else part for part in command)


def granian(interface: str, app: str, *, workers: int = 2, blocking_threads: int | None = None) -> tuple[str, ...]:
    threads = ("--blocking-threads", str(blocking_threads)) if blocking_threads else ()
    return (
        str(BIN / "granian"), "--interface", interface, "--workers", str(workers), *threads,
        "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning", app,
    )  # fmt: skip


# Django's persistent connections are per thread, and its ASGI handler runs each request's sync code in a thread
# of its own: with CONN_MAX_AGE 60 every request left a PostgreSQL connection open, and PostgreSQL refused new ones
# ("too many clients") within seconds. Django's documentation says to disable persistent connections under ASGI.
ASGI_ENVIRON = (("DB_CONN_MAX_AGE", "0"),)

CANDIDATES = (
    Candidate("gunicorn-sync-2", "gunicorn sync 2w", "wsgi", gunicorn=ServerConfig("sync", 2)),
    Candidate("gunicorn-sync-4", "gunicorn sync 4w", "wsgi", gunicorn=ServerConfig("sync", 4)),
    Candidate("gunicorn-gthread-2x4", "gunicorn gthread 2w x4t", "wsgi", gunicorn=ServerConfig("gthread", 2, 4)),
    # Not run by default: granian's default for WSGI is up to 256 blocking threads per worker, each with a
    # persistent PostgreSQL connection of its own; at 32 connections it took PostgreSQL past max_connections
    # (100): a fifth to a half of the answers were 500s ("too many clients"), for anyone else on the server too.
    Candidate(
        "granian-wsgi-2-default",
        "granian wsgi 2w bt256",
        "wsgi",
        granian("wsgi", WSGI_APP),
        processes=3,
        default=False,
    ),
    Candidate(
        "granian-wsgi-2-bt1",
        "granian wsgi 2w bt1",
        "wsgi",
        granian("wsgi", WSGI_APP, blocking_threads=1),
        processes=3,
    ),
    Candidate(
        "granian-wsgi-2-bt4",
        "granian wsgi 2w bt4",
        "wsgi",
        granian("wsgi", WSGI_APP, blocking_threads=4),
        processes=3,
    ),
    Candidate(
        "uvicorn-2",
        "uvicorn 2w",
        "asgi",
        (
            str(BIN / "uvicorn"),
            ASGI_APP,
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            "2",
            "--ws",
            "websockets-sansio",
            "--ws-max-size",
            "65536",
            "--ws-per-message-deflate",
            "false",
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ),  # fmt: skip
        processes=3,
        environ=ASGI_ENVIRON,
    ),
    Candidate(
        "daphne-1",
        "daphne 1p",
        "asgi",
        # -v 0: no access log (daphne writes one to stdout at the default verbosity), warnings and errors kept.
        (str(BIN / "daphne"), "-b", "127.0.0.1", "-p", "{port}", "-v", "0", ASGI_APP),
        environ=ASGI_ENVIRON,
    ),
    # asginl: ASGI without lifespan; channels' ProtocolTypeRouter has no lifespan app, and granian's "asgi" would
    # log a failed lifespan at every worker start and go on without it.
    Candidate(
        "granian-asgi-2",
        "granian asgi 2w",
        "asgi",
        granian("asginl", ASGI_APP),
        processes=3,
        environ=ASGI_ENVIRON,
    ),
)


# --- phases ---------------------------------------------------------------------------------


def build_phases(work: Path, seed: Seed) -> dict[str, Phase]:
    """The endpoints' request files: ``top`` and ``write`` as bench.http makes them, plus ``ping``."""
    podium = {phase.name: phase for phase in http.build_phases(work, seed)}
    ping = Phase(
        "ping",
        f"GET {PING_PATH} (a DRF APIView, the project's default DRF classes, small constant JSON)",
        write_request_file(work / "ping.txt", [Request("GET", PING_PATH)]),
    )
    return {"ping": ping, "top": podium["top"], "write": podium["write"]}


def check_server(base_url: str, seed: Seed) -> dict[str, Any]:
    """bench.http's checks (readyz, a write, top 100, around), then the ping endpoint."""
    checks = http.check_server(base_url, seed)
    status, body = http_call(base_url, Request("GET", PING_PATH))
    if status != 200 or body != PING_BODY:
        raise RuntimeError(f"{PING_PATH} answered {status} {body}")
    return checks


@dataclass
class Measured:
    """One (round, candidate, endpoint): wrk's result, the server's CPU, what the phase left in the log."""

    round: int
    candidate: Candidate
    endpoint: str
    phase: PhaseResult
    server_cpu_percent: float
    server_cpu_s: float
    pids_changed: bool
    process_cpu_s: list[float]

    @property
    def requests_per_s(self) -> float:
        return self.phase.result.requests_per_s

    @property
    def cpu_ms_per_request(self) -> float:
        requests = self.phase.result.requests
        return round(1000 * self.server_cpu_s / requests, 3) if requests else math.inf

    @property
    def busiest_share(self) -> float:
        """The busiest server process's part of the server's CPU (0.5 = two workers sharing evenly)."""
        total = sum(self.process_cpu_s)
        return round(max(self.process_cpu_s) / total, 2) if total else 0.0

    @property
    def errors(self) -> int:
        """Unexpected statuses, socket errors and time-outs, error lines in the log, worker restarts."""
        return self.phase.unexpected + self.phase.log["errors"] + int(self.pids_changed)

    def record(self) -> dict[str, Any]:
        return phases.phase_record(
            self.phase,
            round=self.round,
            candidate=self.candidate.key,
            endpoint=self.endpoint,
            server_cpu_s=self.server_cpu_s,
            cpu_ms_per_request=self.cpu_ms_per_request,
            pids_changed=self.pids_changed,
            process_cpu_s_with_warmup=self.process_cpu_s,
            busiest_process_share=self.busiest_share,
            errors=self.errors,
        )


def run_candidate(
    args: argparse.Namespace,
    profile: Profile,
    candidate: Candidate,
    built: dict[str, Phase],
    seed: Seed,
    round_: int,
) -> tuple[list[Measured], dict[str, Any]]:
    """Start one candidate, wait until it is idle, check it, measure every endpoint, stop it."""
    log_path = args.work / f"{candidate.key}-r{round_}.log"
    server = candidate.server(profile=profile, port=args.port or procs.free_port(), log_path=log_path)
    measured: list[Measured] = []
    started = time.monotonic()
    try:
        server.start()
        idle_after = server.wait_idle()
        run = {
            "round": round_,
            "candidate": candidate.key,
            "start_s": round(time.monotonic() - started, 1),
            "idle_after_s": idle_after,
            "processes": len(server.pids()),
            "busy_percent_before": machine_busy_percent(),
            "load_average_before": os.getloadavg(),
            "checks": check_server(server.base_url, seed),
        }
        run["startup_log"] = scan_log(server.log_since(0))
        for endpoint in args.endpoints:
            pids = server.pids()
            ticks = processes()
            phase = phases.run_phase(
                server,
                built[endpoint],
                duration=args.duration,
                warmup=args.warmup,
                connections=args.connections,
                threads=args.threads,
                count=score_count if endpoint == "write" else None,
            )
            percent = phase.cpu[server.cpu_party]
            cpu_s = round(percent * phase.result.duration_s / 100, 2)
            after = processes()
            # Per process, warm-up included: how the load spread over the workers.
            split = sorted(
                (
                    round((after[pid].cpu_ticks - ticks[pid].cpu_ticks) / CLK_TCK, 2)
                    for pid in pids
                    if pid in after and pid in ticks
                ),
                reverse=True,
            )
            measured.append(Measured(round_, candidate, endpoint, phase, percent, cpu_s, server.pids() != pids, split))
        run["load_average_after"] = os.getloadavg()
    finally:
        server.stop()
    return measured, run


# --- summary -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A (candidate, endpoint) over the rounds: medians of each figure, errors summed."""

    candidate: Candidate
    endpoint: str
    requests_per_s: float
    requests_per_s_range: tuple[float, float]
    p50_ms: float
    p99_ms: float
    server_cpu_s: float
    cpu_ms_per_request: float
    server_cpu_percent: float
    machine_percent: float
    other_percent: float
    busiest_share: float
    errors: int
    error_detail: str
    rounds: int

    def ratios(self, base: Row | None) -> dict[str, float | None]:
        def ratio(ours: float, theirs: float) -> float | None:
            return round(ours / theirs, 3) if base is not None and theirs else None

        return {
            "requests_per_s": ratio(self.requests_per_s, base.requests_per_s if base else 0),
            "p50_ms": ratio(self.p50_ms, base.p50_ms if base else 0),
            "p99_ms": ratio(self.p99_ms, base.p99_ms if base else 0),
            "cpu_ms_per_request": ratio(self.cpu_ms_per_request, base.cpu_ms_per_request if base else 0),
        }


def summarize(measured: Sequence[Measured], candidates: Sequence[Candidate], endpoints: Sequence[str]) -> list[Row]:
    rows = []
    for endpoint in endpoints:
        for candidate in candidates:
            runs = [m for m in measured if m.candidate.key == candidate.key and m.endpoint == endpoint]
            if not runs:
                continue
            details = []
            for m in runs:
                if m.errors:
                    found = [phases.statuses_text(m.phase)]
                    if m.phase.log["errors"]:
                        found.append(f"log errors {m.phase.log['errors']}")
                    if m.pids_changed:
                        found.append("a worker restarted")
                    details.append(f"r{m.round}: {', '.join(found)}")
            rows.append(
                Row(
                    candidate=candidate,
                    endpoint=endpoint,
                    requests_per_s=median([m.requests_per_s for m in runs]),
                    requests_per_s_range=(
                        min(m.requests_per_s for m in runs),
                        max(m.requests_per_s for m in runs),
                    ),
                    p50_ms=median([m.phase.result.latency_ms["p50"] for m in runs]),
                    p99_ms=median([m.phase.result.latency_ms["p99"] for m in runs]),
                    server_cpu_s=median([m.server_cpu_s for m in runs]),
                    cpu_ms_per_request=round(statistics.median([m.cpu_ms_per_request for m in runs]), 3),
                    server_cpu_percent=median([m.server_cpu_percent for m in runs]),
                    machine_percent=median([m.phase.cpu["machine"] for m in runs]),
                    other_percent=median([m.phase.cpu["other"] for m in runs]),
                    busiest_share=median([m.busiest_share for m in runs]),
                    errors=sum(m.errors for m in runs),
                    error_detail="; ".join(details),
                    rounds=len(runs),
                )
            )
    return rows


def per_round_geomeans(measured: Sequence[Measured], key: str, endpoints: Sequence[str]) -> list[float]:
    """For each round, the geometric mean over the endpoints of the candidate's requests/s over the baseline's."""
    found = {(m.round, m.candidate.key, m.endpoint): m.requests_per_s for m in measured}
    geomeans = []
    for round_ in sorted({m.round for m in measured}):
        ratios = [
            found[(round_, key, endpoint)] / found[(round_, BASELINE, endpoint)]
            for endpoint in endpoints
            if found.get((round_, BASELINE, endpoint)) and (round_, key, endpoint) in found
        ]
        if len(ratios) == len(endpoints):
            geomeans.append(round(geometric_mean(ratios), 3))
    return geomeans


def verdict(
    rows: Sequence[Row], measured: Sequence[Measured], candidates: Sequence[Candidate], endpoints: Sequence[str]
) -> dict[str, Any]:
    """Per candidate, its requests/s ratios to the baseline; per interface, the candidate they favour.

    A candidate is ranked by the geometric mean over the endpoints of its
    requests/s ratio (medians over the rounds); one with any error is not
    eligible. With several rounds, the lead over the next candidate is
    ``separable`` only if every round ranks them the same way.
    """
    base = {row.endpoint: row for row in rows if row.candidate.key == BASELINE}
    scores: dict[str, dict[str, Any]] = {}
    for candidate in candidates:
        mine = {row.endpoint: row for row in rows if row.candidate.key == candidate.key}
        ratios = {endpoint: mine[endpoint].ratios(base.get(endpoint)) for endpoint in endpoints if endpoint in mine}
        throughput = [r["requests_per_s"] for r in ratios.values() if r["requests_per_s"]]
        p99 = [r["p99_ms"] for r in ratios.values() if r["p99_ms"]]
        cpu = [r["cpu_ms_per_request"] for r in ratios.values() if r["cpu_ms_per_request"]]
        scores[candidate.key] = {
            "name": candidate.name,
            "interface": candidate.interface,
            "x_requests_per_s": {endpoint: r["requests_per_s"] for endpoint, r in ratios.items()},
            "x_p99": {endpoint: r["p99_ms"] for endpoint, r in ratios.items()},
            "x_cpu_per_request": {endpoint: r["cpu_ms_per_request"] for endpoint, r in ratios.items()},
            "geomean_x_requests_per_s": round(geometric_mean(throughput), 3),
            "geomean_x_p99": round(geometric_mean(p99), 3),
            "geomean_x_cpu_per_request": round(geometric_mean(cpu), 3),
            "per_round_geomean_x_requests_per_s": per_round_geomeans(measured, candidate.key, endpoints),
            "errors": sum(row.errors for row in mine.values()),
            "complete": len(mine) == len(endpoints),
        }
    favoured: dict[str, Any] = {}
    for interface in ("wsgi", "asgi"):
        eligible = [
            key
            for key, score in scores.items()
            if score["interface"] == interface and score["complete"] and not score["errors"]
        ]
        ranked = sorted(eligible, key=lambda key: scores[key]["geomean_x_requests_per_s"], reverse=True)
        separable = None
        if len(ranked) > 1:
            first = scores[ranked[0]]["per_round_geomean_x_requests_per_s"]
            second = scores[ranked[1]]["per_round_geomean_x_requests_per_s"]
            if len(first) > 1 and len(first) == len(second):
                separable = all(a > b for a, b in zip(first, second, strict=True))
        favoured[interface] = {
            "candidate": ranked[0] if ranked else None,
            "ranking": [(key, scores[key]["geomean_x_requests_per_s"]) for key in ranked],
            "separable_from_next": separable,
            "left_out_for_errors": [
                key for key, score in scores.items() if score["interface"] == interface and score["errors"]
            ],
        }
    best_wsgi, best_asgi = favoured["wsgi"]["candidate"], favoured["asgi"]["candidate"]
    if best_wsgi and best_asgi:
        wsgi = {row.endpoint: row.requests_per_s for row in rows if row.candidate.key == best_wsgi}
        asgi = {row.endpoint: row.requests_per_s for row in rows if row.candidate.key == best_asgi}
        favoured["asgi_over_wsgi"] = {
            endpoint: round(asgi[endpoint] / wsgi[endpoint], 3) for endpoint in endpoints if wsgi.get(endpoint)
        }
    return {"baseline": BASELINE, "by_candidate": scores, "favoured": favoured}


# --- output ----------------------------------------------------------------------------------------


def ratio_text(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def format_table(args: argparse.Namespace, rows: Sequence[Row], judged: dict[str, Any], machine: dict[str, Any]) -> str:
    by_key = {c.key: c for c in args.candidates}
    lines = [
        report.serving_machine_line("servers", machine),
        f"granian {machine['granian']}  uvicorn {machine['uvicorn']} (http {machine['uvicorn_http']}, "
        f"loop {machine['uvicorn_loop']})  daphne {machine['daphne']}  Twisted {machine['twisted']}",
        f"wrk {args.connections} connections, {args.threads} threads, {args.duration:g} s per endpoint after "
        f"{args.warmup:g} s warm-up, {args.rounds} round(s); {args.users:,} users, one game (desc, best); "
        f"settings {SETTINGS_MODULE}, DEBUG off",
        f"x = ratio to {by_key[BASELINE].name} in the same run (req/s: higher is better; p99 and CPU/req: lower is "
        "better). srv CPU = the server's processes, in CPU seconds during the timed phase, and in ms per request;",
        "top1 = the busiest server process's part of the server's CPU (0.50: two workers evenly loaded); other = CPU "
        "of processes that are not the server, PostgreSQL, Redis or wrk (other work on the machine), % of one core.",
        "",
    ]
    header = (
        f"{'server':24} {'if':4} | {'req/s':>7} {'x':>5} {'rounds min-max':>14} | {'p50 ms':>7} {'p99 ms':>7} "
        f"{'x p99':>5} | {'srv CPU s':>9} {'ms/req':>6} {'x':>5} | {'srv %':>5} {'top1':>4} {'mach %':>6} "
        f"{'other':>5} | errors"
    )
    base = {row.endpoint: row for row in rows if row.candidate.key == BASELINE}
    for endpoint in args.endpoints:
        what = {"ping": f"GET {PING_PATH}", "top": "GET top 100", "write": "POST /api/v1/scores"}[endpoint]
        lines += [f"{endpoint}: {what}", header, "-" * len(header)]
        for row in rows:
            if row.endpoint != endpoint:
                continue
            x = row.ratios(base.get(endpoint))
            errors = f"{row.errors} LOUD: {row.error_detail}" if row.errors else "0"
            low, high = row.requests_per_s_range
            spread = f"{low:,.0f}-{high:,.0f}" if row.rounds > 1 else ""
            lines.append(
                f"{row.candidate.name:24} {row.candidate.interface:4} | {row.requests_per_s:7,.0f} "
                f"{ratio_text(x['requests_per_s']):>5} {spread:>14} | {row.p50_ms:7.2f} {row.p99_ms:7.2f} "
                f"{ratio_text(x['p99_ms']):>5} | {row.server_cpu_s:9.2f} {row.cpu_ms_per_request:6.3f} "
                f"{ratio_text(x['cpu_ms_per_request']):>5} | {row.server_cpu_percent:5.0f} {row.busiest_share:4.2f} "
                f"{row.machine_percent:6.0f} {row.other_percent:5.0f} | {errors}"
            )
        lines.append("")
    lines.append(
        f"Requests/s against {by_key[BASELINE].name} (geometric mean over {', '.join(args.endpoints)}; "
        "p99 and CPU per request likewise):"
    )
    for score in judged["by_candidate"].values():
        per = "  ".join(f"{endpoint} {ratio_text(value)}" for endpoint, value in score["x_requests_per_s"].items())
        flag = f"  ERRORS {score['errors']}" if score["errors"] else ""
        rounds = ", ".join(f"{value:.2f}" for value in score["per_round_geomean_x_requests_per_s"])
        per_round = f"  rounds: {rounds}" if len(score["per_round_geomean_x_requests_per_s"]) > 1 else ""
        lines.append(
            f"  {score['name']:24} {score['interface']:4}  {score['geomean_x_requests_per_s']:5.2f}x req/s  "
            f"{score['geomean_x_p99']:5.2f}x p99  {score['geomean_x_cpu_per_request']:5.2f}x CPU/req   "
            f"({per}){per_round}{flag}"
        )
    lines.append("")
    for interface in ("wsgi", "asgi"):
        found = judged["favoured"][interface]
        if found["candidate"] is None:
            lines.append(f"{interface.upper()}: no candidate ran every endpoint without errors")
            continue
        score = judged["by_candidate"][found["candidate"]]
        runner_up = found["ranking"][1] if len(found["ranking"]) > 1 else None
        separable = {
            True: "; every round ranks them so",
            False: "; WITHIN THE SPREAD: not every round ranks them so",
            None: "",
        }[found["separable_from_next"]]
        lines.append(
            f"{interface.upper()}: the numbers favour {score['name']}, {score['geomean_x_requests_per_s']:.2f}x the "
            f"requests/s of {by_key[BASELINE].name}"
            + (f" (next: {by_key[runner_up[0]].name}, {runner_up[1]:.2f}x{separable})" if runner_up else "")
        )
    if "asgi_over_wsgi" in judged["favoured"]:
        per = ", ".join(f"{e} {v:.2f}x" for e, v in judged["favoured"]["asgi_over_wsgi"].items())
        lines.append(f"Best ASGI against best WSGI, requests/s: {per}")
    if any(row.errors for row in rows):
        lines += ["", "ERRORS: some rows had unexpected statuses, socket errors, log errors or worker restarts (above)"]
    return "\n".join(lines)


def versions() -> dict[str, Any]:
    """What the candidates run on, besides what every serving bench records."""
    found = machine.package_versions(
        ("granian", "uvicorn", "daphne", "twisted", "channels", "djangorestframework"), missing="not installed"
    )
    # uvicorn's --http auto / --loop auto pick httptools and uvloop when installed, h11 and asyncio otherwise.
    return {
        "granian": found["granian"],
        "uvicorn": found["uvicorn"],
        "uvicorn_http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "uvicorn_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "daphne": found["daphne"],
        "twisted": found["twisted"],
        "channels": found["channels"],
        "djangorestframework": found["djangorestframework"],
        "postgres_max_connections": int(machine.postgres_setting("max_connections")),
        "code": machine.code_state(),
    }


def result(
    args: argparse.Namespace,
    profile: Profile,
    machine: dict[str, Any],
    seed: Seed | None,
    measured: Sequence[Measured],
    runs: Sequence[dict[str, Any]],
    *,
    complete: bool,
) -> dict[str, Any]:
    rows = summarize(measured, args.candidates, args.endpoints)
    judged = verdict(rows, measured, args.candidates, args.endpoints)
    table = format_table(args, rows, judged, machine) if complete else ""
    return {
        "benchmark": "servers",
        "complete": complete,
        "machine": machine,
        "settings": {
            **phases.wrk_settings(args),
            "rounds": args.rounds,
            "users": args.users,
            "endpoints": args.endpoints,
            "settings_module": SETTINGS_MODULE,
            "environment": profile.described(),
            "candidates": [
                {
                    "key": c.key,
                    "name": c.name,
                    "interface": c.interface,
                    "command": c.command_line(),
                    "environment": dict(c.environ),
                }
                for c in args.candidates
            ],
            "baseline": BASELINE,
            "order": "candidates in the order listed; later rounds alternate reversed and listed order",
        },
        "seed": seed.report if seed else None,
        "summary": [
            {
                "candidate": row.candidate.key,
                "endpoint": row.endpoint,
                "requests_per_s": row.requests_per_s,
                "p50_ms": row.p50_ms,
                "p99_ms": row.p99_ms,
                "server_cpu_s": row.server_cpu_s,
                "cpu_ms_per_request": row.cpu_ms_per_request,
                "server_cpu_percent": row.server_cpu_percent,
                "machine_percent": row.machine_percent,
                "other_percent": row.other_percent,
                "busiest_process_share": row.busiest_share,
                "requests_per_s_min_max": row.requests_per_s_range,
                "errors": row.errors,
                "error_detail": row.error_detail,
                "rounds": row.rounds,
            }
            for row in rows
        ],
        "verdict": judged,
        "runs": list(runs),
        "phases": [m.record() for m in measured],
        "table": table,
    }


# --- main ------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = cli.parser("bench.servers", __doc__)
    cli.add_wrk_load(
        parser,
        duration=10,
        connections=32,
        duration_help="timed seconds per endpoint",
        warmup_help="untimed seconds before each (default 2)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="times every candidate is run (default 1)")
    cli.add_users(parser)
    parser.add_argument(
        "--candidates",
        default=",".join(c.key for c in CANDIDATES if c.default),
        help=f"comma-separated, from: {', '.join(c.key for c in CANDIDATES)} (default: all but "
        f"{', '.join(c.key for c in CANDIDATES if not c.default)}; {BASELINE} is always run)",
    )
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS), help="comma-separated subset of ping,top,write")
    cli.add_json(parser, DEFAULT_JSON)
    cli.add_services(parser, database_url=DEFAULT_DATABASE_URL, redis_url=DEFAULT_REDIS_URL)
    cli.add_run(
        parser,
        seed=DEFAULT_SEED,
        work="servers",
        kept="request files, logs",
        port="server port (default: a free one each time)",
    )
    args = parser.parse_args(argv)
    keys = cli.known_names(parser, args.candidates, [c.key for c in CANDIDATES], "candidates")
    if BASELINE not in keys:
        keys.insert(0, BASELINE)
    args.candidates = [c for c in CANDIDATES if c.key in keys]
    args.endpoints = cli.known_names(parser, args.endpoints, ENDPOINTS, "endpoints")
    if args.duration < 1 or not float(args.duration).is_integer() or not float(args.warmup).is_integer():
        parser.error("--duration and --warmup are whole seconds (wrk's), --duration at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if error := check_dedicated_redis(args.redis_url):
        parser.error(error)
    if args.users < http.AROUND_LIMIT + http.TOP_LIMIT:
        parser.error(f"need at least {http.AROUND_LIMIT + http.TOP_LIMIT} users")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    cli.setup_logging()
    args = parse_args(argv)
    profile = Profile(database_url=args.database_url, redis_url=args.redis_url, settings_module=SETTINGS_MODULE)
    measured: list[Measured] = []
    runs: list[dict[str, Any]] = []
    seed = None
    with bench_services(profile, name="servers", keep_files=args.keep_files) as args.work:
        info = machine.machine_info(**machine.serving_stack(args.redis_url), **machine.load_before(), **versions())
        machine.warn_if_busy(info)
        seed = reset_and_seed(profile=profile, users=args.users, tokens=True, seed=args.seed)
        built = build_phases(args.work, seed)
        for round_ in range(args.rounds):
            order = args.candidates if round_ % 2 == 0 else list(reversed(args.candidates))
            for candidate in order:
                found, run = run_candidate(args, profile, candidate, built, seed, round_)
                measured += found
                runs.append(run)
                partial = result(args, profile, info, seed, measured, runs, complete=False)
                report.write_result(args.json, partial, complete=False)

    complete = result(args, profile, info, seed, measured, runs, complete=True)
    sys.stdout.write(complete["table"] + "\n")
    report.write_result(args.json, complete, complete=True)
    if any(m.errors for m in measured):
        logger.error("some phases had unexpected statuses, socket errors, log errors or worker restarts: see the table")
        return 1
    return 0


if __name__ == "__main__":
    cli.run(
        main,
        logger=logger,
        interrupted="interrupted: the server is stopped and the Redis DB flushed; what was measured is in *.partial",
    )
