"""Percentiles and latency summaries, in milliseconds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Summary:
    """Latency percentiles of a sample, in milliseconds."""

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float

    def as_dict(self, prefix: str = "") -> dict[str, float | int]:
        return {
            f"{prefix}count": self.count,
            f"{prefix}p50_ms": self.p50_ms,
            f"{prefix}p95_ms": self.p95_ms,
            f"{prefix}p99_ms": self.p99_ms,
        }


def summarize(seconds: Sequence[float]) -> Summary:
    """Percentiles of durations given in seconds, reported in milliseconds (2 decimals)."""

    def ms(value: float) -> float:
        return round(value * 1000, 2)

    mean = sum(seconds) / len(seconds) if seconds else float("nan")
    return Summary(
        count=len(seconds),
        p50_ms=ms(percentile(seconds, 0.50)),
        p95_ms=ms(percentile(seconds, 0.95)),
        p99_ms=ms(percentile(seconds, 0.99)),
        mean_ms=ms(mean),
    )
