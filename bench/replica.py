"""Benchmark: read-heavy routes served by a streaming replica against the same routes served by the primary.

Setup: a private stack for Redis and the broker (``bench/_stack.py``), a private primary cluster and a real
streaming replica of it (``tests/support/replica.py``: ``pg_basebackup -R`` into a second cluster on another
port), a province's data on the primary (the Cà Mau boundary sets, 12 months of dossiers over ``--units`` units,
``--devices`` devices with ``--hours`` of 5-minute readings; ``tests/replica/support.py``), replayed by the replica.
One API process (``ops-center api``, uvicorn, 1 worker) names the replica.

Measured, through real HTTP, one request at a time on a keep-alive connection, in alternating rounds (primary then
replica, replica then primary, …) against the same process — a primary round sends the read-after-write cookie,
so the only difference between the two is the server that runs the queries:

  summary     GET /map/summary (2025 set, the last 24 h: devices, sensor rollups, the other domains' layers)
  scorecard   GET /scorecard (766 index, level unit, period month, the last 12 months)
  kpis        GET /kpis/dossiers (level unit, period month, the last 12 months)

beside, in the same run, a bare ``SELECT 1`` round trip to each server. The answers of both are checked
identical first, and the replica's read counter (``/readyz``) must account for every replica-round request.

Target (issue #17): summary and scorecard p95 on the replica within 10% of the primary's. Results: printed and
written to ``bench/results/replica.json`` with the load average before and after (a smoke run on a shared machine
says little; the lead records figures on a quiet one).

Run: ``.venv/bin/python bench/replica.py [--rounds 6] [--requests 40] [--units 20] [--dossiers 300]
[--devices 40] [--hours 72]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api.replica_reads import READ_PRIMARY_COOKIE  # noqa: E402
from bench._stack import RESULTS, bench_stack  # noqa: E402
from bench._timing import samples as timed  # noqa: E402
from bench._timing import summary  # noqa: E402
from ops_center.db import connect  # noqa: E402
from tests.replica.support import SET_2025, Province, bearer, load_province  # noqa: E402
from tests.support.replica import StreamingPair, streaming_pair  # noqa: E402
from tests.support.services import free_port, settings_env, wait_port  # noqa: E402

TARGET_RATIO = 1.10


def routes(province: Province) -> dict[str, tuple[str, dict[str, str]]]:
    end = province.now.replace(minute=0, second=0, microsecond=0)
    today = province.now.date()
    year = {"from": (today - timedelta(days=365)).replace(day=1).isoformat(), "to": today.isoformat()}
    return {
        "summary": ("/map/summary", {"set": SET_2025, "from": (end - timedelta(hours=24)).isoformat(),
                                     "to": end.isoformat()}),
        "scorecard": ("/scorecard", {"level": "unit", "period": "month", **year, "limit": "500"}),
        "kpis": ("/kpis/dossiers", {"level": "unit", "period": "month", **year}),
    }


def replica_reads(c: httpx.Client) -> int:
    return int(c.get("/readyz").json()["checks"]["replicas"]["items"][0]["reads"])


def bare(pair: StreamingPair, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, url in (("primary", pair.primary_url), ("replica", pair.replica_url)):
        with connect(url, autocommit=True) as conn:
            timed(lambda: conn.execute("SELECT 1"), 20)
            out[name] = summary(timed(lambda: conn.execute("SELECT 1"), n))
    return out


def measure(base: str, headers: dict[str, str], province: Province, rounds: int, n: int) -> dict[str, Any]:
    """Alternating rounds; a primary round carries the read-after-write cookie (same process, same caches)."""
    lat: dict[str, dict[str, list[float]]] = {r: {"primary": [], "replica": []} for r in routes(province)}
    sticky = {READ_PRIMARY_COOKIE: f"{time.time() + 86400:.3f}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as c, \
            httpx.Client(base_url=base, headers=headers, cookies=sticky, timeout=60) as p:
        clients = {"primary": p, "replica": c}
        for route, (path, params) in routes(province).items():  # identical answers, and a warm-up of both
            a, b = p.get(path, params=params), c.get(path, params=params)
            assert a.status_code == b.status_code == 200, (route, a.text[:300], b.text[:300])
            assert a.content == b.content, f"{route}: the replica's answer differs from the primary's"
            for _ in range(5):
                p.get(path, params=params), c.get(path, params=params)
        before = replica_reads(c)
        for i in range(rounds):
            order = ("primary", "replica") if i % 2 == 0 else ("replica", "primary")
            for route, (path, params) in routes(province).items():
                for side in order:
                    lat[route][side] += timed(lambda: clients[side].get(path, params=params), n)  # noqa: B023
        served = replica_reads(c) - before  # /readyz reads no replica itself
    out: dict[str, Any] = {"replica_reads_counted": served, "replica_requests": rounds * n * len(lat)}
    for route, sides in lat.items():
        prim, repl = summary(sides["primary"]), summary(sides["replica"])
        out[route] = {"primary": prim, "replica": repl, "p95_ratio": round(repl["p95_ms"] / prim["p95_ms"], 3)}
    return out


def run(args: argparse.Namespace, result: dict[str, Any]) -> None:
    with bench_stack() as st, streaming_pair() as pair, tempfile.TemporaryDirectory(prefix="ops-replica-") as tmp:
        t0 = time.perf_counter()
        province = load_province(pair.primary_url, st.settings.data_dir, units=args.units,
                                 dossiers_per_month=args.dossiers, devices=args.devices, hours=args.hours)
        with connect(pair.primary_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        pair.wait_caught_up(120)
        result["load_s"] = round(time.perf_counter() - t0, 1)
        port = free_port()
        env = {**settings_env(st.settings), "OPS_DATABASE_URL": pair.primary_url,
               "OPS_DB_REPLICA_URLS": json.dumps([pair.replica_url]), "OPS_DB_REPLICA_MAX_LAG_S": "30"}
        log = Path(tmp) / "api.log"
        api = subprocess.Popen([str(REPO / ".venv" / "bin" / "ops-center"), "api", "--port", str(port),
                                "--log-level", "warning"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        try:
            wait_port(port, 60, api, what="ops-center api")
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while not httpx.get(base + "/readyz").json()["checks"]["replicas"]["usable"]:
                assert time.monotonic() < deadline, httpx.get(base + "/readyz").text
                time.sleep(0.2)
            result["load_avg_before"] = os.getloadavg()
            result.update(measure(base, bearer(st.settings, province), province, args.rounds, args.requests))
            result["bare_select_1"] = bare(pair, args.requests * 2)
            result["load_avg_after"] = os.getloadavg()
        finally:
            api.terminate()
            api.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--requests", type=int, default=40, help="per route, server and round")
    ap.add_argument("--units", type=int, default=20)
    ap.add_argument("--dossiers", type=int, default=300, help="per month")
    ap.add_argument("--devices", type=int, default=40)
    ap.add_argument("--hours", type=int, default=72)
    ap.add_argument("--out", type=Path, default=RESULTS / "replica.json")
    args = ap.parse_args()
    result: dict[str, Any] = {"benchmark": "replica", "at": datetime.now(UTC).isoformat(),
                              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                              "params": vars(args) | {"out": str(args.out)}}
    run(args, result)
    ratios = {r: result[r]["p95_ratio"] for r in ("summary", "scorecard")}
    result["target"] = {"p95_ratio_max": TARGET_RATIO, "ratios": ratios,
                        "met": all(v <= TARGET_RATIO for v in ratios.values())}
    assert result["replica_reads_counted"] >= result["replica_requests"], "some replica-round reads hit the primary"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps({k: result[k] for k in ("summary", "scorecard", "kpis", "bare_select_1", "load_avg_before",
                                             "load_avg_after", "target")}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
