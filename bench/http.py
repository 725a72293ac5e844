"""HTTP throughput of the production serving profile: single score writes, top 100, 20 around a player.

Podium runs as in production: ``granian --interface wsgi leaderboard_project.wsgi:application``
with N workers, which keep connections open (or gunicorn's sync or gthread workers, ``--worker-class sync``), DEBUG off,
PostgreSQL and the Redis ranking index, on a database and a Redis DB of the
bench's own. The data is made fresh every run: 1,000 users, one game
(descending, best score) with a score for each user, an access token per user,
and the ranking index rebuilt (``rebuild_rankings``) so reads come from Redis.

``wrk`` (64 connections, 2 threads, 15 s per phase after a 2 s untimed warm-up)
replays request files rotating over the users; the phases:

* ``floor``  -- ``GET /healthz``: the app has no bare no-op endpoint, and this
  plain Django view answering ``{"status": "ok"}`` through the whole middleware
  stack is the nearest: what the same server does per request with no work;
* ``write``  -- ``POST /api/v1/scores`` with each user's Bearer token, a random score;
* ``top``    -- ``GET /api/v1/leaderboard/game/<id>?limit=100``;
* ``around`` -- ``GET /api/v1/leaderboard/game/<id>?around=<user id>&limit=20``.

For each: requests/s, p50 and p99 latency, every response that is not the
expected status (and socket errors), requests/s as a ratio to the floor, the
CPU used by gunicorn, PostgreSQL, Redis and wrk meanwhile, and what the phase
left in the server log. The figures are compared with a Go game server's on the
same load shape (the performance goals). The per-player score rate
(``SCORE_RATE_PER_USER_GAME``) is raised to 1,000,000/min, out of the way.

Run (from the project root)::

    .venv/bin/python -m bench.http [--duration 15] [--connections 64] [--users 1000] [--workers 2]
                                   [--worker-class sync,gthread] [--json bench/results/http.json]

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import serving
from bench.serving import Phase, PhaseResult, Profile, Request

logger = logging.getLogger("bench.http")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/podium_http_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
DEFAULT_JSON = serving.RESULTS_DIR / "http.json"
DEFAULT_SEED = 20260301
TOP_LIMIT = 100
AROUND_LIMIT = 20

# A Go game server with leaderboards on the same machine and load shape (the performance goals):
# requests/s as (low, high) of its runs, p99 in ms. The goals compare with the high end.
GO = {
    "write": {"requests_per_s": (2100, 2200), "p99_ms": 55.0},
    "top": {"requests_per_s": (950, 1040), "p99_ms": None},
    "around": {"requests_per_s": (1500, 1640), "p99_ms": None},
}
GOAL_FACTOR = {"write": 1.0, "top": 2.0, "around": 1.5}


def write_body(seed: serving.Seed) -> str:
    """The body of a write, ``{score}`` standing for a random integer drawn per request."""
    return json.dumps({"game_id": str(seed.game_id), "score": 0}).replace('"score": 0', '"score": {score}')


def build_phases(work: Path, seed: serving.Seed) -> list[Phase]:
    board = f"/api/v1/leaderboard/game/{seed.game_id}"
    requests = {
        "floor": [Request("GET", "/healthz")],
        "write": [
            Request("POST", "/api/v1/scores", f"Bearer {token}", write_body(seed)) for token in seed.access_tokens
        ],
        "top": [Request("GET", f"{board}?limit={TOP_LIMIT}")],
        "around": [Request("GET", f"{board}?around={user_id}&limit={AROUND_LIMIT}") for user_id in seed.user_ids],
    }
    what = {
        "floor": "GET /healthz (plain Django view, no work)",
        "write": "POST /api/v1/scores, Bearer token, random score",
        "top": f"GET .../leaderboard/game/<id>?limit={TOP_LIMIT}",
        "around": f"GET .../leaderboard/game/<id>?around=<user>&limit={AROUND_LIMIT}",
    }
    ok = {"write": (201,)}
    return [
        Phase(name, what[name], serving.write_request_file(work / f"{name}.txt", lines), ok.get(name, (200,)))
        for name, lines in requests.items()
    ]


def check_server(base_url: str, seed: serving.Seed) -> dict[str, Any]:
    """Untimed checks before measuring: the index is in use, and each phase's request answers as expected."""
    status, ready = serving.http_call(base_url, Request("GET", "/readyz"))
    if status != 200 or ready.get("status") != "ok":
        raise RuntimeError(f"/readyz: {status} {ready} (the ranking index must be complete and in use)")
    token, user_id = seed.access_tokens[0], seed.user_ids[0]
    write = Request("POST", "/api/v1/scores", f"Bearer {token}", write_body(seed))
    status, body = serving.http_call(base_url, write, score=10**9)
    if status != 201 or body["game_board"]["rank"] != 1:
        raise RuntimeError(f"a write answered {status} {body}")
    status, body = serving.http_call(base_url, Request("GET", f"/api/v1/leaderboard/game/{seed.game_id}?limit=100"))
    if status != 200 or len(body["entries"]) != TOP_LIMIT or body["entries"][0]["user_id"] != str(user_id):
        raise RuntimeError(f"top 100 answered {status} {str(body)[:300]}")
    target = seed.user_ids[len(seed.user_ids) // 2]
    around = Request("GET", f"/api/v1/leaderboard/game/{seed.game_id}?around={target}&limit={AROUND_LIMIT}")
    status, body = serving.http_call(base_url, around)
    if (
        status != 200
        or len(body["entries"]) != AROUND_LIMIT
        or str(target) not in {e["user_id"] for e in body["entries"]}
    ):
        raise RuntimeError(f"around answered {status} {str(body)[:300]}")
    return {"readyz": ready, "board_size": body["size"]}


def goal_verdict(results: Sequence[PhaseResult]) -> dict[str, Any]:
    verdict: dict[str, Any] = {}
    for result in results:
        if result.name not in GO:
            continue
        go = GO[result.name]
        target = GOAL_FACTOR[result.name] * go["requests_per_s"][1]
        met = result.result.requests_per_s >= target and result.unexpected == 0
        goal = f">= {target:,.0f}/s"
        if go["p99_ms"] is not None:
            met = met and result.result.latency_ms["p99"] <= go["p99_ms"]
            goal += f", p99 <= {go['p99_ms']:g} ms"
        verdict[f"{result.server}.{result.name}"] = {
            "goal": goal,
            "requests_per_s": result.result.requests_per_s,
            "p99_ms": result.result.latency_ms["p99"],
            "x_go_high": round(result.result.requests_per_s / go["requests_per_s"][1], 2),
            "met": met,
        }
    return verdict


def format_table(
    args: argparse.Namespace, results: Sequence[PhaseResult], machine: dict[str, Any], verdict: dict[str, Any]
) -> str:
    lines = [
        serving.machine_line("http", machine),
        f"{serving.WSGI_APP} on {', '.join(args.worker_classes)}; wrk {args.connections} keep-alive connections, "
        f"{args.threads} threads, "
        f"{args.duration:g} s per phase after {args.warmup:g} s warm-up; {args.users:,} users, one game (desc, best)",
        f"DEBUG off; SCORE_RATE_PER_USER_GAME={serving.SCORE_RATE} (raised: the default 60/min would 429 the writes); "
        "floor = GET /healthz (a plain Django view: there is no bare no-op endpoint)",
        "",
        f"{'server':14} {'phase':8} | {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'unexpected':>10} | "
        f"{'x floor':>7} | {'Go req/s':>11} {'Go p99':>6} | goal",
    ]
    lines.append("-" * (len(lines[-1]) + 30))
    floors = {result.server: result.result.requests_per_s for result in results if result.name == "floor"}
    for result in results:
        r = result.result
        floor = floors.get(result.server)
        ratio = f"{r.requests_per_s / floor:7.2f}" if floor else f"{'':7}"
        go = GO.get(result.name)
        go_text = f"{go['requests_per_s'][0]:,}-{go['requests_per_s'][1]:,}" if go else ""
        go_p99 = f"{go['p99_ms']:g}" if go and go["p99_ms"] else ""
        goal = ""
        if (found := verdict.get(f"{result.server}.{result.name}")) is not None:
            goal = f"{found['goal']}: {'met' if found['met'] else 'MISSED'} ({found['x_go_high']:.2f}x Go)"
        lines.append(
            f"{result.server:14} {result.name:8} | {r.requests_per_s:8,.0f} {r.latency_ms['p50']:8.2f} "
            f"{r.latency_ms['p99']:8.2f} {r.latency_ms['max']:8.1f} {serving.statuses_text(result):>10} | "
            f"{ratio} | {go_text:>11} {go_p99:>6} | {goal}"
        )
    lines += ["", *serving.cpu_table(results), ""]
    for result in results:
        if "stored" in result.checks:
            lines.append(
                f"{result.server} write: {result.result.statuses.get(201, 0):,} responses 201 counted by wrk, "
                f"{result.checks['stored']:,} scores stored meanwhile (a difference: requests in flight at either end)"
            )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=15, help="seconds per timed phase (default 15)")
    parser.add_argument("--warmup", type=float, default=2, help="untimed seconds before each phase (default 2)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--users", type=int, default=1000, help="users, each with a token and a score (default 1000)")
    parser.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
    parser.add_argument(
        "--worker-class",
        default="granian",
        help="comma-separated servers, each run in turn: granian (the production web server, keep-alive), "
        "sync or gthread (gunicorn's workers)",
    )
    serving.add_thread_arguments(parser)
    parser.add_argument("--phases", default="floor,write,top,around", help="comma-separated subset of the phases")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="default bench/results/http.json")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="a dedicated database: it is emptied")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="a dedicated Redis DB: it is flushed")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--keep-files", action="store_true", help="keep bench/work/http (request files, server logs)")
    args = parser.parse_args(argv)
    args.phases = [name.strip() for name in args.phases.split(",") if name.strip()]
    if unknown := set(args.phases) - {"floor", "write", "top", "around"}:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    args.worker_classes = [name.strip() for name in args.worker_class.split(",") if name.strip()]
    if unknown := set(args.worker_classes) - {"granian", "sync", "gthread"}:
        parser.error(f"unknown worker classes: {', '.join(sorted(unknown))}")
    if error := serving.check_wrk() or serving.check_dedicated_redis(args.redis_url):
        parser.error(error)
    if args.users < AROUND_LIMIT + TOP_LIMIT:
        parser.error(f"need at least {AROUND_LIMIT + TOP_LIMIT} users")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    profile = Profile(database_url=args.database_url, redis_url=args.redis_url)
    serving.ensure_database(args.database_url)
    serving.setup_django(profile)
    args.work = serving.work_dir("http")
    results: list[PhaseResult] = []
    with serving.stopped_on_signals():
        try:
            machine = serving.machine_info(profile)
            serving.warn_if_busy(machine)
            seed = serving.reset_and_seed(profile=profile, users=args.users, tokens=True, seed=args.seed)
            phases = build_phases(args.work, seed)
            for worker_class in args.worker_classes:
                config = serving.server_config(args, worker_class)
                results += serving.run_server(
                    args, profile, config, phases, check=lambda url: check_server(url, seed), counted_phase="write"
                )
        finally:
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()
            if not args.keep_files:
                serving.remove_work_dir(args.work)

    verdict = goal_verdict(results)
    table = format_table(args, results, machine, verdict)
    sys.stdout.write(table + "\n")
    serving.write_json(
        args.json,
        {
            "benchmark": "http",
            "machine": machine,
            "settings": {
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "connections": args.connections,
                "wrk_threads": args.threads,
                "users": args.users,
                "workers": args.workers,
                "worker_classes": args.worker_classes,
                "gthread_threads": args.gthread_threads,
                "blocking_threads": args.blocking_threads,
                "wsgi_app": serving.WSGI_APP,
                "environment": profile.described(),
                "top_limit": TOP_LIMIT,
                "around_limit": AROUND_LIMIT,
                "floor": "GET /healthz: a plain Django view returning {'status': 'ok'}; the app has no bare endpoint",
            },
            "seed": seed.report,
            "go": GO,
            "goal": verdict,
            "phases": [serving.phase_record(result) for result in results],
            "table": table,
        },
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        logger.warning("interrupted: the server is stopped and the Redis DB flushed, no results written")
        sys.exit(130)
