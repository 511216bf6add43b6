"""Benchmark: the national service index (Decision 766) of a year by unit over 1,000,000 dossiers, over HTTP.

In a database of its own (postgres flavour): 129 units (19 departments, 9 districts, 101 communes in 101 wards of
9 districts), 300 procedures with the index's flags and publication dates (each unit handling its own subset:
communes 60, district committees 90, departments 120, a few often and most rarely), ``--dossiers`` dossiers received over
2025 (channels, reception facts, fees and online payments, supplements — 1 % asked twice —, granted / refused /
withdrawn / still open, electronic results, ratings) and petitions (5 % as many). Dossiers and petitions are
written in bulk (COPY) with their derived fields from the same functions the write path uses, and the rollups
rebuilt from those states (``--through-ingest`` sends the dossiers through ``ingest_events`` instead: slower, the
same tables).

Then a real API process (uvicorn, the app factory) answers ``GET /scorecard?level=unit&period=year`` for 2025,
``--runs`` times after a warm-up, over one keep-alive HTTP connection: p50/p95/max. Beside it, in the same run:
the ceiling — the bare rollup query (one ``GROUP BY unit`` sum of the index counters over the year's monthly rollup
rows, in process) — and for context the HTTP floor (``GET /healthz``), the same scorecard computed in process, an
arbitrary date range by unit, the trend by month and the ranking.

Target: the year by unit, p95 <= 100 ms over HTTP. Results: printed and written to ``bench/results/scorecard.json``.

Run: ``.venv/bin/python bench/scorecard.py [--dossiers N] [--runs R]`` (a smoke run: ``--dossiers 20000 --runs 10``).
Loading 1,000,000 dossiers takes many minutes: ``--keep NAME`` loads into a database of that name and keeps it,
and a later run with the same ``--keep NAME`` measures it again without loading (drop it with ``dropdb NAME``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._timing import timed  # noqa: E402
from ops_center.auth.users import create_user  # noqa: E402
from ops_center.db import Conn, connect  # noqa: E402
from ops_center.dossiers import index_rollup, rollup  # noqa: E402
from ops_center.dossiers import service as dossiers  # noqa: E402
from ops_center.dossiers.apply import derive  # noqa: E402
from ops_center.dossiers.calendar import BusinessCalendar, load_calendar  # noqa: E402
from ops_center.dossiers.rollup import DossierState  # noqa: E402
from ops_center.migrate import migrate  # noqa: E402
from ops_center.petitions import service as petitions  # noqa: E402
from ops_center.scorecard import service  # noqa: E402
from ops_center.scorecard.periods import Period  # noqa: E402
from tests.support.services import ADMIN_DSN, database, free_port  # noqa: E402

RESULTS = REPO / "bench" / "results" / "scorecard.json"
ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=ICT)
YEAR = Period(date(2025, 1, 1), date(2026, 1, 1))
TARGET_P95_MS = 100.0
SEED = 766


def setup(conn: Conn, rng: random.Random) -> dict[str, Any]:
    conn.execute("INSERT INTO boundary_sets (name, valid_from, valid_to) VALUES ('bench-2019', '2019-01-01', NULL)")
    rows = [("bench-2019", "district", f"D{d}", f"Huyện {d}", None) for d in range(9)]
    rows += [("bench-2019", "ward", f"W{w:03d}", f"Xã {w}", f"D{w % 9}") for w in range(101)]
    units = [(f"SO{u:02d}", f"Sở {u}", "department", f"W{u:03d}") for u in range(19)]
    units += [(f"H{u}", f"UBND huyện {u}", "district", f"W{u:03d}") for u in range(9)]
    units += [(f"X{u:03d}", f"UBND xã {u}", "commune", f"W{u:03d}") for u in range(101)]
    procs = []
    for p in range(300):
        decided = date(2024, 1, 1) + timedelta(days=rng.randrange(700))
        procs.append((f"1.{p:06d}", f"Thủ tục {p}", rng.choice([0, 1, 2, 3, 5, 5, 7, 10, 15]),
                      rng.choice(["none", "partial", "full"]), rng.random() < 0.4, rng.random() < 0.5,
                      rng.random() < 0.4, rng.random() < 0.5, rng.random() < 0.7, decided,
                      decided + timedelta(days=rng.randrange(3, 30)), decided + timedelta(days=rng.randrange(0, 12)),
                      ["name", "steps", "method", "components", "time_limit", "applicants", "agency"][
                          : 7 if rng.random() < 0.8 else 6]))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO boundary_units (set_name, level, code, name, parent_code, area_km2, rep_lon, "
                        "rep_lat, geom) VALUES (%s, %s, %s, %s, %s, 1, 105, 9, '\\x00')", rows)
        cur.executemany("INSERT INTO units (code, name, level, ward_code) VALUES (%s, %s, %s, %s)", units)
        cur.executemany("INSERT INTO procedures (code, name, processing_days, online_service, offered_by_post, "
                        "full_online_eligible, has_fees, paper_result, citizen_facing, decision_date, "
                        "legal_effective_date, public_date, parts) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                        "%s, %s, %s)", procs)
        cur.executemany("INSERT INTO unit_facts (unit_code, fact, since, value) VALUES (%s, 'e_certified_copy', "
                        "'2024-01-01', true)", [(u[0],) for u in units if rng.random() < 0.6])
    # each unit handles its own subset of the catalogue, a few procedures often and most rarely (Zipf-like):
    # communes 60, district committees 90, departments 120
    menus = {}
    for u in units:
        size = {"commune": 60, "district": 90, "department": 120}[u[2]]
        chosen = rng.sample(procs, size)
        menus[u[0]] = (chosen, [1.0 / (k + 1) for k in range(size)])
    return {"units": [u for u in units], "procs": procs, "menus": menus}


def _moment(rng: random.Random, d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 7, 30, tzinfo=ICT) + timedelta(minutes=rng.randrange(570))


def dossier(rng: random.Random, cal: BusinessCalendar, catalog: dict[str, Any], n: int) -> DossierState:
    code, _, _, ward = rng.choice(catalog["units"])
    menu, weights = catalog["menus"][code]
    p = rng.choices(menu, weights)[0]
    day = date(2025, 1, 1) + timedelta(days=rng.randrange(365))
    at = _moment(rng, day)
    due = cal.due_date(at, p[2])
    s = DossierState(f"HS-{n:08d}", p[0], code, "bench-2019", ward,
                     rng.choices(["online_partial", "online_full", "counter", "postal"], [25, 25, 35, 15])[0], at,
                     p[2], due, p[4], synced_at=at + timedelta(minutes=5) if rng.random() < 0.85 else None,
                     digitised=rng.random() < 0.6, reused_data=rng.random() < 0.3, from_personal_store=rng.random() < 0.2,
                     population_data=rng.random() < 0.4, fee_due=p[6] and rng.random() < 0.9, paper_result=p[7],
                     full_online_eligible=p[5])
    if s.fee_due and rng.random() < 0.5:
        s.paid_online_at = at + timedelta(hours=rng.randrange(1, 48))
    t = at
    for _ in range(rng.choices([0, 1, 2], [85, 14, 1])[0]):
        t += timedelta(hours=rng.randrange(2, 72))
        s.supplement_requests.append(t)
        t += timedelta(hours=rng.randrange(2, 120))
        s.supplement_receipts.append(t)
    fate = rng.random()
    if fate < 0.97:
        end_day = cal.add_business_days(day, rng.randrange(0, p[2] + 1)) if rng.random() < 0.9 else \
            due + timedelta(days=rng.randrange(1, 20))
        end = max(_moment(rng, end_day), t + timedelta(minutes=5))
        if end < NOW:
            s.resolved_at = end
            s.outcome = "granted" if fate < 0.9 else ("refused" if fate < 0.95 else "withdrawn")
            s.electronic_result = s.outcome == "granted" and rng.random() < 0.7
            rated_at = end + timedelta(days=rng.randrange(0, 10))
            if s.outcome == "granted" and rng.random() < 0.3 and rated_at < NOW:
                s.rating = rng.choices(["satisfied", "unsatisfied", "complaint"], [85, 10, 5])[0]
                s.rated_at = rated_at
            if s.electronic_result and rng.random() < 0.5 and end + timedelta(hours=1) < NOW:
                s.result_synced_at = end + timedelta(hours=1)
    derive(s)
    return s


def bulk_load(conn: Conn, states: list[DossierState]) -> None:
    cols = [c for c in DossierState.__slots__ if c != "id"]  # type: ignore[attr-defined]
    with conn.cursor() as cur, cur.copy(f"COPY dossiers (id, {', '.join(cols)}) FROM STDIN") as cp:
        for s in states:
            cp.write_row([s.id, *(getattr(s, c) for c in cols)])
    with conn.transaction():
        rollup.rebuild(conn, states)
        index_rollup.rebuild(conn, states)


def petition_states(rng: random.Random, cal: BusinessCalendar, catalog: dict[str, Any], n: int
                    ) -> list[petitions.PetitionState]:
    out = []
    for i in range(n):
        code, _, _, ward = rng.choice(catalog["units"])
        at = _moment(rng, date(2025, 1, 1) + timedelta(days=rng.randrange(365)))
        s = petitions.PetitionState(f"PA-{i:07d}", code, "bench-2019", ward, "other", at,
                                    cal.add_business_days(at.date(), 15))
        if rng.random() < 0.9:
            s.handled_at = at + timedelta(days=rng.randrange(1, 30))
            if rng.random() < 0.5:
                s.rating, s.rated_at = rng.choice(["satisfied", "unsatisfied"]), s.handled_at + timedelta(days=1)
        out.append(s)
    return out


@contextmanager
def api_server(url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "OPS_ENV_FILE": "/dev/null", "OPS_ENV": "dev", "OPS_DATABASE_URL": url}
    proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "uvicorn"), "api.app:create_app", "--factory", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env, cwd=REPO)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


BARE = ("SELECT unit_code, " + ", ".join(f"sum({c})" for c in index_rollup.INDEX.counters)
        + " FROM dossier_index_monthly WHERE month >= %s AND month < %s GROUP BY 1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dossiers", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--through-ingest", action="store_true")
    ap.add_argument("--keep", metavar="NAME", help="load into (or reuse) the database NAME and keep it")
    args = ap.parse_args()
    rng, cal = random.Random(SEED), load_calendar()
    out: dict[str, Any] = {
        "benchmark": "scorecard", "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_avg_start": list(os.getloadavg())},
        "params": {"dossiers": args.dossiers, "runs": args.runs, "seed": SEED, "year": 2025,
                   "load": "ingest_events" if args.through_ingest else "bulk COPY + rollup rebuild"},
        "target": {"year_by_unit_http_p95_ms": TARGET_P95_MS},
    }
    with _bench_database(args.keep) as (url, fresh), connect(url, autocommit=True) as conn:
        if fresh:
            out["load"] = load(conn, rng, cal, args.dossiers, args.through_ingest)
        else:
            out["load"] = {"reused": args.keep}
        print(json.dumps(out["load"]))
        out["params"]["dossiers"] = conn.execute("SELECT count(*) FROM dossiers").fetchone()[0]  # type: ignore[index]
        with connect(url) as c2:
            c2.execute("DELETE FROM users WHERE username = 'bench-leader'")
            create_user(c2, "bench-leader", "bench-password-766", "leader")
            c2.commit()
        inproc = {
            "year_by_unit": timed(lambda: service.scorecard(conn, "unit", "year", YEAR, cal), args.runs),
            "range_by_unit": timed(lambda: service.scorecard(conn, "unit", "range", Period(
                date(2025, 2, 14), date(2025, 11, 21)), cal), args.runs),
            "province_by_month": timed(lambda: service.scorecard(conn, "province", "month", YEAR, cal), args.runs),
            "ceiling_bare_rollup_query": timed(lambda: conn.execute(BARE, (YEAR.first, YEAR.stop)).fetchall(),
                                               args.runs),
        }
        with api_server(url) as base:
            with httpx.Client(base_url=base, timeout=30) as http:
                token = http.post("/auth/token", data={"username": "bench-leader",
                                                       "password": "bench-password-766"}).json()["access_token"]
                h = {"Authorization": f"Bearer {token}"}

                def get(path: str, h: dict[str, str] = h, **params: Any) -> None:
                    r = http.get(path, params=params, headers=h)
                    assert r.status_code == 200, r.text[:300]

                year = {"level": "unit", "period": "year", "from": "2025-01-01", "to": "2025-12-31",
                        "limit": 500}
                get("/scorecard", **year)
                items = http.get("/scorecard", params=year, headers=h).json()["items"]
                http_runs = {
                    "year_by_unit": timed(lambda year=year: get("/scorecard", **year), args.runs),  # type: ignore[misc]
                    "range_by_unit": timed(lambda: get("/scorecard", level="unit", period="range",
                                                       **{"from": "2025-02-14", "to": "2025-11-20", "limit": 500}),
                                           args.runs),
                    "ranking_year": timed(lambda: get("/scorecard/ranking", **{"from": "2025-01-01",
                                                                              "to": "2025-12-31"}), args.runs),
                    "trend_province": timed(lambda: get("/scorecard/trend", **{"from": "2025-01-01",
                                                                              "to": "2025-12-31"}), args.runs),
                    "floor_healthz": timed(lambda: http.get("/healthz"), args.runs),
                }
        out["in_process"], out["http"] = inproc, http_runs
        out["items_year_by_unit"] = len(items)
    p95 = out["http"]["year_by_unit"]["p95_ms"]
    out["result"] = {"year_by_unit_http_p95_ms": p95,
                     "ceiling_bare_rollup_query_p95_ms": out["in_process"]["ceiling_bare_rollup_query"]["p95_ms"],
                     "http_floor_p95_ms": out["http"]["floor_healthz"]["p95_ms"], "target_met": p95 <= TARGET_P95_MS}
    out["machine"]["load_avg_end"] = list(os.getloadavg())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({"in_process": out["in_process"], "http": out["http"], "result": out["result"]}, indent=2))
    return 0 if out["result"]["target_met"] else 1


def load(conn: Conn, rng: random.Random, cal: BusinessCalendar, n: int, through_ingest: bool) -> dict[str, Any]:
    """The data set into a fresh database: units, catalogue, ``n`` dossiers, petitions; rollups; statistics."""
    migrate(conn, "postgres")
    catalog = setup(conn, rng)
    t0 = time.perf_counter()
    states = [dossier(rng, cal, catalog, i) for i in range(n)]
    if through_ingest:
        _through_ingest(conn, states, cal)
    else:
        bulk_load(conn, states)
    del states
    pets = petition_states(rng, cal, catalog, max(1, n // 20))
    with conn.cursor() as cur, cur.copy(f"COPY petitions ({', '.join(petitions.COLUMNS)}) FROM STDIN") as cp:
        for p in pets:
            cp.write_row([getattr(p, c) for c in petitions.COLUMNS])
    with conn.transaction():
        petitions.rebuild(conn)
    conn.execute("VACUUM ANALYZE")
    rows = conn.execute("SELECT (SELECT count(*) FROM dossier_index_monthly WHERE month >= '2025-01-01'), "
                        "(SELECT count(*) FROM dossier_procedure_monthly WHERE month >= '2025-01-01'), "
                        "(SELECT count(*) FROM dossiers)").fetchone()
    assert rows is not None
    return {"seconds": round(time.perf_counter() - t0, 1), "dossiers": rows[2], "petitions": len(pets),
            "index_monthly_rows_in_year": rows[0], "procedure_monthly_rows_in_year": rows[1]}


@contextlib.contextmanager
def _bench_database(keep: str | None) -> Iterator[tuple[str, bool]]:
    """``(url, fresh)``: a throw-away database, or the one named ``keep`` (created and loaded once, then kept)."""
    if keep is None:
        with database("ops_bench_scorecard") as url:
            yield url, True
        return
    with connect(ADMIN_DSN, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (keep,)).fetchone() is not None
        if not exists:
            admin.execute(f'CREATE DATABASE "{keep}" TEMPLATE template0 ENCODING \'UTF8\'')  # type: ignore[arg-type]
    url = f"{ADMIN_DSN.rsplit('/', 1)[0]}/{keep}"
    if exists:
        with connect(url, autocommit=True) as conn:
            migrated = conn.execute("SELECT to_regclass('petitions') IS NOT NULL").fetchone()
            done = bool(migrated and migrated[0]) and conn.execute("SELECT 1 FROM petitions LIMIT 1").fetchone()
        if not done:
            raise SystemExit(f"database {keep} exists but was not loaded completely: dropdb {keep} and run again")
    yield url, not exists


def _through_ingest(conn: Conn, states: list[DossierState], cal: BusinessCalendar) -> None:
    """The same dossiers as events through the write path (batches of 5,000 events)."""
    events: list[dict[str, Any]] = []
    for s in states:
        assert s.received_at is not None
        events.append({"dossier_id": s.id, "type": "received", "at": s.received_at.isoformat(), "channel": s.channel,
                       "procedure": s.procedure_code, "unit": s.unit_code, "ward": s.ward_code,
                       **{f: True for f in ("digitised", "reused_data", "from_personal_store", "population_data",
                                            "fee_due") if getattr(s, f)}})
        events += [{"dossier_id": s.id, "type": kind, "at": t.isoformat()} for kind, t in (
            ("synced", s.synced_at), ("paid", s.paid_online_at), ("result_synced", s.result_synced_at)) if t]
        events += [{"dossier_id": s.id, "type": "supplement_requested", "at": t.isoformat()}
                   for t in s.supplement_requests]
        events += [{"dossier_id": s.id, "type": "supplement_received", "at": t.isoformat()}
                   for t in s.supplement_receipts]
        if s.resolved_at:
            events.append({"dossier_id": s.id, "type": "resolved", "at": s.resolved_at.isoformat(),
                           "outcome": s.outcome, "electronic_result": s.electronic_result})
        if s.rated_at:
            events.append({"dossier_id": s.id, "type": "rated", "at": s.rated_at.isoformat(), "rating": s.rating})
    for i in range(0, len(events), 5000):
        r = dossiers.ingest_events(conn, events[i:i + 5000], "http:/dossiers/events", calendar=cal, now=NOW)
        assert not r.rejected, r.rejected[:3]


if __name__ == "__main__":
    sys.exit(main())
