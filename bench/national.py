"""Benchmark: the national instance — 34 provinces × 12 months of snapshots ingested, and the national map answered.

Setup: a private stack (``bench/_stack.py``: its own database, migrated, postgres flavour); the national instance is
the real app served by uvicorn in a subprocess (``ops-center api``, 1 worker, ``OPS_FEDERATION_MODE=national``);
the 34 provinces of the shared 2025 boundary file registered, each with its own credential.

Measured, through real HTTP, one request at a time on a keep-alive connection per province:

  ingest             POST /federation/v1/snapshots: per province, ``--months`` months of ``dossier_kpis`` (with
                     ``--units`` units each) and the current month of the three state kinds — snapshots/s and p95
  map                GET /national/map?metric=dossier_kpis.on_time_rate (the 34 outlines spliced in, ~0.9 MB)
  map_values         the same with geometry=false (the figures, ranking and freshness only)
  map_other_metric   GET /national/map?metric=incidents_open.open_total&geometry=false

beside ceilings measured in the same run:

  bare_sql           ``store.metric_values`` + ``store.statuses`` in-process on one connection (the database's share)
  static_http        the map's body served as precomputed bytes by a bare Starlette app under uvicorn
  static_post        a bare Starlette endpoint that reads a snapshot body and answers 201 (HTTP's share of ingest)

Target: the map p95 <= 100 ms with 34 × 12 months ingested. Results: printed and written to
``bench/results/national.json`` (the lead records figures on a quiet machine; a smoke run here is small).

Run: ``.venv/bin/python bench/national.py [--months 12] [--units 40] [--requests 200] [--screenshot PNG]``
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._stack import RESULTS, bench_stack  # noqa: E402
from bench._timing import samples, summary  # noqa: E402
from ops_center.db import connect  # noqa: E402
from ops_center.federation import periods  # noqa: E402
from ops_center.federation.national import credentials, provinces, store  # noqa: E402
from ops_center.federation.wire import envelope  # noqa: E402
from tests.support.services import free_port, settings_env, wait_port  # noqa: E402

timed = functools.partial(samples, warmup=5)

BOUNDARIES = (REPO / ".." / "shared" / "data" / "vietnam" / "provinces_2025.geojson").resolve()
STATIC_APP = """
import os
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
body = open(os.environ['STATIC_BODY'], 'rb').read()
async def get(request):
    return Response(body, media_type='application/geo+json')
async def post(request):
    await request.body()
    return Response(b'{"outcome":"stored"}', status_code=201, media_type='application/json')
app = Starlette(routes=[Route('/map', get), Route('/post', post, methods=['POST'])])
"""


def kpi(rng: random.Random, quality: float) -> dict[str, Any]:
    received = rng.randrange(800, 20000)
    l3, l4 = int(received * rng.uniform(0.2, 0.4)), int(received * rng.uniform(0.1, 0.4))
    postal = int(received * rng.uniform(0.01, 0.05))
    resolved = int(received * rng.uniform(0.8, 0.98))
    on_time = int(resolved * min(1.0, max(0.3, quality + rng.uniform(-0.05, 0.05))))
    return {"received": {"online_l3": l3, "online_l4": l4, "counter": received - l3 - l4 - postal, "postal": postal,
                         "total": received}, "resolved": resolved, "resolved_on_time": on_time,
            "open_overdue": rng.randrange(0, 400), "on_time_rate": on_time / resolved,
            "online_share": (l3 + l4) / received, "postal_receive_share": rng.uniform(0.02, 0.2),
            "postal_return_share": rng.uniform(0.05, 0.3)}


def snapshots(code: str, months: list[str], units: int, rng: random.Random) -> list[dict[str, Any]]:
    quality = rng.uniform(0.7, 0.97)
    now = datetime.now(UTC)
    out = []
    for m in months:
        data = {"province": kpi(rng, quality),
                "units": [{"code": f"U{code}-{u:03d}", "name": f"UBND xã Số {u + 1}", **kpi(rng, quality)}
                          for u in range(units)]}
        out.append(envelope(code, "dossier_kpis", m, 1, now, data))
    cur = months[-1]
    out.append(envelope(code, "incidents_open", cur, 1, now, {
        "open_total": 7, "open_overdue": 2, "reported_in_period": 30, "resolved_in_period": 25,
        "open": [{"severity": "major", "category": "flooding", "count": 4},
                 {"severity": "minor", "category": "fallen_tree", "count": 3}]}))
    out.append(envelope(code, "alerts_open", cur, 1, now, {
        "open_total": 5, "muted": 1, "acknowledged": 2, "fired_in_period": 40,
        "open": [{"severity": "critical", "category": "salinity_ppt", "count": 2},
                 {"severity": "major", "category": "water_level_cm", "count": 3}]}))
    online = rng.randrange(150, 300)
    out.append(envelope(code, "device_health", cur, 1, now, {
        "total": 320, "online": online, "online_share": online / 310,
        "kinds": [{"kind": "salinity", "total": 320, "enabled": 310, "online": online, "stale": 310 - online - 5,
                   "never_seen": 5}]}))
    return out


def serve(cmd: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    wait_port(port, 60, proc, what=" ".join(cmd[:3]))
    return proc


def setup(url: str) -> tuple[tuple[provinces.Province, ...], dict[str, str], str]:
    """The 34 provinces registered with a credential each, and an admin user (its password)."""
    from ops_center.auth.users import create_user

    provs = provinces.load(BOUNDARIES)
    tokens: dict[str, str] = {}
    password = "bench-" + os.urandom(6).hex()
    with connect(url) as conn:
        for p in provs:
            credentials.ensure_province(conn, p.code, p.name, 900)
            tokens[p.code] = credentials.issue(conn, p.code)
        create_user(conn, "bench-admin", password, "admin")
        conn.commit()
    return provs, tokens, password


def ingest(base: str, provs: tuple[provinces.Province, ...], tokens: dict[str, str], months: list[str],
           units: int) -> dict[str, Any]:
    rng = random.Random(2025)
    lat: list[float] = []
    t0 = time.perf_counter()
    for p in provs:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[p.code]}"}, timeout=30) as c:
            for env_ in snapshots(p.code, months, units, rng):
                t = time.perf_counter()
                r = c.post("/federation/v1/snapshots", json=env_)
                lat.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 201, r.text
    wall = time.perf_counter() - t0
    return {"snapshots": len(lat), "seconds": round(wall, 2), "per_s": round(len(lat) / wall, 1), **summary(lat)}


def measure_map(base: str, password: str, period: str, n: int) -> tuple[dict[str, Any], bytes]:
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=30) as c:
        tok = c.post("/auth/token", data={"username": "bench-admin", "password": password}).json()
        c.headers["Authorization"] = f"Bearer {tok['access_token']}"
        params = {"metric": "dossier_kpis.on_time_rate", "period": period}
        body = c.get("/national/map", params=params).content
        assert len(json.loads(body)["features"]) == 34
        out["map_bytes"] = len(body)
        out["map"] = summary(timed(lambda: c.get("/national/map", params=params), n))
        out["map_values"] = summary(timed(lambda: c.get("/national/map", params={**params, "geometry": "false"}), n))
        out["map_other_metric"] = summary(timed(lambda: c.get("/national/map", params={
            "metric": "incidents_open.open_total", "geometry": "false"}), n))
    return out, body


def ceilings(url: str, body: bytes, period: str, months: list[str], units: int, n: int, tmp: str
             ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with connect(url) as conn:
        out["bare_sql"] = summary(timed(lambda: (store.metric_values(
            conn, "dossier_kpis", ("province", "on_time_rate"), period), store.statuses(conn)), n))
    body_file = Path(tmp) / "map.json"
    body_file.write_bytes(body)
    (Path(tmp) / "static_app.py").write_text(STATIC_APP)
    port = free_port()
    static = serve([sys.executable, "-m", "uvicorn", "--app-dir", tmp, "static_app:app", "--port", str(port),
                    "--log-level", "warning"], {**os.environ, "PYTHONPATH": tmp, "STATIC_BODY": str(body_file)},
                   port, Path(tmp) / "s.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            out["static_http"] = summary(timed(lambda: c.get("/map"), n))
            sample = snapshots("01", months[:1], units, random.Random(1))[0]
            out["static_post"] = summary(timed(lambda: c.post("/post", json=sample), n))
    finally:
        static.terminate()
        static.wait(10)
    return out


def run(args: argparse.Namespace, result: dict[str, Any]) -> None:
    with bench_stack() as st, tempfile.TemporaryDirectory(prefix="ops-national-") as tmp:
        url = st.settings.database_url
        provs, tokens, password = setup(url)
        port = free_port()
        env = {**settings_env(st.settings), "OPS_FEDERATION_MODE": "national",
               "OPS_FEDERATION_BOUNDARIES_FILE": str(BOUNDARIES)}
        api = serve([str(REPO / ".venv" / "bin" / "ops-center"), "api", "--port", str(port), "--log-level",
                     "warning"], env, port, Path(tmp) / "api.log")
        base = f"http://127.0.0.1:{port}"
        try:
            months = periods.months_back(datetime.now(UTC), args.months)
            result["ingest"] = ingest(base, provs, tokens, months, args.units)
            with connect(url) as conn:
                stored = conn.execute("SELECT count(*), count(DISTINCT province) FROM federation_snapshots").fetchone()
            result["ingest"]["stored"], result["ingest"]["provinces"] = stored
            period = months[-2] if len(months) > 1 else months[0]
            figures, body = measure_map(base, password, period, args.requests)
            result.update(figures)
            result.update(ceilings(url, body, period, months, args.units, args.requests, tmp))
            if args.screenshot:
                from scripts.national_screenshot import capture

                print(capture(base, "bench-admin", password, args.screenshot))
        finally:
            api.terminate()
            api.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--screenshot", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS / "national.json")
    args = ap.parse_args()
    result: dict[str, Any] = {"benchmark": "national", "at": datetime.now(UTC).isoformat(),
                              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                              "params": vars(args) | {"screenshot": str(args.screenshot), "out": str(args.out)}}
    run(args, result)
    result["target"] = {"map_p95_ms": 100, "met": result["map"]["p95_ms"] <= 100}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps({k: result[k] for k in ("ingest", "map", "map_values", "map_other_metric", "bare_sql",
                                             "static_http", "static_post", "target")}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
