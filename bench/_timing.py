"""Timing a call for the benchmarks' JSON: milliseconds, warm-up first.

``timed`` summarises at once (nearest-rank percentiles); ``samples`` keeps the milliseconds so a benchmark can pool
several rounds before ``summary`` (p50/p95/p99/max, percentiles at the nearest index)."""

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


def samples(fn: Callable[[], Any], runs: int, warmup: int = 0) -> list[float]:
    """``runs`` timings of ``fn`` in milliseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(xs: list[float], q: float) -> float:
    """The sample at the nearest index to ``q`` of the sorted samples."""
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def summary(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2), "p95_ms": round(pct(ms, 0.95), 2),
            "p99_ms": round(pct(ms, 0.99), 2), "max_ms": round(max(ms), 2)}
