"""The readings store gives the same answers on both storage flavours: the same cases run against PostgreSQL 15
(``postgres``: partitions, app-maintained rollups) and against TimescaleDB served by the PGlite build
(``timescale``: hypertable, continuous aggregates). Expected values are computed here in Python from the input."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ops_center.db import Conn, connect
from ops_center.migrate import migrate
from ops_center.readings import ORIGIN, ReadingsStore
from tests.support.pglite import connect_timescale, start_pglite
from tests.support.services import database

T0 = datetime(2025, 3, 10, 0, 0, tzinfo=UTC) - timedelta(hours=7)  # 2025-03-10 00:00 in Cà Mau
DEVICES = ["tram-1", "tram-2", "trạm-ba"]


@pytest.fixture(scope="module", params=["postgres", "timescale"])
def flavour_conn(request: pytest.FixtureRequest) -> Iterator[tuple[str, Conn]]:
    if request.param == "postgres":
        with database("ops_parity") as url, connect(url, autocommit=True) as conn:
            migrate(conn, "postgres")
            yield "postgres", conn
    else:
        with start_pglite() as server, connect_timescale(server.dsn) as conn:
            migrate(conn, "timescale")
            yield "timescale", conn


def _rows(n: int, seed: int, start: datetime = T0, span_h: float = 50.0) -> list[tuple[float, str, str, float]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        t = start.timestamp() + round(rnd.uniform(0, span_h * 3600), 3)
        out.append((t, rnd.choice(DEVICES), "salinity_ppt", round(rnd.uniform(0, 40), 3)))
    return out


def _expected(rows, interval: timedelta, agg: str, start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    groups: dict[tuple[datetime, str], list[tuple[float, float]]] = defaultdict(list)
    seen = set()
    for t, d, _m, v in rows:
        if (t, d) in seen:
            continue
        seen.add((t, d))
        ts = datetime.fromtimestamp(t, UTC)
        if not (start <= ts < end):
            continue
        k = math.floor((ts - ORIGIN) / interval)
        groups[(ORIGIN + k * interval, d)].append((t, v))
    out = {}
    for key, vals in groups.items():
        vs = [v for _, v in vals]
        out[key] = {"count": float(len(vs)), "min": min(vs), "max": max(vs), "sum": sum(vs),
                    "avg": sum(vs) / len(vs), "last": max(vals)[1]}[agg]
    return out


def _check(store: ReadingsStore, conn: Conn, rows, interval: timedelta, start: datetime,  # type: ignore[no-untyped-def]
           end: datetime) -> None:
    for agg in ("count", "min", "max", "sum", "avg", "last"):
        got = {(b.bucket, b.device_id): b.value for b in
               store.bucketed(conn, "salinity_ppt", start, end, interval, agg)}  # type: ignore[arg-type]
        want = _expected(rows, interval, agg, start, end)
        assert set(got) == set(want), (agg, interval)
        for k, v in want.items():
            assert got[k] == pytest.approx(v, rel=1e-9, abs=1e-9), (agg, interval, k)


def test_writes_are_idempotent(flavour_conn) -> None:  # type: ignore[no-untyped-def]
    flavour, conn = flavour_conn
    store = ReadingsStore.for_connection(conn)
    assert store.flavour == flavour
    rows = _rows(2000, seed=1)
    rows += rows[:50]  # duplicates inside one batch
    with conn.transaction():
        first = store.write_batch(conn, rows)
    assert first.inserted == len({(t, d) for t, d, _, _ in rows})
    with conn.transaction():
        again = store.write_batch(conn, rows[:500])
    assert again.inserted == 0 and again.duplicates == 500
    total = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
    assert total == first.inserted


def test_range_and_latest(flavour_conn) -> None:  # type: ignore[no-untyped-def]
    _, conn = flavour_conn
    store = ReadingsStore.for_connection(conn)
    rows = _rows(2000, seed=1)
    got = store.range(conn, "trạm-ba", "salinity_ppt", T0, T0 + timedelta(hours=60))
    want = sorted({(t, v) for t, d, _, v in rows if d == "trạm-ba"})
    assert [(round(r.time.timestamp(), 3), r.value) for r in got] == [(round(t, 3), v) for t, v in want]
    latest = {r.device_id: r for r in store.latest(conn, metric="salinity_ppt")}
    for dev in DEVICES:
        t, v = max((t, v) for t, d, _, v in rows if d == dev)
        assert latest[dev].value == v and round(latest[dev].time.timestamp(), 3) == round(t, 3)


@pytest.mark.parametrize("interval", [timedelta(hours=1), timedelta(hours=6), timedelta(days=1),
                                      timedelta(minutes=15)], ids=["1h", "6h", "1d", "15m"])
def test_buckets_match_python(flavour_conn, interval: timedelta) -> None:  # type: ignore[no-untyped-def]
    _, conn = flavour_conn
    store = ReadingsStore.for_connection(conn)
    store.refresh(conn)
    rows = _rows(2000, seed=1)
    _check(store, conn, rows, interval, T0, T0 + timedelta(days=3))


def test_late_and_out_of_order_data_updates_rollups(flavour_conn) -> None:  # type: ignore[no-untyped-def]
    _, conn = flavour_conn
    store = ReadingsStore.for_connection(conn)
    late = _rows(300, seed=2, span_h=30)
    with conn.transaction():
        store.write_batch(conn, list(reversed(late)))
    store.refresh(conn)
    rows = _rows(2000, seed=1) + late
    _check(store, conn, rows, timedelta(days=1), T0, T0 + timedelta(days=3))
    _check(store, conn, rows, timedelta(hours=1), T0, T0 + timedelta(days=3))


def test_days_are_local_days(flavour_conn) -> None:  # type: ignore[no-untyped-def]
    _, conn = flavour_conn
    store = ReadingsStore.for_connection(conn)
    day = datetime(2025, 5, 1, 17, 0, tzinfo=UTC)  # 2025-05-02 00:00 local
    rows = [((day - timedelta(minutes=30)).timestamp(), "ca-mau-1", "rain_mm", 3.0),
            ((day + timedelta(minutes=30)).timestamp(), "ca-mau-1", "rain_mm", 5.0)]
    with conn.transaction():
        store.write_batch(conn, rows)
    store.refresh(conn)
    got = store.bucketed(conn, "rain_mm", day - timedelta(days=1), day + timedelta(days=1), timedelta(days=1), "sum")
    assert [(b.bucket, b.value) for b in got] == [(day - timedelta(days=1), 3.0), (day, 5.0)]


@pytest.mark.parametrize("interval", [timedelta(hours=1), timedelta(days=1), timedelta(minutes=5)],
                         ids=["1h", "1d", "5m"])
def test_band_matches_python(flavour_conn, interval: timedelta) -> None:  # type: ignore[no-untyped-def]
    """``band``: count, min, max and mean per bucket over a set of devices (the chart of a device or a ward)."""
    _, conn = flavour_conn
    store = ReadingsStore.for_connection(conn)
    store.refresh(conn)
    rows = _rows(2000, seed=1) + _rows(300, seed=2, span_h=30)  # what the tests before wrote (first write wins)
    devices = ["tram-1", "trạm-ba"]
    start, end = T0, T0 + timedelta(days=3)
    groups: dict[datetime, list[float]] = defaultdict(list)
    stored: dict[tuple[float, str], float] = {}
    for t, d, _m, v in rows:
        stored.setdefault((t, d), v)
    for (t, d), v in stored.items():
        if d not in devices:
            continue
        ts = datetime.fromtimestamp(t, UTC)
        if start <= ts < end:
            groups[ORIGIN + math.floor((ts - ORIGIN) / interval) * interval].append(v)
    got = store.band(conn, devices, ["salinity_ppt", "rain_mm"], start, end, interval)
    assert [b.bucket for b in got] == sorted(groups)
    for b in got:
        vs = groups[b.bucket]
        assert b.metric == "salinity_ppt" and b.count == len(vs)
        assert (b.min, b.max) == (min(vs), max(vs))
        assert b.mean == pytest.approx(sum(vs) / len(vs), rel=1e-9)
    assert store.band(conn, [], ["salinity_ppt"], start, end, interval) == []
def test_a_batch_mixing_stored_and_new_readings_adds_only_the_new_ones(flavour_conn) -> None:  # type: ignore[no-untyped-def]
    """A redelivery that arrives together with fresh readings: the fresh ones are stored and counted in the
    rollups and latest values exactly once; the stored ones change nothing (postgres: the plain insert meets the
    stored rows and the batch is written again with ON CONFLICT DO NOTHING)."""
    _, conn = flavour_conn
    store = ReadingsStore.for_connection(conn)
    stored = _rows(2000, seed=1) + _rows(300, seed=2, span_h=30)
    fresh = _rows(400, seed=3, start=T0 + timedelta(hours=20), span_h=40)
    with conn.transaction():
        result = store.write_batch(conn, stored[::7] + fresh + stored[1::11])
    new = len({(t, d) for t, d, _, _ in fresh} - {(t, d) for t, d, _, _ in stored})
    assert result.inserted == new
    store.refresh(conn)
    rows = stored + fresh
    _check(store, conn, rows, timedelta(hours=1), T0, T0 + timedelta(days=3))
    _check(store, conn, rows, timedelta(days=1), T0, T0 + timedelta(days=3))
    latest = {r.device_id: r for r in store.latest(conn, metric="salinity_ppt")}
    for dev in DEVICES:
        t, v = max((t, v) for t, d, _, v in rows if d == dev)
        assert latest[dev].value == v and round(latest[dev].time.timestamp(), 3) == round(t, 3)
