"""wrk, the HTTP load generator: request files, running it, parsing what it reports; one request outside it.

wrk replays a request file through ``bench/wrk_requests.lua``: one request a
line, ``method<TAB>path<TAB>authorization<TAB>body``, a ``{score}`` in the
body replaced by a random integer per request. The script prints its figures
as one ``WRK_JSON`` line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.lib.paths import BENCH_DIR, PROJECT_DIR

WRK_SCRIPT = BENCH_DIR / "wrk_requests.lua"


@dataclass(frozen=True)
class Request:
    """One line of a request file; a ``{score}`` in the body becomes a random integer per request."""

    method: str
    path: str
    authorization: str = ""
    body: str = ""


def write_request_file(path: Path, requests: Iterable[Request]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for request in requests:
            fields = (request.method, request.path, request.authorization, request.body)
            if any("\t" in value or "\n" in value for value in fields):
                raise ValueError(f"a request field holds a tab or a newline: {request.path}")
            out.write("\t".join(fields) + "\n")
    return path


def http_call(base_url: str, request: Request, *, score: int = 1) -> tuple[int, Any]:
    """One request outside wrk, for the checks: (status, parsed JSON body or None)."""
    body = request.body.replace("{score}", str(score)).encode() if request.body else None
    call = urllib.request.Request(base_url + request.path, data=body, method=request.method)
    if request.authorization:
        call.add_header("Authorization", request.authorization)
    if body is not None:
        call.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(call, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def check_wrk() -> str | None:
    """Why the load generator cannot run (None when it can)."""
    return None if shutil.which("wrk") else "this benchmark drives the server with wrk: apt-get install wrk"


@dataclass
class WrkResult:
    duration_s: float
    requests: int
    requests_per_s: float
    latency_ms: dict[str, float]
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    bytes_received: int

    def unexpected(self, ok: Sequence[int]) -> int:
        """Responses with a status other than ``ok``, plus socket errors and time-outs."""
        return sum(count for status, count in self.statuses.items() if status not in ok) + sum(
            self.socket_errors.values()
        )

    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)


def wrk_version() -> str:
    found = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (found.stdout or found.stderr).split("\n", 1)[0].split(" Copyright")[0].strip()


def run_wrk(
    base_url: str, request_file: Path, *, duration: float, connections: int, threads: int, timeout: float = 10
) -> tuple[WrkResult, str]:
    """Run wrk over ``request_file``; returns its result and its printed output."""
    command = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={duration:g}s",
        f"--timeout={timeout:g}s",
        "--latency",
        f"--script={WRK_SCRIPT}",
        base_url,
        "--",
        str(request_file),
        str(threads),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_DIR)
    line = next((line for line in done.stdout.splitlines() if line.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / 1e6
    latency = {key: round(value / 1000, 2) for key, value in raw["latency_us"].items()}
    errors = raw["errors"]
    result = WrkResult(
        duration_s=round(seconds, 2),
        requests=raw["requests"],
        requests_per_s=round(raw["requests"] / seconds, 1),
        latency_ms=latency,
        statuses={int(status): count for status, count in sorted(raw["statuses"].items())},
        socket_errors={key: errors[key] for key in ("connect", "read", "write", "timeout")},
        bytes_received=raw["bytes"],
    )
    return result, done.stdout.replace(line + "\n", "")
