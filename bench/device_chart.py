"""Benchmark: the device chart — ``GET /devices/{id}/series?range=30d`` over 30 days of one-minute readings.

In a database of its own (postgres flavour): one salinity sensor with ``--days`` days of one-minute readings of its
three metrics (salinity, water temperature, battery) ending now, beside ``--background`` other devices with the
same history of one metric (so the tables and their indexes are not toy-sized). The API runs in uvicorn (a real
HTTP server, one worker); a client with keep-alive asks for the chart ``--runs`` times after a warm-up:

- ``30d``: the target (hourly buckets from the hourly rollup, three metrics): p95 ≤ 100 ms;
- ``7d`` (hourly rollup) and ``24h`` (5-minute buckets from raw readings), for context.

Ceilings measured in the same run: the bare rollup query a 30-day chart needs (the same rows from
``readings_hourly`` without grouping, straight through psycopg), and ``ReadingsStore.band`` in-process (the
route's query without HTTP, auth and JSON). Results: printed and written to ``bench/results/device_chart.json``.

Run: ``.venv/bin/python bench/device_chart.py [--days 30] [--background 20] [--runs 200]``
(smoke: ``--days 2 --background 1 --runs 20``). Record figures on a quiet machine only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from ops_center.auth.users import create_user  # noqa: E402
from ops_center.db import Conn, connect  # noqa: E402
from ops_center.migrate import migrate  # noqa: E402
from ops_center.readings import ReadingsStore  # noqa: E402
from tests.support.services import database, free_port  # noqa: E402

RESULTS = REPO / "bench" / "results" / "device_chart.json"
TARGET_P95_MS = 100.0
DEVICE = "bench-sal-001"
METRICS = ("salinity_ppt", "water_temperature_c", "battery_v")


def load(conn: Conn, days: int, background: int, now: datetime) -> int:
    """One-minute readings ending at ``now``: the chart's device (three metrics) and the background devices."""
    store = ReadingsStore.for_connection(conn)
    ids = [DEVICE] + [f"bench-bg-{i:03d}" for i in range(background)]
    for d in ids:
        conn.execute("INSERT INTO devices (id, kind, name, expected_interval_s, last_seen) "
                     "VALUES (%s, 'salinity', %s, 60, now())", (d, f"Trạm đo mặn {d}"))
    start = now - timedelta(days=days)
    minutes = days * 1440
    total = 0
    batch: list[tuple[float, str, str, float]] = []
    for i in range(minutes):
        t = (start + timedelta(minutes=i)).timestamp()
        batch.append((t, DEVICE, "salinity_ppt", 2.0 + (i % 720) / 100))
        batch.append((t, DEVICE, "water_temperature_c", 28.0 + (i % 1440) / 480))
        batch.append((t, DEVICE, "battery_v", 3.6 - (i % 10_000) / 50_000))
        batch.extend((t, d, "salinity_ppt", 1.0 + (i % 360) / 100) for d in ids[1:])
        if len(batch) >= 50_000:
            with conn.transaction():
                total += store.write_batch(conn, batch).inserted
            batch = []
    if batch:
        with conn.transaction():
            total += store.write_batch(conn, batch).inserted
    conn.execute("ANALYZE")
    return total


def stats(samples_ms: list[float]) -> dict[str, float]:
    s = sorted(samples_ms)
    return {"n": len(s), "p50_ms": round(statistics.median(s), 2), "p95_ms": round(s[int(0.95 * (len(s) - 1))], 2),
            "max_ms": round(s[-1], 2)}


def timed(fn: Any, runs: int, warmup: int = 5) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return stats(out)


def serve(url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "OPS_ENV_FILE": "/dev/null", "OPS_DATABASE_URL": url, "OPS_ENV": "dev",
           "OPS_JWT_SECRET": secrets.token_urlsafe(24)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port),
                             "--log-level", "warning"], cwd=REPO, env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"uvicorn did not start: {log.read_text()[-2000:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--background", type=int, default=20)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with database("ops_bench_chart") as url, connect(url, autocommit=True) as conn:
        migrate(conn, "postgres")
        t0 = time.perf_counter()
        readings = load(conn, args.days, args.background, now)
        load_s = time.perf_counter() - t0
        print(f"loaded {readings:,} readings in {load_s:.1f} s", flush=True)
        password = secrets.token_urlsafe(16)
        create_user(conn, "bench", password, "leader")
        log = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-device-chart-uvicorn.log"
        proc, base = serve(url, log)
        try:
            with httpx.Client(base_url=base, timeout=30) as http:
                token = http.post("/auth/token", data={"username": "bench", "password": password}).json()
                http.headers["Authorization"] = f"Bearer {token['access_token']}"
                routes: dict[str, dict[str, Any]] = {}
                for rng in ("30d", "7d", "24h"):
                    answer = http.get(f"/devices/{DEVICE}/series", params={"range": rng})
                    answer.raise_for_status()
                    body = answer.json()
                    routes[rng] = {**timed(lambda r=rng: http.get(f"/devices/{DEVICE}/series",
                                                                  params={"range": r}).raise_for_status(),
                                           args.runs),
                                   "interval_s": body["interval_s"], "source": body["source"],
                                   "points": sum(len(s["t"]) for s in body["series"]),
                                   "bytes": len(answer.content)}
        finally:
            proc.terminate()
            proc.wait(30)
        start, end = now - timedelta(days=30), now
        bare = timed(lambda: conn.execute(
            "SELECT bucket, metric, count, min, max, sum FROM readings_hourly WHERE device_id = %s "
            "AND metric = ANY(%s) AND bucket >= %s AND bucket < %s", (DEVICE, list(METRICS), start, end)).fetchall(),
            args.runs)
        store = ReadingsStore.for_connection(conn)
        band = timed(lambda: store.band(conn, [DEVICE], list(METRICS), start, end, timedelta(hours=1)), args.runs)
    result = {
        "benchmark": "device_chart", "when": datetime.now(UTC).isoformat(), "host": platform.node(),
        "cpus": os.cpu_count(), "days": args.days, "background_devices": args.background, "readings": readings,
        "load_s": round(load_s, 1), "runs": args.runs, "target_p95_ms": TARGET_P95_MS,
        "route": routes, "ceiling_bare_rollup_query": bare, "band_in_process": band,
        "target_met": routes["30d"]["p95_ms"] <= TARGET_P95_MS,
    }
    print(json.dumps(result, indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
