"""Timing a call against its floor, interleaved sample by sample (bench.rank_scale's engine queries)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bench.lib.stats import Stats, summarize

Target = TypeVar("Target")


@dataclass(frozen=True)
class Query(Generic[Target]):
    """One engine query and the floor it stands on, both called with a target player."""

    name: str
    podium: Callable[[Target], object]
    floor: Callable[[Target], object]
    floor_what: str


@dataclass(frozen=True)
class QueryResult:
    name: str
    podium: Stats
    floor: Stats
    floor_what: str
    ratio: dict[str, float]


def time_query(query: Query[Target], targets: Sequence[Target], warmup: Sequence[Target]) -> QueryResult:
    """Warm up, then time engine call and floor alternately, swapping which goes first every sample.

    Interleaving puts both under the same machine conditions, so the ratio
    holds even when other work on the machine comes and goes.
    """
    for player in warmup:
        query.podium(player)
        query.floor(player)
    podium_ns: list[int] = []
    floor_ns: list[int] = []
    pairs = ((query.podium, podium_ns), (query.floor, floor_ns))
    for i, player in enumerate(targets):
        for call, sink in pairs if i % 2 == 0 else pairs[::-1]:
            start = time.perf_counter_ns()
            call(player)
            sink.append(time.perf_counter_ns() - start)
    podium, floor = summarize(podium_ns), summarize(floor_ns)
    ratio = {
        key: round(getattr(podium, f"{key}_ms") / getattr(floor, f"{key}_ms"), 2) for key in ("p50", "p99", "mean")
    }
    return QueryResult(query.name, podium, floor, query.floor_what, ratio)
