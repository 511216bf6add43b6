"""Timing a call for the benchmarks' JSON: milliseconds, warm-up first, nearest-rank percentiles."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], runs: int) -> dict[str, float]:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[max(0, math.ceil(0.95 * len(samples)) - 1)], 2),  # nearest rank
            "max_ms": round(samples[-1], 2), "mean_ms": round(statistics.fmean(samples), 2), "n": runs}
