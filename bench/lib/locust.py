"""locust's figures (bench.soak): per-second buckets written by ``bench/soak_locustfile.py``, summed over windows.

Each bucket holds the actions, the HTTP response times and WebSocket lags
(histograms of milliseconds), and the errors of one second; a window's
figures are the sums of its seconds.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.lib.stats import latency


@dataclass
class Window:
    t0: float
    t1: float

    @property
    def seconds(self) -> float:
        return self.t1 - self.t0


def load_figures(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"seconds": {}, "endpoints": {}, "error_samples": {}}
    return json.loads(path.read_text())


def aggregate(figures: dict[str, Any], start: float, end: float) -> dict[str, Any]:
    """Sum the per-second buckets of ``[start, end)`` (Unix seconds)."""
    http, ws = Counter(), Counter()
    http_errors, ws_errors = Counter(), Counter()
    actions = connects = 0
    for key, bucket in figures["seconds"].items():
        if start <= int(key) < end:
            actions += bucket["actions"]
            connects += bucket["ws_connects"]
            http.update({float(ms): n for ms, n in bucket["http"].items()})
            ws.update({float(ms): n for ms, n in bucket["ws"].items()})
            http_errors.update(bucket["http_errors"])
            ws_errors.update(bucket["ws_errors"])
    seconds = max(end - start, 1e-9)
    requests = sum(http.values())
    failures = sum(http_errors.values())
    return {
        "seconds": round(end - start, 1),
        "actions": actions,
        "actions_per_s": round(actions / seconds, 2),
        "requests": requests,
        "requests_per_s": round(requests / seconds, 2),
        "failures": failures,
        "error_rate": round(failures / requests, 6) if requests else None,
        "errors_by_kind": dict(http_errors.most_common()),
        "latency": latency(http),
        "ws_events": sum(ws.values()),
        "ws_events_per_s": round(sum(ws.values()) / seconds, 2),
        "ws_lag": latency(ws),
        "ws_connects": connects,
        "ws_errors_by_kind": dict(ws_errors.most_common()),
    }


def minutes(figures: dict[str, Any], window: Window) -> list[dict[str, Any]]:
    rows = []
    start = window.t0
    index = 1
    while start < window.t1 - 0.5:
        end = min(start + 60, window.t1)
        rows.append({"minute": index} | aggregate(figures, math.floor(start), math.floor(end)))
        start, index = end, index + 1
    return rows


def endpoints(figures: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, data in sorted(figures["endpoints"].items()):
        histogram = Counter({float(ms): n for ms, n in data["ms"].items()})
        rows.append({"endpoint": name, "requests": data["requests"], "failures": data["failures"]} | latency(histogram))
    return rows
