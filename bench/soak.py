"""Soak test: the production profile under a fixed request rate for ten minutes, its latency and memory over time.

The bench sets up everything it uses and removes it at the end, on failure,
Ctrl-C or SIGTERM too:

* a Redis of its own: ``redis-server --port N --bind 127.0.0.1 --save "" --appendonly no
  --daemonize no`` on a free port (cache, channel layer, Celery broker and the
  ranking index all in its DB 0), so it never touches another Redis user;
* a PostgreSQL database of its own, ``podium_soak``, dropped and created again
  (refused while anything is connected to it), dropped at the end;
* demo data: ``manage.py migrate`` then ``manage.py populate_demo`` (2,000
  players with 20 scores each over 30 days, 3 games, tournaments finished,
  running and upcoming), ``VACUUM (ANALYZE)``, and a JWT access token for each
  locust player, taken among the demo players and valid for the whole run;
* the production profile as ``make serve`` runs it: ``python -m
  leaderboard_project.serve`` (migrate, collectstatic, then honcho running the
  ``Procfile``: granian WSGI web, uvicorn ws, Celery worker and beat) on free
  ports, with its Prometheus directory and beat schedule in the bench's work
  directory, the Procfile's default sizes and the settings' production
  defaults (score rate per player and game, throttles, log level).

Load: locust, headless, running ``bench/soak_locustfile.py``: the players of
``locustfile.py`` (score submissions, a board's top, the page around the
player, the global board, tournament listings and joins), each running one
action per period, so that the players together run a fixed number of actions
per second (default 60 players x 1 action/s = 60 actions/s, a little over 60
HTTP requests/s: a join is a listing then a POST), plus a few WebSocket
spectators on ``/ws/main`` (``leaderboard``, ``score`` and ``tournament``).
Each player starts its cycle at a random moment of the first period (see
``bench/soak_locustfile.py``). After an untimed warm-up the measured window
runs for ``--duration`` seconds.

Measured: requests, errors by kind, latency p50/p95/p99 per minute and over
the window, the rate achieved against the target, WebSocket events and their
lag; the memory (RSS and USS, psutil) and CPU of every process of the profile
(honcho, its runners, the shells, granian's main and workers, uvicorn, the
Celery worker's main and pool processes, beat), sampled every
``--sample-seconds`` from the start of the window to its end and once more
when the load has stopped; Redis' memory and the PostgreSQL database's
backends and size. Per process: the least-squares slope of RSS in MiB/min over
the window and over its second half, the mean of the last half against the
first half, and a verdict (see ``GROWTH_MIB_PER_MIN``).

Run (from the project root)::

    .venv/bin/python -m bench.soak [--duration 600] [--warmup 60] [--players 60] [--throughput 1.0]
                                   [--spectators 5] [--json bench/results/soak.json]

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.lib import cli, machine, postgres, procs, report
from bench.lib.cpu import machine_ticks
from bench.lib.locust import Window, aggregate, endpoints, load_figures, minutes
from bench.lib.logs import scan_log
from bench.lib.memory import (
    GROWTH_MIB_PER_MIN,
    MIB,
    ProfileProcesses,
    memory_trend,
    postgres_memory,
    redis_memory,
    wait_leftovers,
)
from bench.lib.paths import BENCH_DIR, PROJECT_DIR, RESULTS_DIR, remove_work_dir, work_dir
from bench.lib.profile import CLEARED_ENV as SERVING_CLEARED_ENV
from bench.lib.profile import cleared_environ

logger = logging.getLogger("bench.soak")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/podium_soak"
DEFAULT_JSON = RESULTS_DIR / "soak.json"
LOCUSTFILE = BENCH_DIR / "soak_locustfile.py"
START_SECONDS = 180.0
SHORT_WINDOW_S = 300

# The shell's variables that would change the profile: the bench sets its own, or leaves the settings' defaults.
CLEARED_ENV = (
    *SERVING_CLEARED_ENV,
    "PORT",
    "WEB_HOST",
    "WEB_PORT",
    "WEB_WORKERS",
    "WEB_THREADS",
    "WS_HOST",
    "WS_PORT",
    "WS_WORKERS",
    "WORKER_CONCURRENCY",
    "PAGES_WEBSOCKET_URL",
    "STRESS_WS_URL",
    "STRESS_TARGET_URL",
    "JOBS_IN_PROCESS",
    "SIMULATION_IN_PROCESS",
    "PROMETHEUS_MULTIPROC_DIR",
    "CELERY_BEAT_SCHEDULE",
    "CELERY_METRICS_PORT",
    "SCORE_RATE_PER_USER_GAME",
    "THROTTLE_LOGIN_IP",
    "THROTTLE_LOGIN_USERNAME",
    "THROTTLE_REGISTER_IP",
    "THROTTLE_REGISTER_USERNAME",
    "JWT_ACCESS_MINUTES",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "BEHIND_TLS_PROXY",
    "REALTIME_CHANNEL_LAYER",
)
PRODUCTION_SCORE_RATE = "60/60"  # the settings' default SCORE_RATE_PER_USER_GAME (60/min), as locust reads it

CREDENTIALS_CODE = """
import json, random
from datetime import timedelta
from simulator.selectors import demo_players
from simulator.services.synthetic import load_credentials
players = list(demo_players().order_by("username"))
random.Random({seed}).shuffle(players)
accounts = load_credentials(players=players[:{count}], lifetime=timedelta(seconds={lifetime}))
with open({path!r}, "w") as out:
    json.dump(accounts, out)
print(len(accounts))
"""


# --- the services the bench starts ------------------------------------------------------------


def start_redis(work: Path) -> tuple[subprocess.Popen, int]:
    port = procs.free_port()
    process = procs.start_redis_server(port=port, workdir=work, log=work / "redis.log")
    version = machine.redis_server_version(f"redis://127.0.0.1:{port}/0")
    logger.info("redis-server %s on port %d (pid %d)", version, port, process.pid)
    return process, port


def profile_environ(*, database_url: str, redis_port: int, web_port: int, ws_port: int, work: Path) -> dict[str, str]:
    env = cleared_environ(CLEARED_ENV)
    bin_dir = str(Path(sys.executable).parent)
    return env | {
        "DJANGO_SETTINGS_MODULE": "leaderboard_project.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(web_port),
        "WS_PORT": str(ws_port),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
        "CELERY_BEAT_SCHEDULE": str(work / "celerybeat-schedule"),
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
    }


def described(env: dict[str, str]) -> dict[str, str]:
    """The variables the bench set, as recorded in the results (the secret left out)."""
    keys = (
        "DEBUG", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "WEB_HOST", "WEB_PORT", "WS_PORT",
        "PROMETHEUS_MULTIPROC_DIR", "CELERY_BEAT_SCHEDULE",
    )  # fmt: skip
    return {key: env[key] for key in keys} | {"SECRET_KEY": "(random)"}


def manage(env: dict[str, str], log: Path, *args: str) -> tuple[float, str]:
    """``manage.py <args>``: (seconds, stdout); raises with the log's tail when it fails."""
    started = time.monotonic()
    with log.open("ab") as err:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            check=False,
        )
    output = done.stdout.decode(errors="replace").strip()
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args[:1])} failed ({done.returncode}): {output}\n{procs.tail(log)}")
    return round(time.monotonic() - started, 1), output


def seed_data(args: argparse.Namespace, env: dict[str, str], work: Path, credentials: Path) -> dict[str, Any]:
    log = work / "setup.log"
    migrate_s, _ = manage(env, log, "migrate", "--noinput", "--verbosity", "0")
    populate = ["--players", str(args.demo_players), "--games", str(args.games), "--seed", str(args.seed)]
    if args.demo_scores is not None:
        populate += ["--scores", str(args.demo_scores)]
    populate_s, populated = manage(env, log, "populate_demo", *populate)
    lifetime = int(args.warmup + args.duration + START_SECONDS + 600)
    code = CREDENTIALS_CODE.format(seed=args.seed, count=args.players, lifetime=lifetime, path=str(credentials))
    _, output = manage(env, log, "shell", "--command", code)
    made = output.splitlines()[-1] if output else "0"  # the shell may print what it imported first
    vacuum_s = postgres.vacuum_analyze(args.database_url)
    logger.info("data: %s; %s player tokens; VACUUM (ANALYZE) %.1f s", populated, made, vacuum_s)
    if int(made or 0) < args.players:
        raise RuntimeError(f"only {made} demo players for {args.players} locust players: raise --demo-players")
    return {
        "migrate_s": migrate_s,
        "populate_demo": ["manage.py", "populate_demo", *populate],
        "populate_s": populate_s,
        "populate_output": populated,
        "vacuum_analyze_s": vacuum_s,
        "player_tokens": int(made),
        "token_lifetime_s": lifetime,
    }


def start_profile(env: dict[str, str], work: Path) -> subprocess.Popen:
    """``python -m leaderboard_project.serve``; returns once web and ws answer and the worker and beat are up."""
    log = work / "serve.log"
    process = procs.start([sys.executable, "-m", "leaderboard_project.serve"], env=env, log=log)
    web, ws = f"http://127.0.0.1:{env['WEB_PORT']}", f"http://127.0.0.1:{env['WS_PORT']}"
    logger.info("production profile: honcho pid %d, web %s, ws %s", process.pid, web, ws)

    def up() -> bool:
        text = log.read_text(errors="replace")
        return (
            procs.http_status(f"{web}/healthz") == 200
            and procs.http_status(f"{ws}/healthz") == 200
            and " ready." in text
            and "LocalTime ->" in text
        )

    procs.wait_until(up, timeout=START_SECONDS, what="make serve", process=process, log=log, tolerate=(Exception,))
    status = procs.http_status(f"{web}/readyz")
    if status != 200:
        raise RuntimeError(f"/readyz answered {status}\n{procs.tail(log)}")
    return process


# --- the profile's log ---------------------------------------------------------------------------


_LOG_LINE = re.compile(r'"level": "(WARNING|ERROR|CRITICAL)", "logger": "([^"]*)", "message": "([^"]*)"')


def log_kinds(text: str) -> dict[str, Any]:
    """The profile's log: tracebacks, and its warnings and errors by level, logger and message (numbers as N)."""
    kinds = Counter(
        f"{level} {name}: {re.sub(r'[0-9a-f]{8}-[0-9a-f-]{27}|[0-9]+', 'N', message)[:100]}"
        for level, name, message in _LOG_LINE.findall(text)
    )
    return {"tracebacks": text.count("Traceback"), "by_kind": dict(kinds.most_common(20))}


def nearest(times_s: Sequence[float], wanted: float) -> int:
    return min(range(len(times_s)), key=lambda i: abs(times_s[i] - wanted))


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Started:
    """What the bench started, for the clean-up."""

    redis: subprocess.Popen | None = None
    database: bool = False
    profile: subprocess.Popen | None = None
    processes: ProfileProcesses | None = None
    locust: subprocess.Popen | None = None
    leftovers: dict[str, Any] = field(default_factory=dict)


def locust_command(args: argparse.Namespace, host: str) -> list[str]:
    users = args.players + args.spectators
    run_time = int(math.ceil(args.warmup + args.duration + 30))
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
        "--users", str(users), "--spawn-rate", str(args.spawn_rate), "--run-time", f"{run_time}s",
        "--stop-timeout", "5", "--exit-code-on-error", "0", "--only-summary", "--loglevel", "WARNING",
        "SoakPlayer", *(["Spectator"] if args.spectators else []),
    ]  # fmt: skip


def locust_environ(
    args: argparse.Namespace, env: dict[str, str], credentials: Path, output: Path, window: Window
) -> dict[str, str]:
    return env | {
        "PYTHONPATH": str(PROJECT_DIR),
        "PODIUM_STRESS_CREDENTIALS": str(credentials),
        "PODIUM_STRESS_THROUGHPUT": f"{args.throughput:.6f}",
        "PODIUM_STRESS_SPECTATORS": str(args.spectators),
        "PODIUM_STRESS_SCORE_LIMIT": PRODUCTION_SCORE_RATE,
        "PODIUM_STRESS_WS_URL": f"ws://127.0.0.1:{env['WS_PORT']}/ws/main",
        "PODIUM_SOAK_OUTPUT": str(output),
        "PODIUM_SOAK_T0": f"{window.t0:.3f}",
        "PODIUM_SOAK_T1": f"{window.t1:.3f}",
    }


def progress_line(row: dict[str, Any], target: float, rss_total: float | None) -> str:
    lat = row["latency"]
    rss = f", profile RSS {rss_total:,.0f} MiB" if rss_total is not None else ""
    return (
        f"minute {row['minute']:>2}: {row['actions_per_s']:.1f} actions/s of {target:g}, "
        f"{row['requests_per_s']:.1f} requests/s, {row['failures']} errors, "
        f"p50 {fmt_ms(lat['p50_ms'])} p95 {fmt_ms(lat['p95_ms'])} p99 {fmt_ms(lat['p99_ms'])} ms, "
        f"{row['ws_events_per_s']:.0f} WS events/s{rss}"
    )


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def run(args: argparse.Namespace, started: Started, work: Path) -> dict[str, Any]:
    info = machine_info()
    machine.warn_if_busy(info)
    redis_process, redis_port = start_redis(work)
    started.redis = redis_process
    postgres.recreate_database(args.database_url)
    started.database = True
    env = profile_environ(
        database_url=args.database_url,
        redis_port=redis_port,
        web_port=procs.free_port(),
        ws_port=procs.free_port(),
        work=work,
    )
    (work / "metrics").mkdir(exist_ok=True)  # the setup commands write their metrics too; serve empties it
    credentials = work / "credentials.json"
    seed = seed_data(args, env, work, credentials)

    setup_started = time.monotonic()
    started.profile = start_profile(env, work)
    profile_start_s = round(time.monotonic() - setup_started, 1)
    profile_procs = started.processes = ProfileProcesses(started.profile.pid)
    profile_procs.discover(0.0)
    logger.info("profile up in %.1f s: %d processes", profile_start_s, len(profile_procs.tracked))

    host = f"http://127.0.0.1:{env['WEB_PORT']}"
    output = work / "locust-figures.json"
    launched = time.time()
    window = Window(launched + args.warmup, launched + args.warmup + args.duration)
    started.locust = procs.start(
        locust_command(args, host), env=locust_environ(args, env, credentials, output, window), log=work / "locust.log"
    )
    locust_proc = psutil.Process(started.locust.pid)
    target = round(args.players * args.throughput, 3)
    logger.info(
        "locust: %d players x %g actions/s = %g actions/s, %d spectators; warm-up %.0f s, then %.0f s measured",
        args.players, args.throughput, target, args.spectators, args.warmup, args.duration,
    )  # fmt: skip

    extra: list[dict[str, Any]] = []
    locust_samples: list[dict[str, Any]] = []

    def sample(mark: str) -> None:
        now_s = time.time() - window.t0
        profile_procs.sample(now_s, mark)
        row: dict[str, Any] = {
            "t_s": round(now_s, 1),
            "mark": mark,
            "load_average": os.getloadavg(),
            "machine_ticks": machine_ticks(),
        }
        with contextlib.suppress(Exception):
            row["redis"] = redis_memory(redis_port, redis_process.pid)
        with contextlib.suppress(Exception):
            row["postgres"] = postgres_memory(args.database_url)
        extra.append(row)
        with contextlib.suppress(psutil.Error):
            with locust_proc.oneshot():
                times = locust_proc.cpu_times()
                locust_samples.append(
                    {
                        "t_s": round(now_s, 1),
                        "mark": mark,
                        "rss_mib": round(locust_proc.memory_info().rss / MIB, 1),
                        "cpu_s": round(times.user + times.system, 2),
                    }
                )

    def check_alive() -> None:
        if started.locust.poll() is not None:
            raise RuntimeError(f"locust exited early ({started.locust.returncode})\n{procs.tail(work / 'locust.log')}")
        if started.profile.poll() is not None:
            raise RuntimeError(f"the profile exited ({started.profile.returncode})\n{procs.tail(work / 'serve.log')}")

    while time.time() < window.t0:
        check_alive()
        time.sleep(min(1.0, max(window.t0 - time.time(), 0)))
    sample("start")
    printed = 0
    steps = max(1, math.ceil(args.duration / args.sample_seconds))
    for step in range(1, steps + 1):
        at = min(window.t0 + step * args.sample_seconds, window.t1)
        while time.time() < at:
            check_alive()
            time.sleep(min(1.0, max(at - time.time(), 0)))
        offset = step * args.sample_seconds
        sample("end" if at >= window.t1 else (f"minute {round(offset / 60)}" if offset % 60 == 0 else ""))
        done_minutes = int((time.time() - 6 - window.t0) // 60)
        if done_minutes > printed:
            rows = minutes(load_figures(output), window)
            for row in rows[printed:done_minutes]:
                index = nearest(profile_procs.times_s, 60 * row["minute"])
                logger.info(progress_line(row, target, profile_procs.total_rss(index)))
            printed = done_minutes
    procs.stop_group(started.locust, timeout=30)
    logger.info("locust stopped; memory once more after %.0f s without load", args.idle_seconds)
    time.sleep(args.idle_seconds)
    sample("idle after")
    log_text = (work / "serve.log").read_text(errors="replace")
    serve_log = scan_log(log_text) | log_kinds(log_text)
    figures = load_figures(output)
    return build_report(
        args,
        machine=info,
        env=env,
        seed=seed,
        profile_start_s=profile_start_s,
        profile_procs=profile_procs,
        extra=extra,
        locust_samples=locust_samples,
        figures=figures,
        window=window,
        launched=launched,
        target=target,
        serve_log=serve_log,
        locust_log=procs.tail(work / "locust.log", 30),
    )


def build_report(
    args: argparse.Namespace,
    *,
    machine: dict[str, Any],
    env: dict[str, str],
    seed: dict[str, Any],
    profile_start_s: float,
    profile_procs: ProfileProcesses,
    extra: list[dict[str, Any]],
    locust_samples: list[dict[str, Any]],
    figures: dict[str, Any],
    window: Window,
    launched: float,
    target: float,
    serve_log: dict[str, Any],
    locust_log: str,
) -> dict[str, Any]:
    overall = aggregate(figures, math.floor(window.t0), math.floor(window.t1))
    warmup = aggregate(figures, math.floor(launched), math.floor(window.t0))
    last = profile_procs.marks.index("end")

    def trend(values: Sequence[float | None]) -> dict[str, Any]:
        return memory_trend(profile_procs.times_s, values, end=last, duration=args.duration)

    processes = []
    for tracked in profile_procs.tracked.values():
        rss = trend(tracked.rss_mib)
        uss = trend(tracked.uss_mib)
        cpu_start, cpu_end = tracked.cpu_s[0], tracked.cpu_s[last]
        cpu = (
            round(100 * (cpu_end - cpu_start) / args.duration, 1)
            if cpu_start is not None and cpu_end is not None
            else None
        )
        processes.append(
            {
                "label": tracked.label,
                "role": tracked.role,
                "pid": tracked.proc.pid,
                "command": tracked.command,
                "cpu_percent": cpu,
                "rss_mib": rss | {"idle_after": tracked.rss_mib[-1], "samples": tracked.rss_mib},
                "uss_mib": uss | {"idle_after": tracked.uss_mib[-1], "samples": tracked.uss_mib},
            }
        )
    total = [profile_procs.total_rss(i) for i in range(len(profile_procs.times_s))]
    per_minute = minutes(figures, window)
    for row in per_minute:
        first = nearest(profile_procs.times_s, 60 * (row["minute"] - 1))
        end = nearest(profile_procs.times_s, min(60 * row["minute"], args.duration))
        seconds = max(profile_procs.times_s[end] - profile_procs.times_s[first], 1e-9)
        (busy_0, all_0), (busy_1, all_1) = extra[first]["machine_ticks"], extra[end]["machine_ticks"]
        cpu = sum(
            (t.cpu_s[end] or 0) - (t.cpu_s[first] or 0)
            for t in profile_procs.tracked.values()
            if t.cpu_s[first] is not None and t.cpu_s[end] is not None
        )
        row["profile_cpu_percent"] = round(100 * cpu / seconds, 1)
        row["machine_busy_percent"] = round(100 * (os.cpu_count() or 1) * (busy_1 - busy_0) / max(all_1 - all_0, 1), 1)
        row["profile_rss_mib"] = total[end]
    total_trend = trend(total) | {"idle_after": total[-1], "samples": total}
    growing = [p["label"] for p in processes if p["rss_mib"]["verdict"] == "STEADY GROWTH"]
    settled = [p["label"] for p in processes if p["rss_mib"]["verdict"] == "grew, then settled"]
    verdict = (
        f"STEADY GROWTH in {', '.join(growing)}"
        if growing
        else f"no steady growth (every process under {GROWTH_MIB_PER_MIN} MiB/min over the window or its second half)"
    )
    if args.duration < SHORT_WINDOW_S:
        verdict += f" (a window under {SHORT_WINDOW_S} s is still warming up: a check of the bench, not a verdict)"
    redis_series = [row.get("redis", {}) for row in extra]
    postgres_series = [row.get("postgres", {}) for row in extra]
    locust_end = [sample for sample in locust_samples if sample["mark"] == "end"]
    locust_cpu = (
        round(100 * (locust_end[0]["cpu_s"] - locust_samples[0]["cpu_s"]) / args.duration, 1) if locust_end else None
    )
    return {
        "benchmark": "soak",
        "machine": machine,
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "players": args.players,
            "throughput_per_player": args.throughput,
            "target_actions_per_s": target,
            "spectators": args.spectators,
            "spawn_rate": args.spawn_rate,
            "sample_seconds": args.sample_seconds,
            "idle_seconds": args.idle_seconds,
            "growth_threshold_mib_per_min": GROWTH_MIB_PER_MIN,
            "profile": "python -m leaderboard_project.serve (Procfile: web, ws, worker, beat)",
            "environment": described(env),
            "locust": " ".join(
                Path(part).name if part.startswith(sys.prefix) else part for part in locust_command(args, "{web}")
            ),
            "score_limit_for_locust": PRODUCTION_SCORE_RATE,
        },
        "seed": seed,
        "profile_start_s": profile_start_s,
        "rate": {
            "target_actions_per_s": target,
            "achieved_actions_per_s": overall["actions_per_s"],
            "achieved_ratio": round(overall["actions_per_s"] / target, 3) if target else None,
            "http_requests_per_s": overall["requests_per_s"],
        },
        "overall": overall,
        "warmup": warmup,
        "minutes": per_minute,
        "endpoints": endpoints(figures),
        "error_samples": figures.get("error_samples", {}),
        "memory": {
            "sample_times_s": profile_procs.times_s,
            "sample_marks": profile_procs.marks,
            "end_index": last,
            "processes": processes,
            "profile_total_rss_mib": total_trend,
            "restarts": profile_procs.restarts,
            "verdict": verdict,
            "settled": settled,
            "redis": {
                "series": redis_series,
                "used_memory_mib": trend([r.get("used_memory_mib") for r in redis_series]),
                "process_rss_mib": trend([r.get("process_rss_mib") for r in redis_series]),
            },
            "postgres": {
                "series": postgres_series,
                "backends_rss_mib": trend([r.get("backends_rss_mib") for r in postgres_series]),
                "backends_uss_mib": trend([r.get("backends_uss_mib") for r in postgres_series]),
                "database_mib": trend([r.get("database_mib") for r in postgres_series]),
            },
            "load_average": [row["load_average"] for row in extra],
        },
        "load_generator": {"cpu_percent": locust_cpu, "samples": locust_samples, "log_tail": locust_log},
        "serve_log": serve_log,
    }


# --- output -----------------------------------------------------------------------------------


def format_report(report: dict[str, Any]) -> str:
    settings, rate, overall = report["settings"], report["rate"], report["overall"]
    lat, mem = overall["latency"], report["memory"]
    lines = [
        f"Soak test of the production profile  {report['machine']['date']}  "
        f"{report['machine']['cpu_count']} CPUs  load average before {report['machine']['load_average']}",
        f"  {settings['players']} players x {settings['throughput_per_player']:g} actions/s "
        f"= {rate['target_actions_per_s']:g} actions/s target, {settings['spectators']} WebSocket spectators, "
        f"{settings['duration_s']:.0f} s measured after {settings['warmup_s']:.0f} s warm-up",
        f"  data: {report['seed']['populate_output']}",
        "",
        f"Rate: {rate['achieved_actions_per_s']:.2f} actions/s achieved of {rate['target_actions_per_s']:g} "
        f"({100 * (rate['achieved_ratio'] or 0):.1f}%), {rate['http_requests_per_s']:.2f} HTTP requests/s",
        f"Requests: {overall['requests']:,}, errors {overall['failures']:,} "
        f"(error rate {100 * (overall['error_rate'] or 0):.3f}%)",
        f"Latency (all HTTP requests): p50 {fmt_ms(lat['p50_ms'])} ms, p95 {fmt_ms(lat['p95_ms'])} ms, "
        f"p99 {fmt_ms(lat['p99_ms'])} ms, max {fmt_ms(lat['max_ms'])} ms",
        f"WebSocket: {overall['ws_events']:,} events ({overall['ws_events_per_s']:.1f}/s), lag p50 "
        f"{fmt_ms(overall['ws_lag']['p50_ms'])} ms, p99 {fmt_ms(overall['ws_lag']['p99_ms'])} ms, "
        f"{overall['ws_connects']} connects in the window, {sum(overall['ws_errors_by_kind'].values())} errors",
    ]
    if overall["errors_by_kind"] or overall["ws_errors_by_kind"]:
        lines.append("Errors by kind:")
        for kind, count in {**overall["errors_by_kind"], **overall["ws_errors_by_kind"]}.items():
            sample = (report["error_samples"].get(kind) or [""])[0]
            lines.append(f"  {count:>7,}  {kind}  {sample[:120]}")
    lines += [
        "",
        f"{'minute':>6} | {'actions/s':>9} {'req/s':>7} {'errors':>6} | {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} | {'WS ev/s':>7} {'WS p99':>7} | {'RSS MiB':>7} {'CPU %':>6} {'machine':>7}",
    ]
    for row in report["minutes"]:
        rl = row["latency"]
        lines.append(
            f"{row['minute']:>6} | {row['actions_per_s']:>9.2f} {row['requests_per_s']:>7.2f} {row['failures']:>6} | "
            f"{fmt_ms(rl['p50_ms']):>7} {fmt_ms(rl['p95_ms']):>7} {fmt_ms(rl['p99_ms']):>7} "
            f"{fmt_ms(rl['max_ms']):>7} | {row['ws_events_per_s']:>7.1f} {fmt_ms(row['ws_lag']['p99_ms']):>7} | "
            f"{row['profile_rss_mib']:>7.0f} {row['profile_cpu_percent']:>6.0f} {row['machine_busy_percent']:>7.0f}"
        )
    lines.append(
        "  (RSS: the profile's processes together at the minute's end; CPU: theirs, and the machine's, in % of one "
        "core over the minute)"
    )
    lines += ["", "Endpoints (measured window):"]
    for row in report["endpoints"]:
        lines.append(
            f"  {row['endpoint']:48} {row['requests']:>7,} req {row['failures']:>4} err  "
            f"p50 {fmt_ms(row['p50_ms']):>5} p95 {fmt_ms(row['p95_ms']):>5} p99 {fmt_ms(row['p99_ms']):>5} ms"
        )
    marks = mem["sample_marks"]
    columns = [i for i, mark in enumerate(marks) if mark]
    header = " ".join(f"{short_mark(marks[i]):>6}" for i in columns)
    lines += [
        "",
        f"Memory, RSS MiB per process (samples every {settings['sample_seconds']:g} s; columns: start, each minute, "
        f"end, {settings['idle_seconds']:g} s after the load stopped); slope by least squares over the window:",
        f"{'process':34} {'pid':>7} {'CPU%':>5} | {header} | {'MiB/min':>7} {'2nd half':>8} {'halves':>6} | verdict",
    ]
    for proc in sorted(mem["processes"], key=lambda p: (order_of(p["role"]), p["label"])):
        samples = proc["rss_mib"]["samples"]
        cells = " ".join(f"{samples[i]:>6.1f}" if samples[i] is not None else f"{'-':>6}" for i in columns)
        lines.append(trend_line(proc["label"], str(proc["pid"]), proc["cpu_percent"], cells, proc["rss_mib"]))
    total = mem["profile_total_rss_mib"]
    cells = " ".join(f"{total['samples'][i]:>6.0f}" for i in columns)
    lines.append(trend_line("profile total", "", None, cells, total))
    lines += ["", "USS MiB (memory no other process shares), start -> end, slope:"]
    for proc in sorted(mem["processes"], key=lambda p: (order_of(p["role"]), p["label"])):
        uss = proc["uss_mib"]
        if uss["start"] is not None and uss["start"] >= 5:
            lines.append(
                f"  {proc['label']:34} {uss['start']:>7.1f} -> {uss['end']:>7.1f}  {signed(uss['slope_per_min'])} "
                f"MiB/min (2nd half {signed(uss['second_half_slope_per_min'])})  {uss['verdict']}"
            )
    redis, postgres = mem["redis"], mem["postgres"]
    first_r = next((r for r in redis["series"] if r), {})
    last_r = redis["series"][mem["end_index"]]
    first_p = next((p for p in postgres["series"] if p), {})
    last_p = postgres["series"][mem["end_index"]]
    lines += [
        "",
        f"Redis: used_memory {first_r.get('used_memory_mib')} -> {last_r.get('used_memory_mib')} MiB "
        f"({signed(redis['used_memory_mib']['slope_per_min'])} MiB/min), process RSS {first_r.get('process_rss_mib')} "
        f"-> {last_r.get('process_rss_mib')} MiB, keys {first_r.get('keys')} -> {last_r.get('keys')}",
        f"PostgreSQL: database {first_p.get('database_mib')} -> {last_p.get('database_mib')} MiB, sessions "
        f"{first_p.get('sessions')} -> {last_p.get('sessions')}, their backends' USS {first_p.get('backends_uss_mib')}"
        f" -> {last_p.get('backends_uss_mib')} MiB ({signed(postgres['backends_uss_mib']['slope_per_min'])} MiB/min; "
        f"RSS {first_p.get('backends_rss_mib')} -> {last_p.get('backends_rss_mib')} MiB, shared buffers included)",
        f"Load generator (locust): {report['load_generator']['cpu_percent']}% of one core",
        f"Profile log: {report['serve_log']['errors']} error lines, {report['serve_log']['tracebacks']} tracebacks, "
        f"{report['serve_log']['warnings']} warnings; restarts: {len(mem['restarts'])}",
    ]
    lines += [f"  {count:>7,}  {kind}" for kind, count in list(report["serve_log"]["by_kind"].items())[:5]]
    after = report.get("clean_up", {}).get("profile_processes_after_honcho")
    if after:
        lines.append(
            f"Stopping: {', '.join(after['outlived_honcho']) or 'none'} outlived honcho (by up to "
            f"{after['waited_s']} s); terminated by the bench: {', '.join(after['terminated_by_bench']) or 'none'}"
        )
    lines += ["", f"Verdict: {mem['verdict']}"]
    if mem["settled"]:
        lines.append(f"  grew in the first half only, then settled: {', '.join(mem['settled'])}")
    return "\n".join(lines)


def short_mark(mark: str) -> str:
    return {"start": "start", "end": "end", "idle after": "idle"}.get(mark, mark.removeprefix("minute ") + "m")


def order_of(role: str) -> int:
    return (
        ("honcho", "web", "ws", "worker", "beat").index(role)
        if role in ("honcho", "web", "ws", "worker", "beat")
        else 9
    )


def signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def trend_line(label: str, pid: str, cpu: float | None, cells: str, trend: dict[str, Any]) -> str:
    cpu_text = f"{cpu:>5.1f}" if cpu is not None else f"{'':>5}"
    halves = trend["last_minus_first_half"]
    return (
        f"{label[:34]:34} {pid:>7} {cpu_text} | {cells} | {signed(trend['slope_per_min']):>7} "
        f"{signed(trend['second_half_slope_per_min']):>8} {(f'{halves:+.1f}' if halves is not None else '-'):>6} | "
        f"{trend['verdict']}"
    )


def machine_info() -> dict[str, Any]:
    return machine.machine_info(
        packages=machine.package_versions(
            ("django", "granian", "uvicorn", "celery", "channels", "channels-redis", "locust", "psutil")
        ),
        redis_server=machine.redis_server_version(),
        **machine.load_before(),
        code=machine.code_state(),
    )


def clean_up(started: Started, args: argparse.Namespace) -> None:
    """Stop what was started, in reverse order; each step runs even when an earlier one fails."""
    steps = []
    if started.locust is not None:
        steps.append(("locust", lambda: procs.stop_group(started.locust, timeout=20)))
    if started.profile is not None:

        def stop_profile() -> None:
            try:
                every = (started.processes or ProfileProcesses(started.profile.pid)).all_procs()
            except psutil.Error:
                every = []
            # Ctrl-C, as at the terminal: honcho sends SIGTERM to the process group of each Procfile entry.
            procs.stop_group(started.profile, sig=signal.SIGINT, timeout=40)
            started.leftovers = wait_leftovers(every)

        steps.append(("profile", stop_profile))
    if started.redis is not None:
        steps.append(("redis-server", lambda: procs.stop_group(started.redis, timeout=15)))
    if started.database:
        steps.append(("database", lambda: postgres.drop_database(args.database_url)))
    for name, step in steps:
        try:
            step()
        except Exception:
            logger.exception("clean-up: %s failed", name)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = cli.parser("bench.soak", __doc__, summary_lines=True)
    parser.add_argument("--duration", type=float, default=600, help="measured seconds (default 600)")
    parser.add_argument("--warmup", type=float, default=60, help="untimed seconds of load first (default 60)")
    parser.add_argument("--players", type=int, default=60, help="locust players (default 60)")
    parser.add_argument("--throughput", type=float, default=1.0, help="actions/s of each player (default 1.0)")
    parser.add_argument("--spectators", type=int, default=5, help="WebSocket spectators (default 5)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="players started per second (default 10)")
    parser.add_argument("--sample-seconds", type=float, default=10, help="memory sampling interval (default 10)")
    parser.add_argument("--idle-seconds", type=float, default=15, help="wait after the load before the last sample")
    parser.add_argument("--demo-players", type=int, default=2000, help="populate_demo --players (default 2000)")
    parser.add_argument("--demo-scores", type=int, default=None, help="populate_demo --scores (default 20 a player)")
    parser.add_argument("--games", type=int, default=3, help="populate_demo --games (default 3)")
    parser.add_argument("--seed", type=int, default=2026, help="populate_demo --seed, and the players' choice")
    cli.add_services(
        parser, database_url=DEFAULT_DATABASE_URL, redis_url=None, database_help="created and dropped by the bench"
    )
    cli.add_json(parser, DEFAULT_JSON)
    parser.add_argument("--keep-work", action="store_true", help="keep bench/work/soak (logs) after a good run")
    args = parser.parse_args(argv)
    if args.duration < 3 * args.sample_seconds:
        parser.error("--duration must hold at least three memory samples (--sample-seconds)")
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a PostgreSQL URL")
    if postgres.database_name(args.database_url) in ("", "postgres", "template0", "template1"):
        parser.error("--database-url must name a database of its own: the bench drops it")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    cli.setup_logging()
    args = parse_args(argv)
    work = work_dir("soak")
    started = Started()
    result = None
    try:
        with procs.interrupted_on(procs.SIGNALS):
            result = run(args, started, work)
    except KeyboardInterrupt:
        logger.error("interrupted: stopping everything the bench started")
    finally:
        # A second Ctrl-C must not leave a server, Redis or the database behind: the clean-up is bounded.
        with procs.ignored_signals():
            clean_up(started, args)
        if result is None:
            logger.info("logs kept in %s", work)
    if result is None:
        return 130
    result["clean_up"] = {"profile_processes_after_honcho": started.leftovers}
    sys.stdout.write(format_report(result) + "\n")
    report.write_json(args.json, result)
    if not args.keep_work:
        remove_work_dir(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
