"""Probe what the TimescaleDB PGlite build does over the wire (docs/timescale-pglite.md).

    .venv/bin/python tools/pglite/probe.py            # all cases
    .venv/bin/python tools/pglite/probe.py cagg jobs  # cases whose name contains a word

Each case prints OK/FAIL with its result or error. Not a test: a record of behaviour.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

# Run as a script from anywhere: the repo root goes first on the path so ``tests.support`` (not shipped) resolves.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.pglite import (
    CONNECT_KWARGS,
    PgliteServer,
    connect_timescale,
    start_pglite,
)

CASES: list[tuple[str, Callable[[PgliteServer], Any], bool]] = []


def case(name: str, *, own_server: bool = False):
    def deco(fn):
        CASES.append((name, fn, own_server))
        return fn

    return deco


T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def q(conn: psycopg.Connection, sql: str, params: Any = None) -> list[tuple]:
    cur = conn.execute(sql, params)
    return cur.fetchall() if cur.description else []


def setup_readings(conn: psycopg.Connection, table: str = "readings", *, days: int = 3) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    conn.execute(
        f"CREATE TABLE {table} (time timestamptz NOT NULL, device_id text NOT NULL, "
        "metric text NOT NULL, value double precision)"
    )
    conn.execute(f"SELECT create_hypertable('{table}', 'time', chunk_time_interval => interval '1 day')")
    conn.execute(f"CREATE UNIQUE INDEX ON {table} (time, device_id, metric)")
    conn.execute(
        f"INSERT INTO {table} SELECT %s + make_interval(mins => g), 'dev' || (g %% 3), 'salinity', g "
        "FROM generate_series(0, %s) g",
        (T0, days * 24 * 60 - 1),
    )


# --------------------------------------------------------------------------- basics
@case("flavour detection before/after CREATE EXTENSION")
def _(s):
    with connect_timescale(s.dsn) as c:
        before = q(c, "SELECT 1 FROM pg_available_extensions WHERE name='timescaledb'")
        avail = q(
            c,
            "SELECT name, default_version, installed_version FROM pg_available_extensions "
            "WHERE name='timescaledb'",
        )
        ext_before = q(c, "SELECT extname FROM pg_extension WHERE extname='timescaledb'")
        t = time.perf_counter()
        c.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        took = time.perf_counter() - t
        ext_after = q(c, "SELECT extname, extversion FROM pg_extension WHERE extname='timescaledb'")
        again = q(c, "CREATE EXTENSION IF NOT EXISTS timescaledb")
        lic = q(c, "SHOW timescaledb.license")
        tz = q(c, "SHOW timezone")
        ver = q(c, "SHOW server_version")
        return dict(
            available=before,
            avail=avail,
            pg_extension_before=ext_before,
            pg_extension_after=ext_after,
            create_s=round(took, 3),
            again=again,
            license=lic,
            timezone=tz,
            server_version=ver,
        )


@case("available extensions (postgis? others)")
def _(s):
    with connect_timescale(s.dsn) as c:
        return [r[0] for r in q(c, "SELECT name FROM pg_available_extensions ORDER BY 1")]


@case("create_hypertable old style (relation, column, chunk_time_interval =>)")
def _(s):
    with connect_timescale(s.dsn) as c:
        c.execute("CREATE TABLE IF NOT EXISTS h_old (time timestamptz NOT NULL, v int)")
        r = q(
            c,
            "SELECT create_hypertable('h_old', 'time', chunk_time_interval => interval '1 day', "
            "if_not_exists => true)",
        )
        r2 = q(c, "SELECT create_hypertable('h_old', 'time', if_not_exists => true)")
        return r, r2


@case("create_hypertable new style (by_range)")
def _(s):
    with connect_timescale(s.dsn) as c:
        c.execute("CREATE TABLE IF NOT EXISTS h_new (time timestamptz NOT NULL, v int)")
        r = q(
            c, "SELECT create_hypertable('h_new', by_range('time', interval '1 day'), if_not_exists => true)"
        )
        r2 = q(c, "SELECT * FROM create_hypertable('h_new', by_range('time'), if_not_exists => true)")
        return r, r2


@case("CREATE TABLE ... WITH (tsdb.hypertable, tsdb.partition_column)")
def _(s):
    with connect_timescale(s.dsn) as c:
        c.execute(
            "CREATE TABLE h_with (time timestamptz NOT NULL, v int) "
            "WITH (tsdb.hypertable, tsdb.partition_column='time', tsdb.chunk_interval='1 day')"
        )
        return q(
            c,
            "SELECT hypertable_name, num_dimensions, compression_enabled "
            "FROM timescaledb_information.hypertables WHERE hypertable_name='h_with'",
        )


@case("set_chunk_time_interval / dimensions view")
def _(s):
    with connect_timescale(s.dsn) as c:
        c.execute("SELECT set_chunk_time_interval('h_old', interval '7 days')")
        return q(
            c, "SELECT hypertable_name, column_name, time_interval FROM timescaledb_information.dimensions"
        )


@case("unique index + INSERT ... ON CONFLICT DO NOTHING on hypertable")
def _(s):
    with connect_timescale(s.dsn) as c:
        setup_readings(c, days=1)
        cur = c.execute(
            "INSERT INTO readings VALUES (%s, 'dev0', 'salinity', 1), (%s, 'dev0', 'salinity', 2), "
            "(%s, 'devX', 'salinity', 3) ON CONFLICT DO NOTHING",
            (T0, T0, T0),
        )
        n1 = cur.rowcount
        cur = c.execute(
            "INSERT INTO readings VALUES (%s, 'devX', 'salinity', 9) "
            "ON CONFLICT (time, device_id, metric) DO NOTHING",
            (T0,),
        )
        n2 = cur.rowcount
        cur = c.execute(
            "INSERT INTO readings VALUES (%s, 'devX', 'salinity', 9) "
            "ON CONFLICT (time, device_id, metric) DO UPDATE SET value = excluded.value",
            (T0,),
        )
        n3 = cur.rowcount
        ret = q(
            c,
            "INSERT INTO readings VALUES (%s, 'devY', 'salinity', 1) ON CONFLICT DO NOTHING "
            "RETURNING device_id",
            (T0,),
        )
        return dict(
            rowcount_dupe_plus_new=n1,
            rowcount_dupe=n2,
            do_update=n3,
            returning=ret,
            chunks=q(c, "SELECT count(*) FROM show_chunks('readings')"),
        )


@case("time_bucket variants")
def _(s):
    with connect_timescale(s.dsn) as c:
        return q(
            c,
            """SELECT
            time_bucket('1 hour', %(t)s::timestamptz + interval '90 min'),
            time_bucket('1 day', %(t)s::timestamptz + interval '20 hour', 'Asia/Ho_Chi_Minh'),
            time_bucket('15 minutes', %(t)s::timestamptz + interval '7 min', origin => %(t)s::timestamptz),
            time_bucket('1 week', %(t)s::timestamptz),
            time_bucket('1 month', %(t)s::timestamptz + interval '40 days'),
            time_bucket(interval '1 day', %(t)s::timestamptz, "offset" => interval '-7 hours')""",
            {"t": T0},
        )


@case("date_bin")
def _(s):
    with connect_timescale(s.dsn) as c:
        return q(
            c, "SELECT date_bin('15 minutes', %s::timestamptz + interval '7 min', %s::timestamptz)", (T0, T0)
        )


@case("first()/last() and time_bucket_gapfill/locf")
def _(s):
    with connect_timescale(s.dsn) as c:
        setup_readings(c, days=1)
        a = q(
            c,
            "SELECT device_id, first(value, time), last(value, time), count(*) FROM readings "
            "GROUP BY 1 ORDER BY 1",
        )
        b = q(
            c,
            "SELECT time_bucket_gapfill('1 hour', time) b, locf(last(value, time)) FROM readings "
            "WHERE time >= %s AND time < %s + interval '3 hour' AND device_id='dev0' GROUP BY b ORDER BY b",
            (T0 - dt.timedelta(hours=1), T0),
        )
        return a, b


@case("hyperfunctions: approximate_row_count, hypertable_size, chunks view")
def _(s):
    with connect_timescale(s.dsn) as c:
        return dict(
            size=q(c, "SELECT hypertable_size('readings') > 0, approximate_row_count('readings')"),
            chunks=q(
                c,
                "SELECT chunk_name, range_start, is_compressed FROM timescaledb_information.chunks "
                "WHERE hypertable_name='readings' ORDER BY range_start",
            ),
        )


# --------------------------------------------------------------------------- continuous aggregates
CAGG = """CREATE MATERIALIZED VIEW readings_1h WITH (timescaledb.continuous{opts}) AS
SELECT time_bucket('1 hour', time) AS bucket, device_id, metric,
       avg(value) AS avg, min(value) AS min, max(value) AS max, count(*) AS n,
       first(value, time) AS first, last(value, time) AS last
FROM readings GROUP BY bucket, device_id, metric {data}"""


@case("cagg WITH NO DATA + refresh_continuous_aggregate (autocommit)")
def _(s):
    with connect_timescale(s.dsn) as c:
        setup_readings(c)
        c.execute(CAGG.format(opts="", data="WITH NO DATA"))
        n0 = q(c, "SELECT count(*) FROM readings_1h")
        mo = q(
            c,
            "SELECT materialized_only FROM timescaledb_information.continuous_aggregates "
            "WHERE view_name='readings_1h'",
        )
        t = time.perf_counter()
        c.execute("CALL refresh_continuous_aggregate('readings_1h', NULL, NULL)")
        took = time.perf_counter() - t
        n1 = q(c, "SELECT count(*), sum(n) FROM readings_1h")
        row = q(c, "SELECT * FROM readings_1h WHERE device_id='dev0' ORDER BY bucket LIMIT 1")
        c.execute("CALL refresh_continuous_aggregate('readings_1h', %s, %s)", (T0, T0 + dt.timedelta(days=1)))
        return dict(rows_before=n0, materialized_only=mo, after=n1, first_row=row, refresh_s=round(took, 3))


@case("refresh_continuous_aggregate inside a transaction block")
def _(s):
    with connect_timescale(s.dsn) as c:
        try:
            with c.transaction():
                c.execute("CALL refresh_continuous_aggregate('readings_1h', NULL, NULL)")
        except psycopg.Error as e:
            return f"{type(e).__name__}: {e}".strip()
        return "no error"


@case("refresh_continuous_aggregate in a multi-statement string")
def _(s):
    with connect_timescale(s.dsn) as c:
        try:
            c.execute("SELECT 1; CALL refresh_continuous_aggregate('readings_1h', NULL, NULL)")
        except psycopg.Error as e:
            return f"{type(e).__name__}: {e}".strip()
        return "no error"


@case("cagg real-time (materialized_only=false) sees unrefreshed rows")
def _(s):
    with connect_timescale(s.dsn) as c:
        c.execute("ALTER MATERIALIZED VIEW readings_1h SET (timescaledb.materialized_only = false)")
        c.execute("INSERT INTO readings VALUES (%s, 'devRT', 'salinity', 42)", (T0 + dt.timedelta(days=5),))
        rt = q(c, "SELECT bucket, n, avg FROM readings_1h WHERE device_id='devRT'")
        c.execute("ALTER MATERIALIZED VIEW readings_1h SET (timescaledb.materialized_only = true)")
        mat = q(c, "SELECT bucket, n FROM readings_1h WHERE device_id='devRT'")
        return dict(realtime=rt, materialized_only=mat)


@case("cagg WITH DATA (default) in autocommit")
def _(s):
    with connect_timescale(s.dsn) as c:
        c.execute(
            "CREATE MATERIALIZED VIEW readings_1d WITH (timescaledb.continuous) AS "
            "SELECT time_bucket('1 day', time) AS bucket, device_id, count(*) n, avg(value) "
            "FROM readings GROUP BY 1, 2"
        )
        return q(c, "SELECT count(*), sum(n) FROM readings_1d")


@case("cagg WITH DATA inside a transaction")
def _(s):
    with connect_timescale(s.dsn) as c:
        try:
            with c.transaction():
                c.execute(
                    "CREATE MATERIALIZED VIEW readings_1d_tx WITH (timescaledb.continuous) AS "
                    "SELECT time_bucket('1 day', time) AS bucket, count(*) n FROM readings GROUP BY 1"
                )
        except psycopg.Error as e:
            return f"{type(e).__name__}: {e}".strip()
        return "no error"


@case("cagg WITH NO DATA inside a transaction")
def _(s):
    with connect_timescale(s.dsn) as c:
        with c.transaction():
            c.execute(
                "CREATE MATERIALIZED VIEW readings_1d_tx2 WITH (timescaledb.continuous) AS "
                "SELECT time_bucket('1 day', time) AS bucket, count(*) n FROM readings GROUP BY 1 "
                "WITH NO DATA"
            )
        return q(c, "SELECT view_name FROM timescaledb_information.continuous_aggregates ORDER BY 1")


@case("hierarchical cagg (cagg on cagg) and timezone bucket cagg")
def _(s):
    with connect_timescale(s.dsn) as c:
        c.execute(
            "CREATE MATERIALIZED VIEW readings_1h_day WITH (timescaledb.continuous) AS "
            "SELECT time_bucket('1 day', bucket) AS day, device_id, sum(n) n, max(max) mx "
            "FROM readings_1h GROUP BY 1, 2 WITH NO DATA"
        )
        c.execute("CALL refresh_continuous_aggregate('readings_1h_day', NULL, NULL)")
        h = q(c, "SELECT count(*), sum(n) FROM readings_1h_day")
        c.execute(
            "CREATE MATERIALIZED VIEW readings_1d_vn WITH (timescaledb.continuous) AS "
            "SELECT time_bucket('1 day', time, 'Asia/Ho_Chi_Minh') AS day, count(*) n "
            "FROM readings GROUP BY 1 WITH NO DATA"
        )
        c.execute("CALL refresh_continuous_aggregate('readings_1d_vn', NULL, NULL)")
        tz = q(c, "SELECT day, n FROM readings_1d_vn ORDER BY 1")
        return dict(hierarchical=h, tz_days=tz)


@case("cagg with date_bin (not time_bucket)")
def _(s):
    with connect_timescale(s.dsn) as c:
        try:
            c.execute(
                "CREATE MATERIALIZED VIEW readings_db WITH (timescaledb.continuous) AS "
                "SELECT date_bin('1 hour', time, '2000-01-01') AS b, count(*) n FROM readings "
                "GROUP BY 1 WITH NO DATA"
            )
        except psycopg.Error as e:
            return f"{type(e).__name__}: {e}".strip()
        return "created"


# --------------------------------------------------------------------------- policies and jobs
@case("add_continuous_aggregate_policy + jobs view + CALL run_job")
def _(s):
    with connect_timescale(s.dsn) as c:
        job = q(
            c,
            "SELECT add_continuous_aggregate_policy('readings_1h', start_offset => NULL, "
            "end_offset => interval '1 hour', schedule_interval => interval '1 second')",
        )[0][0]
        c.execute("INSERT INTO readings VALUES (%s, 'devJob', 'salinity', 7)", (T0 + dt.timedelta(hours=3),))
        time.sleep(3)
        before = q(c, "SELECT count(*) FROM readings_1h WHERE device_id='devJob'")
        stats0 = q(
            c,
            "SELECT job_id, last_run_status, total_runs FROM timescaledb_information.job_stats "
            "WHERE job_id=%s",
            (job,),
        )
        t = time.perf_counter()
        c.execute("CALL run_job(%s)", (job,))
        took = time.perf_counter() - t
        after = q(c, "SELECT count(*) FROM readings_1h WHERE device_id='devJob'")
        stats1 = q(
            c,
            "SELECT job_id, last_run_status, total_runs FROM timescaledb_information.job_stats "
            "WHERE job_id=%s",
            (job,),
        )
        jobs = q(
            c,
            "SELECT job_id, application_name, proc_name, hypertable_name, schedule_interval, "
            "scheduled, config::text FROM timescaledb_information.jobs ORDER BY job_id",
        )
        bgw = q(
            c,
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('timescaledb.max_background_workers', 'max_worker_processes', 'timescaledb.bgw_log_level')",
        )
        return dict(
            job=job,
            before_run_job=before,
            stats_before=stats0,
            after_run_job=after,
            stats_after=stats1,
            run_job_s=round(took, 3),
            jobs=jobs,
            max_bgw=bgw,
        )


@case("add_continuous_aggregate_policy if_not_exists / remove")
def _(s):
    with connect_timescale(s.dsn) as c:
        r = q(
            c,
            "SELECT add_continuous_aggregate_policy('readings_1h', start_offset => NULL, "
            "end_offset => interval '1 hour', schedule_interval => interval '1 second', if_not_exists => true)",
        )
        r2 = q(c, "SELECT remove_continuous_aggregate_policy('readings_1h', if_exists => true)")
        return r, r2


@case("run_job inside a transaction block")
def _(s):
    with connect_timescale(s.dsn) as c:
        job = q(
            c,
            "SELECT add_continuous_aggregate_policy('readings_1h', start_offset => NULL, "
            "end_offset => interval '1 hour', schedule_interval => interval '1 hour')",
        )[0][0]
        try:
            with c.transaction():
                c.execute("CALL run_job(%s)", (job,))
        except psycopg.Error as e:
            return f"{type(e).__name__}: {e}".strip()
        return "no error"


@case("compression: ALTER TABLE SET (timescaledb.compress ...), compress_chunk, policy, run_job")
def _(s):
    with connect_timescale(s.dsn) as c:
        setup_readings(c, "rc", days=4)
        c.execute(
            "ALTER TABLE rc SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id, metric', "
            "timescaledb.compress_orderby = 'time DESC')"
        )
        job = q(c, "SELECT add_compression_policy('rc', compress_after => interval '2 days')")[0][0]
        # the policy compares with now(): our data is from 2025-01-01, so all chunks are old enough
        c.execute("CALL run_job(%s)", (job,))
        chunks = q(
            c,
            "SELECT chunk_name, is_compressed FROM timescaledb_information.chunks "
            "WHERE hypertable_name='rc' ORDER BY range_start",
        )
        stats = q(c, "SELECT * FROM hypertable_compression_stats('rc')")
        count = q(c, "SELECT count(*), sum(value) FROM rc")
        ins = c.execute(
            "INSERT INTO rc VALUES (%s, 'dev0', 'salinity', -1) ON CONFLICT DO NOTHING", (T0,)
        ).rowcount
        ins2 = c.execute(
            "INSERT INTO rc VALUES (%s, 'devN', 'salinity', -1) ON CONFLICT DO NOTHING", (T0,)
        ).rowcount
        upd = c.execute("UPDATE rc SET value = 0 WHERE time = %s AND device_id='dev0'", (T0,)).rowcount
        dec = q(c, "SELECT count(decompress_chunk(ch)) FROM show_chunks('rc') ch")
        comp = q(c, "SELECT count(compress_chunk(ch, if_not_compressed => true)) FROM show_chunks('rc') ch")
        return dict(
            job=job,
            chunks=chunks,
            stats=stats,
            count=count,
            insert_dupe_into_compressed=ins,
            insert_new_into_compressed=ins2,
            update_compressed=upd,
            decompressed=dec,
            recompressed=comp,
        )


@case("columnstore spelling: enable_columnstore / add_columnstore_policy")
def _(s):
    with connect_timescale(s.dsn) as c:
        setup_readings(c, "rcs", days=2)
        c.execute(
            "ALTER TABLE rcs SET (timescaledb.enable_columnstore = true, "
            "timescaledb.segmentby = 'device_id', timescaledb.orderby = 'time DESC')"
        )
        job = q(c, "CALL add_columnstore_policy('rcs', after => interval '1 day')")
        jobs = q(c, "SELECT job_id, proc_name FROM timescaledb_information.jobs WHERE hypertable_name='rcs'")
        return job, jobs


@case("compression on a cagg")
def _(s):
    with connect_timescale(s.dsn) as c:
        c.execute("ALTER MATERIALIZED VIEW readings_1h SET (timescaledb.compress = true)")
        job = q(c, "SELECT add_compression_policy('readings_1h', compress_after => interval '30 days')")[0][0]
        c.execute("CALL run_job(%s)", (job,))
        return q(
            c,
            "SELECT count(*) FILTER (WHERE is_compressed), count(*) FROM timescaledb_information.chunks "
            "WHERE hypertable_name = (SELECT materialization_hypertable_name FROM "
            "timescaledb_information.continuous_aggregates WHERE view_name='readings_1h')",
        )


@case("retention: add_retention_policy + run_job, drop_chunks")
def _(s):
    with connect_timescale(s.dsn) as c:
        setup_readings(c, "rr", days=3)
        c.execute(
            "INSERT INTO rr SELECT now() - make_interval(hours => g), 'd', 'm', g FROM generate_series(0, 47) g"
        )
        before = q(c, "SELECT count(*) FROM show_chunks('rr')")
        job = q(c, "SELECT add_retention_policy('rr', drop_after => interval '30 days')")[0][0]
        c.execute("CALL run_job(%s)", (job,))
        after = q(c, "SELECT count(*), (SELECT count(*) FROM rr) FROM show_chunks('rr')")
        dropped = q(c, "SELECT count(*) FROM drop_chunks('rr', older_than => now() - interval '1 day')")
        jobs = q(
            c,
            "SELECT job_id, proc_name, config::text FROM timescaledb_information.jobs WHERE hypertable_name='rr'",
        )
        rm = q(c, "SELECT remove_retention_policy('rr', if_exists => true)")
        return dict(chunks_before=before, after_job=after, drop_chunks=dropped, jobs=jobs, removed=rm)


@case("retention on a cagg")
def _(s):
    with connect_timescale(s.dsn) as c:
        job = q(c, "SELECT add_retention_policy('readings_1d', drop_after => interval '3650 days')")[0][0]
        c.execute("CALL run_job(%s)", (job,))
        return job


@case("alter_job / delete_job / job_errors")
def _(s):
    with connect_timescale(s.dsn) as c:
        job = q(c, "SELECT job_id FROM timescaledb_information.jobs WHERE hypertable_name='rr' LIMIT 1")
        a = q(
            c,
            "SELECT alter_job(job_id, schedule_interval => interval '5 minutes', scheduled => false) "
            "FROM timescaledb_information.jobs WHERE proc_name='policy_refresh_continuous_aggregate' LIMIT 1",
        )
        e = q(c, "SELECT count(*) FROM timescaledb_information.job_errors")
        return dict(job=job, alter=a, job_errors=e)


# --------------------------------------------------------------------------- protocol / session
MIGRATION = r"""
-- a migration file as one string
CREATE TABLE IF NOT EXISTS m_devices (id text PRIMARY KEY, name text NOT NULL);
CREATE TABLE IF NOT EXISTS m_readings (
    time timestamptz NOT NULL,
    device_id text NOT NULL REFERENCES m_devices(id),
    metric text NOT NULL,
    value double precision,
    UNIQUE (time, device_id, metric)
);
SELECT create_hypertable('m_readings', by_range('time', interval '1 day'), if_not_exists => true);
CREATE INDEX IF NOT EXISTS m_readings_dev ON m_readings (device_id, time DESC);
CREATE OR REPLACE FUNCTION m_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('m_changes', NEW.id);
  RETURN NEW;
END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'm_touch_t') THEN
    CREATE TRIGGER m_touch_t AFTER INSERT ON m_devices FOR EACH ROW EXECUTE FUNCTION m_touch();
  END IF;
END $$;
CREATE MATERIALIZED VIEW IF NOT EXISTS m_readings_1h WITH (timescaledb.continuous) AS
  SELECT time_bucket('1 hour', time) AS bucket, device_id, avg(value) AS avg
  FROM m_readings GROUP BY 1, 2 WITH NO DATA;
SELECT add_continuous_aggregate_policy('m_readings_1h', start_offset => interval '7 days',
  end_offset => interval '1 hour', schedule_interval => interval '30 minutes', if_not_exists => true);
ALTER TABLE m_readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id');
SELECT add_compression_policy('m_readings', interval '7 days', if_not_exists => true);
SELECT add_retention_policy('m_readings', interval '400 days', if_not_exists => true);
"""


@case("multi-statement execute of a migration file (autocommit: one implicit transaction)")
def _(s):
    with connect_timescale(s.dsn) as c:
        c.execute(MIGRATION)
        again = c.execute(MIGRATION)  # idempotent
        return dict(
            jobs=q(
                c,
                "SELECT proc_name FROM timescaledb_information.jobs "
                "WHERE hypertable_name IN ('m_readings') OR proc_name LIKE 'policy_refresh%%' "
                "ORDER BY 1",
            ),
            second_run_ok=again is not None,
        )


@case("multi-statement migration inside conn.transaction()")
def _(s):
    with connect_timescale(s.dsn) as c:
        with c.transaction():
            c.execute(MIGRATION.replace("m_", "mt_"))
        return q(c, "SELECT count(*) FROM timescaledb_information.jobs WHERE hypertable_name='mt_readings'")


@case("multi-statement string with an error rolls back the earlier statements")
def _(s):
    with connect_timescale(s.dsn) as c:
        try:
            c.execute("CREATE TABLE ms_a (x int); SELECT 1/0; CREATE TABLE ms_b (x int)")
        except psycopg.Error as e:
            err = type(e).__name__
        return dict(error=err, ms_a_exists=q(c, "SELECT to_regclass('ms_a') IS NOT NULL"))


@case("pg_notify / LISTEN on the same connection")
def _(s):
    with connect_timescale(s.dsn) as c:
        c.execute("LISTEN m_changes")
        c.execute("LISTEN alerts")
        c.execute("SELECT pg_notify('alerts', 'hello')")
        c.execute("NOTIFY alerts, 'world'")
        c.execute("INSERT INTO m_devices VALUES ('dev-n', 'n') ON CONFLICT DO NOTHING")
        got = []
        gen = c.notifies(timeout=2)
        for n in gen:
            got.append((n.channel, n.payload))
        with c.transaction():
            c.execute("SELECT pg_notify('alerts', 'in-tx')")
        for n in c.notifies(timeout=1):
            got.append((n.channel, n.payload))
        return got


@case("DISCARD ALL clears temp tables, SETs, LISTEN, prepared statements")
def _(s):
    with connect_timescale(s.dsn) as c:
        c.execute("CREATE TEMP TABLE tt (x int)")
        c.execute("SET TIME ZONE 'Asia/Ho_Chi_Minh'")
        c.execute("SET search_path TO pg_catalog")
        c.execute("PREPARE pp AS SELECT 1")
        c.execute("LISTEN leftover")
    with connect_timescale(s.dsn) as c:
        return dict(
            temp=q(c, "SELECT to_regclass('pg_temp.tt')"),
            tz=q(c, "SHOW timezone"),
            search_path=q(c, "SHOW search_path"),
            prepared=q(c, "SELECT count(*) FROM pg_prepared_statements"),
            listening=q(c, "SELECT count(*) FROM pg_listening_channels()"),
        )


@case("state seen by the next client WITHOUT the client-side reset")
def _(s):
    with connect_timescale(s.dsn) as c:
        c.execute("SET TIME ZONE 'Asia/Ho_Chi_Minh'")
        c.execute("CREATE TEMP TABLE leak (x int)")
    with psycopg.connect(s.dsn, **CONNECT_KWARGS) as c:
        return dict(tz=q(c, "SHOW timezone"), temp=q(c, "SELECT to_regclass('pg_temp.leak')::text"))


@case("prepared statements: default prepare_threshold=5 / prepare=True")
def _(s):
    kw = {k: v for k, v in CONNECT_KWARGS.items() if k != "prepare_threshold"}
    out = {}
    with psycopg.connect(s.dsn, **kw) as c:
        try:
            for i in range(8):
                c.execute("SELECT %s::int + 1", (i,)).fetchone()
            out["repeat_8x"] = "ok"
        except psycopg.Error as e:
            out["repeat_8x"] = f"{type(e).__name__}: {e}"
    with psycopg.connect(s.dsn, **kw) as c:
        try:
            for i in range(3):
                c.execute("SELECT %s::int + 2", (i,), prepare=True).fetchone()
            out["prepare_true_new_conn"] = "ok"
        except psycopg.Error as e:
            out["prepare_true_new_conn"] = f"{type(e).__name__}: {e}"
    with psycopg.connect(s.dsn, **kw) as c:
        try:
            # a new client session whose psycopg cache is empty but the server still has _pg3_0
            c.execute("SELECT %s::int + 1", (1,), prepare=True).fetchone()
            out["third_conn_same_name"] = "ok"
        except psycopg.Error as e:
            out["third_conn_same_name"] = f"{type(e).__name__}: {e}".strip()
    return out


@case("extended protocol: params, binary params/results, executemany, server-side cursor")
def _(s):
    with connect_timescale(s.dsn) as c:
        out = {}
        out["params"] = q(c, "SELECT %s::text, %s::int, %s::timestamptz, %s::jsonb", ("a", 1, T0, '{"k": 1}'))
        with c.cursor(binary=True) as cur:
            cur.execute("SELECT %b::int8, %b::float8, %b::timestamptz", (1, 2.5, T0))
            out["binary"] = cur.fetchall()
        with c.cursor() as cur:
            cur.executemany(
                "INSERT INTO m_devices VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(f"em{i}", "x") for i in range(100)],
            )
            out["executemany_rowcount"] = cur.rowcount
        try:
            with c.transaction():
                with c.cursor(name="ssc") as cur:
                    cur.execute("SELECT g FROM generate_series(1, 5000) g")
                    out["server_side_cursor"] = len(cur.fetchmany(1000)), len(cur.fetchall())
        except psycopg.Error as e:
            out["server_side_cursor"] = f"{type(e).__name__}: {e}"
        with c.cursor() as cur:
            cur.execute("SELECT g, md5(g::text) FROM generate_series(1, 50000) g")
            out["fetch_50k"] = len(cur.fetchall())
        try:
            with c.pipeline():
                c.execute("SELECT 1")
                c.execute("SELECT 2")
            out["pipeline"] = "ok"
        except psycopg.Error as e:
            out["pipeline"] = f"{type(e).__name__}: {e}"
        return out


@case("transactions: commit, rollback, savepoints, error then recovery")
def _(s):
    with connect_timescale(s.dsn, autocommit=False) as c:
        c.execute("CREATE TABLE IF NOT EXISTS tx_t (x int)")
        c.commit()
        c.execute("INSERT INTO tx_t VALUES (1)")
        c.rollback()
        with c.transaction():
            c.execute("INSERT INTO tx_t VALUES (2)")
            try:
                with c.transaction():
                    c.execute("INSERT INTO tx_t VALUES (3)")
                    c.execute("SELECT 1/0")
            except psycopg.errors.DivisionByZero:
                pass
        try:
            c.execute("SELECT * FROM no_such_table")
        except psycopg.errors.UndefinedTable:
            c.rollback()
        return q(c, "SELECT array_agg(x ORDER BY x) FROM tx_t")


@case("statement_timeout, lock_timeout, pg_sleep, cancel")
def _(s):
    with connect_timescale(s.dsn) as c:
        out = {}
        c.execute("SET statement_timeout = '500ms'")
        t = time.perf_counter()
        try:
            c.execute("SELECT pg_sleep(2)")
            out["statement_timeout"] = f"no error after {time.perf_counter() - t:.2f}s"
        except psycopg.Error as e:
            out["statement_timeout"] = f"{type(e).__name__} after {time.perf_counter() - t:.2f}s"
        c.execute("RESET statement_timeout")
        timer = threading.Timer(0.5, c.cancel_safe, kwargs={"timeout": 3})
        timer.start()
        t = time.perf_counter()
        try:
            c.execute("SELECT pg_sleep(2)")
            out["cancel_safe() from another thread"] = f"no effect: query ran {time.perf_counter() - t:.2f}s"
        except psycopg.Error as e:
            out["cancel_safe() from another thread"] = (
                f"{type(e).__name__} after {time.perf_counter() - t:.2f}s"
            )
        timer.join()
        out["after"] = c.execute("SELECT 'ok'").fetchone()[0]
        return out


@case("COPY TO STDOUT")
def _(s):
    with connect_timescale(s.dsn) as c:
        with c.cursor() as cur:
            try:
                with cur.copy("COPY (SELECT g FROM generate_series(1, 3) g) TO STDOUT") as cp:
                    return [bytes(b) for b in cp]
            except psycopg.Error as e:
                return f"{type(e).__name__}: {e}".strip()


@case("async psycopg (AsyncConnection)")
def _(s):
    import asyncio

    async def run():
        conn = await psycopg.AsyncConnection.connect(s.dsn, **CONNECT_KWARGS)
        async with conn:
            for stmt in ("ROLLBACK", "DISCARD ALL", 'SET search_path TO "$user", public'):
                await conn.execute(stmt)
            cur = await conn.execute("SELECT count(*) FROM readings")
            return await cur.fetchone()

    return asyncio.run(run())


@case("psycopg_pool ConnectionPool(max_size=1) with reset")
def _(s):
    from psycopg_pool import ConnectionPool

    def configure(conn):
        conn.execute("DISCARD ALL")
        conn.execute('SET search_path TO "$user", public')

    kw = {k: v for k, v in CONNECT_KWARGS.items()}
    with ConnectionPool(
        s.dsn, min_size=1, max_size=1, kwargs=kw, configure=configure, open=True, timeout=10
    ) as pool:
        out = []
        for _ in range(3):
            with pool.connection() as c:
                out.append(c.execute("SELECT count(*) FROM readings").fetchone()[0])
        return out


# --------------------------------------------------------------------------- speed
def rows(n: int, start: dt.datetime):
    return [(start + dt.timedelta(seconds=i), f"dev{i % 50}", "salinity", float(i)) for i in range(n)]


@case("10,000-row INSERT speed (several ways)")
def _(s):
    out = {}
    with connect_timescale(s.dsn) as c:
        setup_readings(c, "sp", days=0)
        data = rows(10_000, T0)

        t = time.perf_counter()
        ph = ",".join(["(%s,%s,%s,%s)"] * len(data))
        c.execute(f"INSERT INTO sp VALUES {ph} ON CONFLICT DO NOTHING", [v for r in data for v in r])
        out["one INSERT, 40,000 params"] = time.perf_counter() - t

        t = time.perf_counter()
        cur = c.execute(f"INSERT INTO sp VALUES {ph} ON CONFLICT DO NOTHING", [v for r in data for v in r])
        out[f"same again, all conflicts (rowcount {cur.rowcount})"] = time.perf_counter() - t

        data2 = rows(10_000, T0 + dt.timedelta(days=1))
        lit = ",".join(f"('{r[0].isoformat()}','{r[1]}','{r[2]}',{r[3]})" for r in data2)
        t = time.perf_counter()
        c.execute(f"INSERT INTO sp VALUES {lit} ON CONFLICT DO NOTHING")
        out[f"one INSERT, literal SQL ({len(lit) // 1024} KiB)"] = time.perf_counter() - t

        data3 = rows(10_000, T0 + dt.timedelta(days=2))
        cols = list(zip(*data3, strict=True))
        t = time.perf_counter()
        c.execute(
            "INSERT INTO sp SELECT * FROM unnest(%s::timestamptz[], %s::text[], %s::text[], %s::float8[]) "
            "ON CONFLICT DO NOTHING",
            [list(x) for x in cols],
        )
        out["INSERT ... SELECT unnest(4 arrays)"] = time.perf_counter() - t

        data4 = rows(10_000, T0 + dt.timedelta(days=3))
        t = time.perf_counter()
        with c.transaction(), c.cursor() as cur:
            cur.executemany("INSERT INTO sp VALUES (%s,%s,%s,%s) ON CONFLICT DO NOTHING", data4)
        out["executemany (pipeline) in one transaction"] = time.perf_counter() - t

        t = time.perf_counter()
        c.execute(
            "INSERT INTO sp SELECT %s::timestamptz + make_interval(secs => g), 'dev' || (g %% 50), 'm', g "
            "FROM generate_series(1, 100000) g",
            (T0 + dt.timedelta(days=5),),
        )
        out["server-side generate_series 100,000 rows"] = time.perf_counter() - t
        out["total rows"] = q(c, "SELECT count(*) FROM sp")[0][0]
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in out.items()}


# --------------------------------------------------------------------------- connections
@case("second connection while one is open", own_server=True)
def _(s):
    out = {}
    first = connect_timescale(s.dsn)
    t = time.perf_counter()
    try:
        connect_timescale(s.dsn, connect_timeout=3).close()
        out["second connect (first open)"] = "connected?!"
    except psycopg.OperationalError as e:
        out["second connect (first open)"] = f"{type(e).__name__} after {time.perf_counter() - t:.1f}s: {e}"
    # queued: a second client waits until the first closes
    result: dict[str, Any] = {}

    def second():
        t2 = time.perf_counter()
        try:
            with connect_timescale(s.dsn, connect_timeout=20) as c2:
                result["value"] = c2.execute("SELECT 42").fetchone()[0]
                result["waited_s"] = round(time.perf_counter() - t2, 2)
        except Exception as e:
            result["error"] = repr(e)

    th = threading.Thread(target=second)
    th.start()
    time.sleep(2)
    first.execute("SELECT 1")
    first.close()
    th.join(30)
    out["queued second client after first closes"] = result
    # is the server still fine after the timed-out attempt?
    with connect_timescale(s.dsn) as c:
        out["after"] = c.execute("SELECT 'ok'").fetchone()[0]
    return out


@case("client disconnects mid-transaction (socket closed / process killed)", own_server=True)
def _(s):
    out = {}
    with connect_timescale(s.dsn) as c:
        c.execute("CREATE TABLE IF NOT EXISTS dm (x int)")
    # 1. psycopg close() without commit (sends Terminate)
    c = connect_timescale(s.dsn, autocommit=False)
    c.execute("INSERT INTO dm VALUES (1)")
    c.close()
    with psycopg.connect(s.dsn, **CONNECT_KWARGS) as raw:
        out["after close(): status seen by next raw client"] = str(raw.info.transaction_status)
        try:
            out["after close(): rows visible without reset"] = q(raw, "SELECT count(*) FROM dm")
        except psycopg.Error as e:
            out["after close(): rows visible without reset"] = f"{type(e).__name__}: {e}"
    # 2. the client process is killed in a transaction
    code = (
        "import psycopg,time,sys; c=psycopg.connect(sys.argv[1], prepare_threshold=None);"
        "c.execute('INSERT INTO dm VALUES (2)'); print('in-tx', flush=True); time.sleep(60)"
    )
    p = subprocess.Popen([sys.executable, "-c", code, s.dsn], stdout=subprocess.PIPE)
    assert p.stdout is not None
    out["child"] = p.stdout.readline().decode().strip()
    p.kill()
    p.wait()
    time.sleep(0.5)
    with psycopg.connect(s.dsn, **CONNECT_KWARGS) as raw:
        try:
            out["after kill: raw client, no reset, SELECT"] = q(raw, "SELECT count(*) FROM dm")
        except psycopg.Error as e:
            out["after kill: raw client, no reset, SELECT"] = f"{type(e).__name__}: {e}".strip()
    with connect_timescale(s.dsn) as c:
        out["after kill + reset: rows in dm"] = q(c, "SELECT array_agg(x) FROM dm")
    # 3. a raw TCP client that sends half a message and vanishes
    host, port = s.host, s.port
    sk = socket.create_connection((host, port))
    sk.sendall(b"\x00\x00\x00\x50\x00\x03")  # truncated StartupMessage
    sk.close()
    time.sleep(0.5)
    with connect_timescale(s.dsn, connect_timeout=10) as c:
        out["after a truncated startup packet"] = c.execute("SELECT 'ok'").fetchone()[0]
    # 4. a client that errors inside a transaction and disconnects
    c = connect_timescale(s.dsn, autocommit=False)
    with contextlib.suppress(psycopg.Error):
        c.execute("SELECT 1/0")
    c.pgconn.finish()  # drop the socket without ROLLBACK
    with connect_timescale(s.dsn) as c:
        out["after aborted tx + finish(), with reset"] = c.execute("SELECT 'ok'").fetchone()[0]
    out["server alive"] = s.running
    return out


@case("COPY FROM STDIN", own_server=True)
def _(s):
    out = {}
    with connect_timescale(s.dsn) as c:
        c.execute("CREATE TABLE cp (x int, y text)")
        done: dict[str, Any] = {}

        def run():
            try:
                with c.cursor() as cur, cur.copy("COPY cp FROM STDIN") as cp:
                    cp.write_row((1, "a"))
                    cp.write_row((2, "b"))
                done["result"] = "ok"
            except Exception as e:
                done["result"] = f"{type(e).__name__}: {e}".strip()

        th = threading.Thread(target=run, daemon=True)
        th.start()
        th.join(15)
        out["copy"] = done.get("result", "HUNG for 15s")
        if "result" in done:
            try:
                out["rows"] = q(c, "SELECT count(*) FROM cp")
            except Exception as e:
                out["rows"] = f"{type(e).__name__}: {e}"
    try:
        with connect_timescale(s.dsn, connect_timeout=10) as c:
            out["next client"] = q(c, "SELECT count(*) FROM cp")
    except Exception as e:
        out["next client"] = f"{type(e).__name__}: {e}".strip()
    return out


@case("persistence with a data directory", own_server=True)
def _(s):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        with start_pglite(data_dir=d) as srv, connect_timescale(srv.dsn) as c:
            first_start = time.perf_counter() - t
            c.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            c.execute("CREATE TABLE p (time timestamptz NOT NULL, v int)")
            c.execute("SELECT create_hypertable('p', by_range('time'))")
            c.execute("INSERT INTO p VALUES (now(), 1)")
        t = time.perf_counter()
        with start_pglite(data_dir=d) as srv, connect_timescale(srv.dsn) as c:
            second_start = time.perf_counter() - t
            return dict(
                rows=q(c, "SELECT count(*) FROM p"),
                first_start_s=round(first_start, 2),
                second_start_s=round(second_start, 2),
            )


def main(argv: list[str]) -> int:
    words = argv[1:]
    t = time.perf_counter()
    shared = start_pglite()
    print(f"# server {shared.dsn} version {shared.server_version} started in {time.perf_counter() - t:.2f}s")
    failures = 0
    try:
        for name, fn, own in CASES:
            if words and not any(w.lower() in name.lower() for w in words):
                continue
            srv = start_pglite() if own else shared
            t = time.perf_counter()
            try:
                res = fn(srv)
                status = "OK  "
            except Exception as e:
                res = f"{type(e).__name__}: {e}".strip() + "\n" + traceback.format_exc(limit=2)
                status = "FAIL"
                failures += 1
            took = time.perf_counter() - t
            print(f"\n## {status} {name}  ({took:.2f}s)\n{res}", flush=True)
            if own:
                srv.stop()
            if not shared.running:
                print("!! shared server died; stderr:\n" + shared.stderr)
                shared = start_pglite()
    finally:
        shared.stop()
        if shared.stderr.strip():
            print("\n# server stderr (tail)\n" + "\n".join(shared.stderr.splitlines()[-20:]))
    return failures


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv) else 0)
