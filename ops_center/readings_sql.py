"""The statements of the readings store's write path (text only: ``ops_center.readings`` runs them).

postgres: the fast path copies a batch straight into ``readings`` and upserts the rollups and latest values from
hourly aggregates computed in Python (``ops_center.rollups``); the slow path (a reading already stored) stages the
batch and inserts only the new rows, computing the rollups from those. timescale: an unnest insert and the latest
values (the rollups are continuous aggregates). Measurements behind each choice: docs/ingest-performance.md.
"""

from __future__ import annotations

ORIGIN_SQL = "'2000-01-03 00:00:00+07'::timestamptz"
"""Local midnight of Monday 2000-01-03 in Việt Nam: every bucket's origin (``ops_center.readings.ORIGIN``)."""

_SRC = """
    SELECT to_timestamp(u.t) AS time, u.d AS device_id, u.m AS metric, u.v AS value
    FROM unnest(%(t)s::float8[], %(d)s::text[], %(m)s::text[], %(v)s::float8[]) AS u(t, d, m, v)
"""
STAGE_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS readings_stage (t float8, device_id text, metric text, value float8) "
    "ON COMMIT DELETE ROWS"
)
WRITE_SETTINGS = "SET LOCAL work_mem = '64MB'; SET LOCAL jit = off"
"""A batch of 250,000 readings sorts and aggregates in memory (the server default, 4 MB, spilled to disk); JIT
compilation of the big statement cost more than it saved."""
_STAGE_SRC = "SELECT to_timestamp(t) AS time, device_id, metric, value FROM readings_stage"
_ORDER = "ORDER BY device_id, metric, time"
"""Rows go in in primary-key order: neighbouring index entries land on the same pages."""

# -- the rollups, from the rows that were new ---------------------------------------------------------------------
# ``last`` is the value at the latest time: max() of (epoch, value) arrays takes it in the same pass as the other
# aggregates (no per-group sort as array_agg(... ORDER BY) needs). Times are unique per key, so it is exact.
_HOURLY_FROM_INSERTED = f"""
    SELECT date_bin('1 hour', time, {ORIGIN_SQL}) AS bucket, device_id, metric, count(*) AS count,
           min(value) AS min, max(value) AS max, sum(value) AS sum, max(time) AS last_time,
           (max(ARRAY[date_part('epoch', time), value]))[2] AS last
    FROM ins GROUP BY 1, 2, 3
"""
_HOURLY_FROM_BATCH = f"""
    SELECT {ORIGIN_SQL} + u.h * interval '1 hour' AS bucket, u.d AS device_id, u.m AS metric, u.n AS count,
           u.lo AS min, u.hi AS max, u.s AS sum, to_timestamp(u.lt) AS last_time, u.lv AS last
    FROM unnest(%(h)s::int[], %(d)s::text[], %(m)s::text[], %(n)s::bigint[], %(lo)s::float8[], %(hi)s::float8[],
                %(s)s::float8[], %(lt)s::float8[], %(lv)s::float8[]) AS u(h, d, m, n, lo, hi, s, lt, lv)
"""
"""The hourly aggregates computed while the batch was prepared (``ops_center.rollups``)."""
_DAILY_FROM_HOURLY = f"""
    SELECT date_bin('1 day', bucket, {ORIGIN_SQL}) AS bucket, device_id, metric, sum(count)::bigint AS count,
           min(min) AS min, max(max) AS max, sum(sum) AS sum, max(last_time) AS last_time,
           (max(ARRAY[date_part('epoch', last_time), last]))[2] AS last
    FROM hourly GROUP BY 1, 2, 3
"""
# Upserts go in key order: two ingest processes adding to the same rollup rows wait for each other, never deadlock.
_ROLLUP_UPSERT = """
    INSERT INTO {table} AS r (bucket, device_id, metric, count, min, max, sum, last_time, last)
    SELECT * FROM {source} ORDER BY device_id, metric, bucket
    ON CONFLICT (device_id, metric, bucket) DO UPDATE SET
        count = r.count + EXCLUDED.count,
        min = LEAST(r.min, EXCLUDED.min),
        max = GREATEST(r.max, EXCLUDED.max),
        sum = r.sum + EXCLUDED.sum,
        last = CASE WHEN EXCLUDED.last_time >= r.last_time THEN EXCLUDED.last ELSE r.last END,
        last_time = GREATEST(r.last_time, EXCLUDED.last_time)
"""
_LATEST_FROM_HOURLY = """
    INSERT INTO readings_latest AS l (device_id, metric, time, value)
    SELECT DISTINCT ON (device_id, metric) device_id, metric, last_time, last FROM hourly
    ORDER BY device_id, metric, last_time DESC
    ON CONFLICT (device_id, metric) DO UPDATE SET time = EXCLUDED.time, value = EXCLUDED.value
    WHERE EXCLUDED.time >= l.time
"""
_LATEST_FROM_INSERTED = """
    INSERT INTO readings_latest AS l (device_id, metric, time, value)
    SELECT DISTINCT ON (device_id, metric) device_id, metric, time, value FROM ins
    ORDER BY device_id, metric, time DESC
    ON CONFLICT (device_id, metric) DO UPDATE SET time = EXCLUDED.time, value = EXCLUDED.value
    WHERE EXCLUDED.time >= l.time
"""
_INSERT_NEW = ("INSERT INTO readings (time, device_id, metric, value) SELECT * FROM src {order} "
               "ON CONFLICT DO NOTHING RETURNING time, device_id, metric, value")


def _rollup_ctes(hourly: str) -> list[str]:
    """hourly (one pass over the new rows), daily and latest (from the hourly groups), one upsert each."""
    return [
        f"hourly AS MATERIALIZED ({hourly})",
        f"daily AS ({_DAILY_FROM_HOURLY})",
        f"hourly_up AS ({_ROLLUP_UPSERT.format(table='readings_hourly', source='hourly')})",
        f"daily_up AS ({_ROLLUP_UPSERT.format(table='readings_daily', source='daily')})",
        f"latest_up AS ({_LATEST_FROM_HOURLY})",
    ]


PG_COPY_NEW = "COPY readings (time, device_id, metric, value) FROM STDIN (FORMAT BINARY)"
"""The fast path: every reading of the batch is new (the common case: first deliveries). COPY inserts rows in
bulk (multi-row inserts, one WAL record per page), which ``INSERT … SELECT`` does not."""
PG_ROLLUPS_OF_BATCH = "WITH " + ",\n".join(_rollup_ctes(_HOURLY_FROM_BATCH)) + "\nSELECT count(*) FROM hourly"
PG_INSERT_NEW_WITH_ROLLUPS = ("WITH " + ",\n".join([f"src AS ({_STAGE_SRC})",
                                                    f"ins AS ({_INSERT_NEW.format(order=_ORDER)})",
                                                    *_rollup_ctes(_HOURLY_FROM_INSERTED)])
                               + "\nSELECT count(*) FROM ins")
"""The slow path, after the fast one met a reading already stored (a redelivery): only the new ones are inserted
and counted in the rollups."""
TS_INSERT_NEW_WITH_LATEST = ("WITH " + ",\n".join([f"src AS ({_SRC})", f"ins AS ({_INSERT_NEW.format(order=_ORDER)})",
                                                   f"latest_up AS ({_LATEST_FROM_INSERTED})"])
                              + "\nSELECT count(*) FROM ins")
"""timescale: rows as arrays unnested on the server (the PGlite build has no COPY FROM STDIN); the continuous
aggregates are the rollups."""
