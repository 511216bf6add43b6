"""``ReadingsStore.window_aggregates`` (the rollup query of map summaries) against values computed here in Python
from the input, for windows made of whole days, of hours only, and of both."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from ops_center.db import Conn
from ops_center.readings import ReadingsStore
from tests.geo.dbsupport import uid

ICT = timezone(timedelta(hours=7))
START = datetime(2025, 9, 1, 0, 0, tzinfo=ICT)


@pytest.fixture(scope="module")
def data(settings) -> tuple[list[str], list[tuple[float, str, str, float]]]:  # type: ignore[no-untyped-def]
    from ops_center.db import connect

    rng = random.Random(7)
    devices = [uid("wa") for _ in range(3)]
    rows = []
    for d in devices:
        for metric in ("salinity_ppt", "rain_mm"):
            for k in range(0, 3 * 24 * 60, 17):  # every 17 minutes for three days
                rows.append((START.timestamp() + k * 60 + 5, d, metric, round(rng.uniform(0, 30), 2)))
    with connect(settings.database_url, autocommit=True) as conn:
        ReadingsStore.for_connection(conn).write_batch(conn, rows)
    return devices, rows


@pytest.mark.parametrize(("a_h", "b_h"), [(0, 72), (5, 29), (22, 50), (3, 9), (24, 48), (23, 25), (0, 1)])
def test_window_aggregates_match_the_readings(db: Conn, data, a_h: int, b_h: int) -> None:  # type: ignore[no-untyped-def]
    devices, rows = data
    a, b = START + timedelta(hours=a_h), START + timedelta(hours=b_h)
    got = ReadingsStore.for_connection(db).window_aggregates(db, ["salinity_ppt", "rain_mm"], a, b, devices)
    for d in devices:
        for metric in ("salinity_ppt", "rain_mm"):
            vals = [v for t, dd, m, v in rows if dd == d and m == metric and a.timestamp() <= t < b.timestamp()]
            g = got.get((d, metric))
            if not vals:
                assert g is None
                continue
            assert g is not None and g.count == len(vals)
            assert (g.min, g.max) == (min(vals), max(vals))
            assert g.sum == pytest.approx(sum(vals))


def test_window_aggregates_refuse_bad_windows(db: Conn, data) -> None:  # type: ignore[no-untyped-def]
    devices, _ = data
    store = ReadingsStore.for_connection(db)
    with pytest.raises(ValueError, match=r"start: .* is not a whole hour"):
        store.window_aggregates(db, ["rain_mm"], START + timedelta(minutes=5), START + timedelta(hours=2))
    with pytest.raises(ValueError, match=r"end: .* has no timezone"):
        store.window_aggregates(db, ["rain_mm"], START, datetime(2025, 9, 2))
    assert store.window_aggregates(db, ["rain_mm"], START + timedelta(hours=2), START) == {}
    assert store.window_aggregates(db, [], START, START + timedelta(hours=2)) == {}
    only = store.window_aggregates(db, ["rain_mm"], START, START + timedelta(hours=2), devices[:1])
    assert set(only) == {(devices[0], "rain_mm")}
