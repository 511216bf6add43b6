"""Benchmark: dossier events in, KPIs out.

In a database of its own (``tests.support.services.database()``, postgres flavour), with 120 units, two
boundary sets (a 2019-like one with 101 wards in 9 districts, valid to 2025-06-30, and a 2025-like one with 64 wards
and no districts) and 300 procedures (0–30 business days, 40 % offered by post):

1. load 1,000,000 dossier events (received / resolved / returned, ~2.5 per dossier, two years of receipts,
   out of order within and across batches, 1 % redelivered duplicates) through ``ingest_events`` in batches of
   5,000 — the path the HTTP endpoint and MQTT use, which keeps the daily rollup current in each batch's
   transaction. Beside it, the load ceiling: ``COPY`` of the same number of rows into an unindexed table.
2. time ``kpis.compute`` for a year of KPIs by unit (period year, month and day), and by ward, district and
   province (month), ``--runs`` times each after a warm-up; p50/p95/max. Beside them, ceilings measured in the same
   run: a bare ``SELECT count(*)`` over the same rollup rows (the least any query reading them can cost), and, for
   context, the same KPIs for a year by unit computed straight from the ``dossiers`` table without the rollup.
3. check the rollup against a rebuild from the ``dossiers`` table.

Target: a year of KPIs by unit, p95 ≤ 200 ms. Results: printed and written to ``bench/results/dossiers.json``.

Run: ``.venv/bin/python bench/dossiers.py [--events N] [--runs R] [--batch B]``
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._timing import timed  # noqa: E402
from ops_center.db import Conn, connect  # noqa: E402
from ops_center.dossiers import kpis, rollup  # noqa: E402
from ops_center.dossiers import service as svc  # noqa: E402
from ops_center.dossiers.calendar import BusinessCalendar, load_calendar  # noqa: E402
from ops_center.migrate import migrate  # noqa: E402
from tests.support.services import database  # noqa: E402

RESULTS = REPO / "bench" / "results" / "dossiers.json"
ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=ICT)
FIRST, LAST = date(2024, 1, 1), date(2025, 12, 31)
YEAR = (date(2025, 1, 1), date(2026, 1, 1))
TARGET_P95_MS = 200.0
SEED = 20191231


def setup(conn: Conn, rng: random.Random) -> dict[str, Any]:
    conn.execute("INSERT INTO boundary_sets (name, valid_from, valid_to) VALUES "
                 "('bench-2019', '2019-01-01', '2025-06-30'), ('bench-2025', '2025-07-01', NULL)")
    rows = []
    for d in range(9):
        rows.append(("bench-2019", "district", f"D{d}", f"Huyện {d}", None))
    for w in range(101):
        rows.append(("bench-2019", "ward", f"W{w:03d}", f"Xã {w}", f"D{w % 9}"))
    for w in range(64):
        rows.append(("bench-2025", "ward", f"X{w:02d}", f"Xã mới {w}", None))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO boundary_units (set_name, level, code, name, parent_code, area_km2, rep_lon, "
                        "rep_lat, geom) VALUES (%s, %s, %s, %s, %s, 1, 105, 9, '\\x00')", rows)
        units = [(f"U{u:03d}", f"Đơn vị {u}", "commune" if u < 101 else "department",
                  f"W{u:03d}" if u < 101 else None) for u in range(120)]
        cur.executemany("INSERT INTO units (code, name, level, ward_code) VALUES (%s, %s, %s, %s)", units)
        procs = [(f"1.{p:06d}", f"Thủ tục {p}", rng.choice([0, 1, 2, 3, 5, 5, 7, 10, 15, 20, 30]),
                  rng.choice([2, 3, 4]), rng.random() < 0.4) for p in range(300)]
        cur.executemany("INSERT INTO procedures (code, name, processing_days, online_level, offered_by_post) "
                        "VALUES (%s, %s, %s, %s, %s)", procs)
    return {"units": [u[0] for u in units], "procs": [(p[0], p[2]) for p in procs]}


def business_moment(rng: random.Random, d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 7, 30, tzinfo=ICT) + timedelta(minutes=rng.randrange(570))


def dossier_events(rng: random.Random, cal: BusinessCalendar, catalog: dict[str, Any], n: int, day: date
                   ) -> list[dict[str, Any]]:
    unit = rng.choice(catalog["units"])
    code, days = rng.choice(catalog["procs"])
    uid = int(unit[1:])
    at = business_moment(rng, day)
    ward = (f"W{uid % 101:03d}" if day <= date(2025, 6, 30) else f"X{uid % 64:02d}")
    channel = rng.choices(["online_l3", "online_l4", "counter", "postal"], [25, 15, 45, 15])[0]
    did = f"000.00.{uid:02d}.H12-{day:%y%m%d}-{n:07d}"
    out = [{"dossier_id": did, "type": "received", "at": at.isoformat(), "channel": channel, "procedure": code,
            "unit": unit, "ward": ward}]
    due = cal.due_date(at, days)
    if rng.random() < 0.92:
        if rng.random() < 0.9:
            res_day = cal.add_business_days(at.date(), rng.randrange(0, days + 1)) if days else at.date()
            res_day = min(res_day, due)
        else:
            res_day = due + timedelta(days=rng.randrange(1, 15))
        resolved = max(business_moment(rng, res_day), at + timedelta(minutes=5))
        if resolved < NOW:
            out.append({"dossier_id": did, "type": "resolved", "at": resolved.isoformat()})
            if rng.random() < 0.65:
                returned = resolved + timedelta(hours=rng.randrange(1, 96))
                if returned < NOW:
                    out.append({"dossier_id": did, "type": "returned", "at": returned.isoformat(),
                                "channel": "postal" if rng.random() < 0.4 else "counter"})
    return out


def event_stream(rng: random.Random, cal: BusinessCalendar, catalog: dict[str, Any], total: int,
                 batch: int) -> Iterator[list[dict[str, Any]]]:
    """Batches of ``batch`` events, two years of receipts in order; inside a batch the events are shuffled
    (a resolved event may come before its received one); 10 % of received events are held back to the next batch;
    1 % of events are sent twice."""
    per_day = total / 2.52 / ((LAST - FIRST).days + 1)
    n, sent, day = 0, 0, FIRST
    carry: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    acc = 0.0
    while sent < total:
        acc += per_day
        while acc >= 1:
            acc -= 1
            n += 1
            pending.extend(dossier_events(rng, cal, catalog, n, day))
        day += timedelta(days=1)
        if day > LAST:
            day = FIRST  # wrap (only if asked for more events than two years hold)
        while len(pending) >= batch or (day == FIRST and pending):
            take, pending = pending[:batch], pending[batch:]
            held = [e for e in take if e["type"] == "received" and rng.random() < 0.1]
            held_ids = {id(e) for e in held}
            out = carry + [e for e in take if id(e) not in held_ids]
            out += [dict(e) for e in rng.sample(out, k=len(out) // 100)]
            carry = held
            rng.shuffle(out)
            out = out[: total - sent]
            sent += len(out)
            yield out
            if sent >= total:
                return
    if carry and sent < total:
        yield carry[: total - sent]


RAW_KPI = """
SELECT unit_code, date_trunc('month', (received_at AT TIME ZONE 'Asia/Ho_Chi_Minh'))::date AS p,
       count(*) FILTER (WHERE channel = 'online_partial') AS l3, count(*) FILTER (WHERE channel = 'online_full') AS l4,
       count(*) FILTER (WHERE channel = 'counter') AS counter, count(*) FILTER (WHERE channel = 'postal') AS postal,
       count(*) FILTER (WHERE offered_by_post OR channel = 'postal' OR return_channel = 'postal') AS post_offered
FROM dossiers WHERE received_at >= %(s)s AND received_at < %(e)s GROUP BY 1, 2
UNION ALL
SELECT unit_code, date_trunc('month', (resolved_at AT TIME ZONE 'Asia/Ho_Chi_Minh'))::date,
       count(*), count(*) FILTER (WHERE (resolved_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date <= due_date), 0, 0, 0
FROM dossiers WHERE received_at IS NOT NULL AND resolved_at >= %(s)s AND resolved_at < %(e)s GROUP BY 1, 2
UNION ALL
SELECT unit_code, date_trunc('month', (returned_at AT TIME ZONE 'Asia/Ho_Chi_Minh'))::date,
       count(*), count(*) FILTER (WHERE return_channel = 'postal'), 0, 0, 0
FROM dossiers WHERE received_at IS NOT NULL AND returned_at >= %(s)s AND returned_at < %(e)s GROUP BY 1, 2
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=5000)
    args = ap.parse_args()
    rng = random.Random(SEED)
    cal = load_calendar()
    out: dict[str, Any] = {
        "benchmark": "dossiers",
        "what": "load dossier events through ingest_events (rollup kept in the same transaction), then KPIs for "
                "a year by unit/ward/district/province, beside a bare count over the same rollup rows and the raw "
                "(no rollup) KPI query",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_avg_start": list(os.getloadavg())},
        "params": {"events": args.events, "batch": args.batch, "runs": args.runs, "seed": SEED,
                   "receipts": f"{FIRST}..{LAST}", "now": NOW.isoformat(), "kpi_year": YEAR[0].year},
        "target": {"kpi_year_by_unit_p95_ms": TARGET_P95_MS},
    }
    with database("ops_bench_dossiers") as url, connect(url, autocommit=True) as conn:
        migrate(conn, "postgres")
        catalog = setup(conn, rng)

        # 1. load
        t0 = time.perf_counter()
        totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "batches": 0, "events": 0}
        batch_ms: list[float] = []
        for events in event_stream(rng, cal, catalog, args.events, args.batch):
            b0 = time.perf_counter()
            r = svc.ingest_events(conn, events, "http:/dossiers/events", calendar=cal, now=NOW)
            batch_ms.append((time.perf_counter() - b0) * 1000)
            totals["accepted"] += r.accepted
            totals["duplicates"] += r.duplicates
            totals["rejected"] += len(r.rejected)
            totals["batches"] += 1
            totals["events"] += len(events)
        load_s = time.perf_counter() - t0
        batch_ms.sort()
        conn.execute("VACUUM ANALYZE dossiers")
        conn.execute("VACUUM ANALYZE dossier_daily")
        counts = conn.execute("SELECT (SELECT count(*) FROM dossiers), (SELECT count(*) FROM dossier_daily), "
                              "(SELECT count(*) FROM dossier_daily WHERE day >= %s AND day < %s), "
                              "pg_size_pretty(pg_total_relation_size('dossier_daily'))",
                              YEAR).fetchone()
        assert counts is not None

        # load ceiling: COPY the same number of rows (text) into an unindexed table
        conn.execute("CREATE UNLOGGED TABLE copy_ceiling (dossier_id text, type text, at timestamptz, "
                     "channel text, procedure text, unit text, ward text)")
        buf = io.StringIO()
        base = datetime(2025, 1, 1, tzinfo=UTC)
        for i in range(args.events):
            buf.write(f"000.00.01.H12-{i:09d}\treceived\t{(base + timedelta(seconds=i)).isoformat()}\tcounter\t"
                      f"1.000001\tU001\tW001\n")
        data = buf.getvalue().encode()
        c0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY copy_ceiling FROM STDIN") as cp:
            for k in range(0, len(data), 1 << 20):
                cp.write(data[k:k + (1 << 20)])
        copy_s = time.perf_counter() - c0
        conn.execute("DROP TABLE copy_ceiling")

        out["load"] = {
            **totals, "seconds": round(load_s, 1), "events_per_s": round(totals["events"] / load_s),
            "batch_p50_ms": round(batch_ms[len(batch_ms) // 2], 1),
            "batch_p95_ms": round(batch_ms[int(0.95 * len(batch_ms))], 1),
            "dossiers": counts[0], "rollup_rows": counts[1], "rollup_rows_in_year": counts[2],
            "rollup_size": counts[3],
            "ceiling_copy_rows_per_s": round(args.events / copy_s),
            "note": "ours: validate, lock and update dossier rows, rollup deltas, dead letters, one live event per "
                    "batch, commit per batch; ceiling: COPY FROM STDIN of as many text rows into an unlogged, "
                    "unindexed table",
        }
        print(json.dumps(out["load"], indent=2))

        # 2. KPIs
        s, e = YEAR
        q: dict[str, Any] = {}
        for level, period in (("unit", "year"), ("unit", "month"), ("unit", "day"), ("ward", "month"),
                              ("district", "month"), ("province", "month"), ("province", "day")):
            q[f"{level}_{period}"] = timed(lambda lv=level, pd=period: kpis.compute(conn, lv, pd, s, e, now=NOW),
                                           args.runs)
            q[f"{level}_{period}"]["items"] = len(kpis.compute(conn, level, period, s, e, now=NOW))
            print(level, period, q[f"{level}_{period}"])
        ceil_count = timed(lambda: conn.execute("SELECT count(*) FROM dossier_daily WHERE day >= %s AND day < %s",
                                                (s, e)).fetchone(), args.runs)
        ceil_month = timed(lambda: conn.execute("SELECT count(*) FROM dossier_monthly WHERE month >= %s AND "
                                                "month < %s", (s, e)).fetchone(), args.runs)
        ceil_sum = timed(lambda: conn.execute("SELECT unit_code, sum(resolved), sum(resolved_on_time) FROM "
                                              "dossier_daily WHERE day >= %s AND day < %s GROUP BY 1",
                                              (s, e)).fetchall(), args.runs)
        raw = timed(lambda: conn.execute(RAW_KPI, {"s": datetime(2025, 1, 1, tzinfo=ICT),
                                                   "e": datetime(2026, 1, 1, tzinfo=ICT)}).fetchall(),
                    max(5, args.runs // 4))
        out["kpis"] = q
        out["ceilings"] = {
            "bare_count_rollup_year": ceil_count,
            "bare_count_monthly_rollup_year": ceil_month,
            "one_sum_group_by_unit_rollup_year": ceil_sum,
            "raw_dossiers_kpi_year_by_unit_month_no_rollup": raw,
            "note": "bare_count: SELECT count(*) over the year's daily rollup rows (the least a query reading them "
                    "costs; what period=day reads); bare_count_monthly: the same over the monthly rollup rows (what "
                    "period=month/year reads for months already over); "
                    "one_sum: a single GROUP BY unit over them; raw: received/resolved/returned KPIs by unit and "
                    "month straight from the dossiers table (no open_overdue), what the rollup saves",
        }
        print("ceilings", json.dumps(out["ceilings"], indent=2))

        # 3. rollup == rebuild
        before = conn.execute("SELECT md5(string_agg(t::text, ',' ORDER BY day, unit_code, ward_set, ward_code)) "
                              "FROM (SELECT * FROM dossier_daily WHERE received_online_l3 + received_online_l4 + "
                              "received_counter + received_postal + resolved + returned + overdue_in + overdue_out "
                              "<> 0) t").fetchone()
        r0 = time.perf_counter()
        with conn.transaction():
            rollup.rebuild(conn)
        rebuild_s = time.perf_counter() - r0
        after = conn.execute("SELECT md5(string_agg(t::text, ',' ORDER BY day, unit_code, ward_set, ward_code)) "
                             "FROM dossier_daily t").fetchone()
        monthly = conn.execute(
            "SELECT count(*) FROM (SELECT date_trunc('month', day)::date AS month, unit_code, ward_set, ward_code, "
            + ", ".join(f"sum({c}) AS {c}" for c in rollup.COUNTERS)
            + " FROM dossier_daily GROUP BY 1, 2, 3, 4) a FULL JOIN dossier_monthly b USING (month, unit_code, "
            "ward_set, ward_code) WHERE "
            + " OR ".join(f"a.{c} IS DISTINCT FROM b.{c}" for c in rollup.COUNTERS)).fetchone()
        out["rollup_check"] = {"equal_to_rebuild": before == after, "rebuild_s": round(rebuild_s, 1),
                               "monthly_rows_differing_from_daily": monthly[0] if monthly else None}
        print(out["rollup_check"])
    p95 = out["kpis"]["unit_year"]["p95_ms"]
    worst = max(out["kpis"][k]["p95_ms"] for k in ("unit_year", "unit_month"))
    out["result"] = {
        "kpi_year_by_unit_p95_ms": p95,
        "kpi_year_by_unit_month_p95_ms": out["kpis"]["unit_month"]["p95_ms"],
        "kpi_year_by_unit_day_p95_ms": out["kpis"]["unit_day"]["p95_ms"],
        "ceiling_bare_count_p95_ms": out["ceilings"]["bare_count_rollup_year"]["p95_ms"],
        "ceiling_bare_count_monthly_p95_ms": out["ceilings"]["bare_count_monthly_rollup_year"]["p95_ms"],
        "raw_no_rollup_p95_ms": out["ceilings"]["raw_dossiers_kpi_year_by_unit_month_no_rollup"]["p95_ms"],
        "target_met": worst <= TARGET_P95_MS,
        "note": "target: a year of KPIs by unit (period year, and month) p95 <= 200 ms; period=day over a year by "
                "unit is 43,800 items (120 units x 365 days) and reported for information",
    }
    out["machine"]["load_avg_end"] = list(os.getloadavg())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(out["result"], indent=2))
    return 0 if out["result"]["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
