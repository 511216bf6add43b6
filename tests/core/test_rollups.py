"""ops_center.rollups: the hourly aggregates computed in Python put each reading in the same bucket as the server's
``date_bin`` over the stored time, and the times it copies are the ones ``to_timestamp`` stores — checked against
PostgreSQL itself at hour edges, sub-microsecond fractions and times before the origin."""

from __future__ import annotations

from datetime import timedelta

from ops_center.db import Conn
from ops_center.readings import ORIGIN
from ops_center.readings_sql import ORIGIN_SQL
from ops_center.rollups import prepare


def _edge_times() -> list[float]:
    edge = (ORIGIN + timedelta(days=9131, hours=5)).timestamp()  # an hour boundary in 2025
    out = [edge + d for d in (-1.0, -1e-6, -6e-7, -5e-7, -4e-7, -1e-7, 0.0, 1e-7, 4e-7, 5e-7, 6e-7, 1e-6, 0.25)]
    out += [edge + 0.0000005 + k * 1e-6 for k in range(-3, 4)]  # halves: rounded to even microseconds
    out += [ORIGIN.timestamp() - 3600.5, ORIGIN.timestamp() - 1e-7, 946684800.0 - 0.5, 1.5e9 + 0.1234565]
    return out


def test_stored_times_and_hour_buckets_are_the_servers(db: Conn) -> None:
    times = _edge_times()
    rows = [(t, f"d{i}", "rain_mm", float(i)) for i, t in enumerate(times)]
    stored, hourly = prepare(rows, ORIGIN)
    server = db.execute(
        f"SELECT (extract(epoch FROM to_timestamp(t) - '2000-01-01 00:00:00+00'::timestamptz) * 1000000)::bigint, "
        f"(extract(epoch FROM date_bin('1 hour', to_timestamp(t), {ORIGIN_SQL}) - {ORIGIN_SQL}) / 3600)::bigint "
        "FROM unnest(%s::float8[]) WITH ORDINALITY AS u(t, n) ORDER BY n", (times,)).fetchall()
    assert [s[0] for s in stored] == [r[0] for r in server]
    by_device = {d: h for h, d in zip(hourly.hours, hourly.devices, strict=True)}
    assert [by_device[f"d{i}"] for i in range(len(times))] == [r[1] for r in server]


def test_the_fast_path_stores_what_to_timestamp_would(db: Conn) -> None:
    """The batch is copied with its times as int8 microseconds (timestamptz's binary form)."""
    import secrets

    from ops_center.readings import ReadingsStore

    dev = f"rollup-{secrets.token_hex(3)}"
    times = [t for t in _edge_times() if t > 1e9]
    store = ReadingsStore.for_connection(db)
    with db.transaction():
        got = store.write_batch(db, [(t, f"{dev}-{i}", "rain_mm", 1.0) for i, t in enumerate(times)])
    assert got.inserted == len(times)
    same = db.execute(
        "SELECT count(*) FROM readings r JOIN unnest(%s::float8[]) WITH ORDINALITY u(t, n) "
        "ON r.device_id = %s || '-' || (u.n - 1) AND r.time = to_timestamp(u.t)", (times, dev)).fetchone()
    assert same == (len(times),)


def test_aggregates_of_a_device_hour() -> None:
    t0 = (ORIGIN + timedelta(days=100, hours=3)).timestamp()
    rows = [(t0 + 10, "a", "m", 5.0), (t0 + 3599.9, "a", "m", -2.0), (t0 + 5, "a", "m", 9.0),
            (t0 + 3600, "a", "m", 1.0), (t0 + 20, "b", "m", 7.0)]
    _stored, h = prepare(rows, ORIGIN)
    got = {(d, hr): (n, lo, hi, s, lt, lv) for hr, d, n, lo, hi, s, lt, lv in
           zip(h.hours, h.devices, h.counts, h.mins, h.maxs, h.sums, h.last_times, h.lasts, strict=True)}
    hour = 100 * 24 + 3
    assert got[("a", hour)] == (3, -2.0, 9.0, 12.0, t0 + 3599.9, -2.0)
    assert got[("a", hour + 1)] == (1, 1.0, 1.0, 1.0, t0 + 3600, 1.0)
    assert got[("b", hour)] == (1, 7.0, 7.0, 7.0, t0 + 20, 7.0)
    assert set(h.metrics) == {"m"}


def test_a_reading_stored_as_midnight_goes_to_the_next_days_partition(db: Conn) -> None:
    """A time a fraction of a microsecond before local midnight is stored as midnight: the partition made for it
    is the next day's (the day of the stored time, not of the float)."""
    import math
    import secrets

    from ops_center.readings import ReadingsStore
    from ops_center.rollups import pg_micros

    midnight = ORIGIN + timedelta(days=11_700)  # 2032-01-15 00:00 local, no partition yet
    t = math.nextafter(midnight.timestamp(), 0.0)
    assert t < midnight.timestamp() and pg_micros(t) == pg_micros(midnight.timestamp())
    dev = f"midnight-{secrets.token_hex(3)}"
    store = ReadingsStore.for_connection(db)
    with db.transaction():
        assert store.write_batch(db, [(t, dev, "rain_mm", 2.0)]).inserted == 1
    row = db.execute("SELECT tableoid::regclass::text, time = %s FROM readings WHERE device_id = %s",
                     (midnight, dev)).fetchone()
    assert row == ("readings_p20320115", True)
