"""Statistics the benchmarks report: nearest-rank percentiles, latency summaries, slopes and means.

Every percentile is the nearest rank: the smallest value with at least that
fraction of the samples at or below it, one of the samples and never an
interpolation. It is taken from sorted samples (``percentile``) or from a
histogram of counts (``histogram_percentile``); both give the same value.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# A fraction such as 0.07 times 100 comes out as 7.000000000000001 in floating point, which would round the rank up.
_RANK_SLACK = 1e-9


def nearest_rank(fraction: float, count: int) -> int:
    """The 1-based rank of the ``fraction`` percentile among ``count`` samples."""
    return max(1, math.ceil(fraction * count - _RANK_SLACK))


def percentile(ordered: Sequence[T], fraction: float) -> T:
    """The nearest-rank percentile of samples already sorted (``fraction`` 0.99 for p99)."""
    return ordered[nearest_rank(fraction, len(ordered)) - 1]


def histogram_percentile(histogram: Mapping[T, int], fraction: float) -> T | None:
    """The nearest-rank percentile of ``{value: count}``; None when it counts nothing."""
    total = sum(histogram.values())
    if not total:
        return None
    wanted = nearest_rank(fraction, total)
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= wanted:
            return value
    return max(histogram)


def latency(histogram: Mapping[float, int]) -> dict[str, float | None]:
    """p50, p95, p99 and max of a histogram of milliseconds (locust's response times)."""
    return {
        "p50_ms": histogram_percentile(histogram, 0.50),
        "p95_ms": histogram_percentile(histogram, 0.95),
        "p99_ms": histogram_percentile(histogram, 0.99),
        "max_ms": max(histogram) if histogram else None,
    }


@dataclass(frozen=True)
class Stats:
    samples: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    ops_per_s: float


def summarize(timings_ns: Sequence[int]) -> Stats:
    """Timed calls in ns, in ms; ops/s is one caller back to back (1 / mean)."""
    ordered = sorted(timings_ns)
    mean_ns = sum(ordered) / len(ordered)
    return Stats(
        samples=len(ordered),
        p50_ms=round(percentile(ordered, 0.50) / 1e6, 4),
        p99_ms=round(percentile(ordered, 0.99) / 1e6, 4),
        mean_ms=round(mean_ns / 1e6, 4),
        max_ms=round(ordered[-1] / 1e6, 4),
        ops_per_s=round(1e9 / mean_ns, 1),
    )


def summarize_ms(values: Sequence[float], quantiles: Sequence[float]) -> dict[str, float | None]:
    """``p50``... and ``max`` of values in ms, rounded to 0.01 ms; None for each when there are none."""
    ordered = sorted(values)
    found: dict[str, float | None] = {
        f"p{q * 100:g}": round(percentile(ordered, q), 2) if ordered else None for q in quantiles
    }
    return found | {"max": round(ordered[-1], 2) if ordered else None}


# Latency histogram of the WebSocket clients: 0.1 ms buckets below 1 s, 1 ms buckets above.
_FINE_LIMIT_MS = 1000.0


def bucket_of(ms: float) -> int:
    if ms < _FINE_LIMIT_MS:
        return int(ms * 10) if ms > 0 else 0
    return 10_000 + int(ms - _FINE_LIMIT_MS)


def bucket_upper_ms(bucket: int) -> float:
    """The upper edge of a bucket: percentiles read from the histogram are never below the true value."""
    return (bucket + 1) / 10 if bucket < 10_000 else _FINE_LIMIT_MS + (bucket - 10_000) + 1


def histogram_percentiles(histogram: dict[int, int], quantiles: tuple[float, ...]) -> dict[str, float | None]:
    """Nearest-rank percentiles of a merged bucket histogram (bucket upper edges, ms), plus max and count."""
    total = sum(histogram.values())
    if total == 0:
        return {f"p{q * 100:g}": None for q in quantiles} | {"max": None, "count": 0}
    found: dict[str, float | None] = {
        f"p{q * 100:g}": round(bucket_upper_ms(histogram_percentile(histogram, q)), 1) for q in quantiles
    }
    return found | {"max": round(bucket_upper_ms(max(histogram)), 1), "count": total}


def slope(xs: Sequence[float], ys: Sequence[float | None]) -> float | None:
    """Least-squares slope of ``ys`` over ``xs`` (points without a value left out), to 3 decimals.

    None with fewer than three points, or when every ``x`` is the same.
    """
    points = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    if len(points) < 3:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if not spread:
        return None
    return round(sum((x - mean_x) * (y - mean_y) for x, y in points) / spread, 3)


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the values present, to 2 decimals."""
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 2) if present else None


def median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 2)


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(value) for value in values) / len(values)) if values else 0.0
