"""The TimescaleDB test server (PGlite over the wire) runs the timescale flavour's SQL.

Starts its own server through ``start_pglite`` (no conftest fixture) and checks a
hypertable, a continuous aggregate, its refresh and policy job, against numbers
computed here.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from tests.support.pglite import PgliteServer, connect_timescale, start_pglite

pytestmark = pytest.mark.timescale

T0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
DEVICES = ("tide-01", "sal-02", "rain-03")


def _rows() -> list[tuple[dt.datetime, str, str, float]]:
    # 3 devices x 6 hours x one reading every 10 minutes = 108 rows
    rows = []
    for d, device in enumerate(DEVICES):
        for i in range(6 * 6):
            rows.append((T0 + dt.timedelta(minutes=10 * i), device, "salinity", float(d * 100 + i)))
    return rows


@pytest.fixture(scope="module")
def server() -> PgliteServer:
    with start_pglite() as srv:
        yield srv


def test_hypertable_and_continuous_aggregate(server: PgliteServer) -> None:
    rows = _rows()
    with connect_timescale(server.dsn) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        assert conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone() == (1,)
        conn.execute(
            "CREATE TABLE readings (time timestamptz NOT NULL, device_id text NOT NULL, "
            "metric text NOT NULL, value double precision)"
        )
        conn.execute("SELECT create_hypertable('readings', by_range('time', interval '1 hour'))")
        conn.execute("CREATE UNIQUE INDEX readings_uniq ON readings (time, device_id, metric)")

        placeholders = ",".join(["(%s, %s, %s, %s)"] * len(rows))
        flat = [v for row in rows for v in row]
        sql = f"INSERT INTO readings VALUES {placeholders} ON CONFLICT DO NOTHING"
        assert conn.execute(sql, flat).rowcount == len(rows)
        assert conn.execute(sql, flat).rowcount == 0  # redelivery is harmless

        chunks = conn.execute("SELECT count(*) FROM show_chunks('readings')").fetchone()[0]
        assert chunks == 6

        conn.execute(
            """CREATE MATERIALIZED VIEW readings_1h WITH (timescaledb.continuous) AS
            SELECT time_bucket('1 hour', time) AS bucket, device_id, metric,
                   count(*) AS n, avg(value) AS avg, min(value) AS min, max(value) AS max,
                   last(value, time) AS last
            FROM readings GROUP BY bucket, device_id, metric WITH NO DATA"""
        )
        assert conn.execute("SELECT count(*) FROM readings_1h").fetchone() == (0,)

        # refresh_continuous_aggregate refuses a transaction block: autocommit it is
        with pytest.raises(psycopg.errors.ActiveSqlTransaction), conn.transaction():
            conn.execute("CALL refresh_continuous_aggregate('readings_1h', NULL, NULL)")
        conn.execute("CALL refresh_continuous_aggregate('readings_1h', NULL, NULL)")

        got = conn.execute(
            "SELECT bucket, device_id, n, avg, min, max, last FROM readings_1h ORDER BY device_id, bucket"
        ).fetchall()

    expected = []
    for device in sorted(DEVICES):
        for hour in range(6):
            bucket = T0 + dt.timedelta(hours=hour)
            values = [
                r[3] for r in rows if r[1] == device and bucket <= r[0] < bucket + dt.timedelta(hours=1)
            ]
            expected.append((bucket, device, 6, sum(values) / 6, min(values), max(values), values[-1]))
    assert [(b.astimezone(dt.UTC), *rest) for b, *rest in got] == expected


def test_policy_runs_only_by_run_job(server: PgliteServer) -> None:
    late = (T0 + dt.timedelta(hours=7, minutes=5), "tide-01", "salinity", 7.5)
    with connect_timescale(server.dsn) as conn:
        job = conn.execute(
            "SELECT add_continuous_aggregate_policy('readings_1h', start_offset => NULL, "
            "end_offset => NULL, schedule_interval => interval '1 hour')"
        ).fetchone()[0]
        jobs = conn.execute(
            "SELECT proc_name, hypertable_name FROM timescaledb_information.jobs WHERE job_id = %s", (job,)
        ).fetchall()
        assert jobs == [("policy_refresh_continuous_aggregate", "readings_1h")]

        conn.execute("INSERT INTO readings VALUES (%s, %s, %s, %s)", late)
        bucket = T0 + dt.timedelta(hours=7)
        query = "SELECT n, last FROM readings_1h WHERE bucket = %s AND device_id = 'tide-01'"
        assert conn.execute(query, (bucket,)).fetchall() == []  # no background worker ran it
        conn.execute("CALL run_job(%s)", (job,))
        assert conn.execute(query, (bucket,)).fetchall() == [(1, 7.5)]


def test_next_client_gets_a_clean_session(server: PgliteServer) -> None:
    conn = connect_timescale(server.dsn, autocommit=False)
    conn.execute("SET TIME ZONE 'Asia/Ho_Chi_Minh'")
    conn.execute("CREATE TEMP TABLE scratch (x int)")
    conn.execute("INSERT INTO readings VALUES (%s, 'x', 'y', 1)", (T0,))
    conn.close()  # leave in the middle of the transaction: the insert must not survive
    with connect_timescale(server.dsn) as conn:
        assert conn.execute("SHOW search_path").fetchone() == ('"$user", public',)
        assert conn.execute("SELECT to_regclass('pg_temp.scratch')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM readings WHERE device_id = 'x'").fetchone() == (0,)
        assert conn.execute("SHOW timezone").fetchone()[0] != "Asia/Ho_Chi_Minh"
