"""The write path beside what the database accepts, measured alternately on one database (postgres flavour):

- ``copy``: binary COPY of the batch into the temporary staging table, nothing else (the client's share);
- ``copy_on_conflict`` (the ceiling of #13): staging COPY + ``INSERT … SELECT … ON CONFLICT DO NOTHING`` into
  ``readings``, no rollups;
- ``copy_plain`` (a bound): staging COPY + a plain ``INSERT … SELECT`` (not idempotent: nothing may be stored yet);
- ``ours``: ``ReadingsStore.write_batch`` — the same insert plus the hourly and daily rollups and the latest values;
- ``ours_redelivered``: ``write_batch`` of a batch half of which is already stored (the slow path).

Each variant writes fresh readings (1,000 devices, one metric, 1 ms apart) in batches of ``--batch`` rows, one
transaction per batch, committed. Reported: rows/s (wall) and the server backend's CPU µs per row (from /proc),
which is steadier than wall time on a busy machine. Standalone:

    .venv/bin/python bench/ingest_write.py [--batch 250000] [--batches 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ops_center.db import Conn, connect
from ops_center.readings import ReadingRow, ReadingsStore

VARIANTS = ("copy", "copy_on_conflict", "copy_plain", "ours", "ours_redelivered")
_STAGE = ("CREATE TEMP TABLE IF NOT EXISTS readings_stage (t float8, device_id text, metric text, value float8) "
          "ON COMMIT DELETE ROWS; SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
_SRC = "SELECT to_timestamp(t), device_id, metric, value FROM readings_stage"
_SQL = {
    "copy": None,
    "copy_on_conflict": f"INSERT INTO readings (time, device_id, metric, value) {_SRC} ON CONFLICT DO NOTHING",
    "copy_plain": f"INSERT INTO readings (time, device_id, metric, value) {_SRC}",
}


def cpu_seconds(pid: int) -> float:
    """user + system CPU of a process so far (children not included)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Rows:
    """Fresh, unique readings: row j is device ``{prefix}{j % 1000}`` at ``base + j`` ms."""

    def __init__(self, prefix: str, base: float) -> None:
        self.prefix, self.base, self.next = prefix, base, 0

    def take(self, n: int) -> list[ReadingRow]:
        j0, self.next = self.next, self.next + n
        return [(self.base + j * 0.001, f"{self.prefix}{j % 1000}", "water_level_cm", float(j % 900))
                for j in range(j0, j0 + n)]


def _copy(conn: Conn, rows: list[ReadingRow]) -> None:
    conn.execute(_STAGE)
    with conn.cursor().copy("COPY readings_stage FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["float8", "text", "text", "float8"])
        for r in rows:
            copy.write_row(r)


def write_once(conn: Conn, store: ReadingsStore, variant: str, rows: list[ReadingRow]) -> int:
    """One batch in one transaction; returns the rows it stored."""
    with conn.transaction():
        if variant.startswith("ours"):
            return store.write_batch(conn, rows).inserted
        store.ensure_partitions(conn, [rows[0][0], rows[-1][0]])
        _copy(conn, rows)
        sql = _SQL[variant]
        if sql is not None:
            conn.execute(sql)
            return len(rows)
        return 0


def measure(url: str, batch: int, batches: int, rounds: int, prefix: str = "w") -> dict[str, Any]:
    """Every variant ``batches`` batches per round, variants alternated within each round."""
    out: dict[str, Any] = {"batch_rows": batch, "batches_per_round": batches, "rounds": rounds,
                           "load_before": os.getloadavg()}
    wall: dict[str, float] = dict.fromkeys(VARIANTS, 0.0)
    cpu: dict[str, float] = dict.fromkeys(VARIANTS, 0.0)
    stored: dict[str, int] = dict.fromkeys(VARIANTS, 0)
    with connect(url, autocommit=True, application_name="bench-write") as conn:
        store = ReadingsStore.for_connection(conn)
        pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        source = Rows(prefix, time.time() - 3 * 86400)
        for _ in range(rounds):
            for variant in VARIANTS:
                for _b in range(batches):
                    rows = source.take(batch)
                    if variant == "ours_redelivered":  # half of it stored already (through the fast path)
                        write_once(conn, store, "ours", rows[: batch // 2])
                    c0, t0 = cpu_seconds(pid), time.perf_counter()
                    stored[variant] += write_once(conn, store, variant, rows)
                    wall[variant] += time.perf_counter() - t0
                    cpu[variant] += cpu_seconds(pid) - c0
        n = batch * batches * rounds
        for variant in VARIANTS:
            out[variant] = {"rows_per_s": n / wall[variant], "backend_cpu_us_per_row": cpu[variant] / n * 1e6,
                            "stored": stored[variant]}
        out["stored_check"] = int(conn.execute("SELECT count(*) FROM readings WHERE device_id LIKE %s",
                                               (prefix + "%",)).fetchone()[0])  # type: ignore[index]
    out["load_after"] = os.getloadavg()
    ceiling = out["copy_on_conflict"]["rows_per_s"]
    out["ours_share_of_ceiling"] = out["ours"]["rows_per_s"] / ceiling
    return out


def report(res: dict[str, Any]) -> str:
    lines = [f"  write path, batches of {res['batch_rows']:,} rows ({res['rounds']} rounds, variants alternated):"]
    for variant in VARIANTS:
        r = res[variant]
        lines.append(f"    {variant:18s} {r['rows_per_s']:>10,.0f} rows/s   backend {r['backend_cpu_us_per_row']:5.2f} "
                     f"µs CPU/row")
    lines.append(f"    ours = {res['ours_share_of_ceiling']:.0%} of the staging-COPY + ON CONFLICT ceiling")
    return "\n".join(lines)


def main() -> int:
    from bench._stack import RESULTS, bench_stack

    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=250_000)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with bench_stack() as st:
        res = measure(st.settings.database_url, args.batch, args.batches, args.rounds)
    print(report(res))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest_write.json").write_bytes(orjson.dumps(res, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
