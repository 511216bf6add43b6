"""Benchmark: point → ward assignment throughput of ``geo.assign.WardIndex``.

For the 2025 set (64 wards, detailed coastline) and the 2019 set (101 wards), on the same random points drawn
uniformly in the merged province's bounding box (scenario `bbox`: sea, Bạc Liêu and all), and on random points
that fall inside a 2025 ward (scenario `land`: where devices and incidents actually are), we time:

  ours_assign_bulk       WardIndex.assign_bulk: codes + statuses + distances, nearest ward within 2 km for points
                         outside every ward (metric CRS)
  ours_assign_indices    the same answers as integer arrays (no code/status strings)
  bare_strtree_within    shapely.points + STRtree.query(points, predicate="within")  (tree built beforehand)
  bare_strtree_intersects  the same with predicate="intersects"
  bare_bbox_contains_xy  per polygon: bounding-box mask + prepared shapely.contains_xy

and one point at a time: ``WardIndex.assign_one`` against ``STRtree.query(Point, predicate="within")``.
The bare methods only answer "inside which polygon"; ours also resolves the misses. Rounds are interleaved
(every method once per round) after a warm-up round, and the best round counts. The target: our bulk figure at
least 80% of the best bare method's. Results: printed, and written to ``bench/results/geo_assign.json``.

Run: ``.venv/bin/python bench/geo_assign.py [--points N] [--rounds R] [--single K]``
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo.assign import INSIDE, WardIndex
from geo.boundaries import CAMAU_2019, load_boundaries

REPO = Path(__file__).resolve().parents[1]
CAMAU = Path(os.environ.get("OPS_DATA_DIR", REPO.parent / "shared" / "data")) / "camau"
RESULTS = REPO / "bench" / "results" / "geo_assign.json"
TARGET_RATIO = 0.8


def bbox_contains_xy(polys: np.ndarray, bounds: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.full(x.shape[0], -1, dtype=np.int32)
    for k in range(len(polys)):
        bx0, by0, bx1, by1 = bounds[k]
        cand = np.flatnonzero((x >= bx0) & (x <= bx1) & (y >= by0) & (y <= by1))
        out[cand[shapely.contains_xy(polys[k], x[cand], y[cand])]] = k
    return out


def land_points(
    geoms: Any, rng: np.random.Generator, n: int, bbox: tuple[float, float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """n uniform random points inside the given polygons (rejection sampling in their bounding box)."""
    polys = np.asarray(geoms, dtype=object)
    shapely.prepare(polys)
    bounds = shapely.bounds(polys)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    have = 0
    while have < n:
        x = rng.uniform(bbox[0], bbox[2], n)
        y = rng.uniform(bbox[1], bbox[3], n)
        inside = bbox_contains_xy(polys, bounds, x, y) >= 0
        xs.append(x[inside])
        ys.append(y[inside])
        have += int(inside.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def time_rounds(methods: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    for fn in methods.values():  # warm-up: first-touch allocations, lazily built GEOS structures
        fn()
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(rounds):
        for name, fn in methods.items():
            gc.collect()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def bench_set(
    label: str, codes: list[str], geoms: np.ndarray, x: np.ndarray, y: np.ndarray, args: Any
) -> dict:
    n = x.shape[0]
    t0 = time.perf_counter()
    index = WardIndex.build(codes, geoms)
    build_s = time.perf_counter() - t0

    polys = np.array(geoms, dtype=object)
    t0 = time.perf_counter()
    tree = shapely.STRtree(polys)
    shapely.prepare(polys)
    bare_build_s = time.perf_counter() - t0
    bounds = shapely.bounds(polys)

    bulk = {
        "ours_assign_bulk": lambda: index.assign_bulk(x, y),
        "ours_assign_indices": lambda: index.assign_indices(x, y),
        "bare_strtree_within": lambda: tree.query(shapely.points(x, y), predicate="within"),
        "bare_strtree_intersects": lambda: tree.query(shapely.points(x, y), predicate="intersects"),
        "bare_bbox_contains_xy": lambda: bbox_contains_xy(polys, bounds, x, y),
    }
    times = time_rounds(bulk, args.rounds)
    rates = {name: n / min(ts) for name, ts in times.items()}
    medians = {name: n / statistics.median(ts) for name, ts in times.items()}

    k = min(args.single, n)
    xs, ys = x[:k].tolist(), y[:k].tolist()

    def ours_one() -> None:
        for a, b in zip(xs, ys, strict=True):
            index.assign_one(a, b)

    def bare_one() -> None:
        for a, b in zip(xs, ys, strict=True):
            tree.query(shapely.Point(a, b), predicate="within")

    single_times = time_rounds(
        {"ours_assign_one": ours_one, "bare_strtree_within_one": bare_one}, args.rounds
    )
    single = {name: k / min(ts) for name, ts in single_times.items()}

    # Same answers where the bare method has one; what ours adds for the rest.
    ward, status, _ = index.assign_indices(x, y)
    bare = bbox_contains_xy(polys, bounds, x, y)
    inside = status == INSIDE
    agree = bool(np.array_equal(inside, bare >= 0) and np.array_equal(ward[inside], bare[inside]))
    counts = np.bincount(status, minlength=3)
    best_bare = max((name for name in rates if name.startswith("bare_")), key=rates.__getitem__)
    ratio = rates["ours_assign_bulk"] / rates[best_bare]
    return {
        "wards": len(codes),
        "vertices": int(shapely.get_num_coordinates(polys).sum()),
        "index": repr(index),
        "build_s": round(build_s, 3),
        "bare_tree_build_s": round(bare_build_s, 4),
        "bulk_points_per_s_best": {name: round(r) for name, r in rates.items()},
        "bulk_points_per_s_median": {name: round(r) for name, r in medians.items()},
        "single_points_per_s_best": {name: round(r) for name, r in single.items()},
        "best_bare": best_bare,
        "ours_over_best_bare": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "inside_agrees_with_bare": agree,
        "share": {
            "inside": round(float(counts[0]) / n, 4),
            "approximate": round(float(counts[1]) / n, 4),
            "outside": round(float(counts[2]) / n, 4),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--single", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=96)
    args = parser.parse_args()

    sets = {
        "2025": load_boundaries(CAMAU / "wards_2025.geojson"),
        "2019": load_boundaries(CAMAU / "wards_2019.geojson", CAMAU_2019),
    }
    minx, miny, maxx, maxy = sets["2025"].frame.total_bounds  # the merged province's bounding box
    rng = np.random.default_rng(args.seed)
    x = rng.uniform(minx, maxx, args.points)
    y = rng.uniform(miny, maxy, args.points)
    land_x, land_y = land_points(
        sets["2025"].frame.geometry.values, rng, args.points, (minx, miny, maxx, maxy)
    )

    results: dict[str, dict[str, Any]] = {}
    for scenario, (px, py) in {"bbox": (x, y), "land": (land_x, land_y)}.items():
        results[scenario] = {}
        for label, s in sets.items():
            results[scenario][label] = bench_set(
                label, s.codes, np.asarray(s.frame.geometry.values, dtype=object), px, py, args
            )

    doc = {
        "benchmark": "geo_assign",
        "what": "WardIndex bulk/single point->ward vs bare shapely point-in-polygon, same polygons and points",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "shapely": shapely.__version__,
        "geos": shapely.geos_version_string,
        "numpy": np.__version__,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg": list(os.getloadavg()),
        },
        "params": {
            "points": args.points,
            "rounds": args.rounds,
            "single": args.single,
            "seed": args.seed,
            "bbox": [float(minx), float(miny), float(maxx), float(maxy)],
            "max_distance_m": 2000,
        },
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    print(f"geo_assign: {args.points:,} random points per scenario, best of {args.rounds} rounds")
    flat = [
        (f"{scenario}/{label}", r) for scenario, per_set in results.items() for label, r in per_set.items()
    ]
    for label, r in flat:
        print(f"\n{label}: {r['wards']} wards, {r['vertices']:,} vertices; index built in {r['build_s']} s")
        print(f"  {'method':<26}{'best pts/s':>14}{'median pts/s':>14}")
        for name, rate in r["bulk_points_per_s_best"].items():
            print(f"  {name:<26}{rate:>14,}{r['bulk_points_per_s_median'][name]:>14,}")
        for name, rate in r["single_points_per_s_best"].items():
            print(f"  {name:<26}{rate:>14,}")
        verdict = "meets" if r["meets_target"] else "MISSES"
        print(
            f"  ours/best bare ({r['best_bare']}) = {r['ours_over_best_bare']:.2f}: {verdict} the "
            f"{TARGET_RATIO:.0%} target; inside agrees with bare: {r['inside_agrees_with_bare']}; "
            f"shares {r['share']}"
        )
    print(f"\nwrote {RESULTS.relative_to(REPO)}")
    return 0 if all(r["meets_target"] and r["inside_agrees_with_bare"] for _, r in flat) else 1


if __name__ == "__main__":
    sys.exit(main())
