"""The geo tables and services on the timescale flavour (the TimescaleDB build served by PGlite): the same calls as on
PostgreSQL — import, set in force, assignment, crosswalk, a summary read from the continuous aggregates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from geo import service, store, summary
from geo.demo import ensure_demo
from ops_center.migrate import migrate
from ops_center.readings import ReadingsStore
from ops_center.settings import Settings
from tests.support.pglite import connect_timescale, start_pglite

ICT = timezone(timedelta(hours=7))


@pytest.mark.timescale
def test_geo_on_timescale(settings: Settings) -> None:
    with start_pglite() as server, connect_timescale(server.dsn) as conn:
        assert migrate(conn)[0] == "timescale"
        res = ensure_demo(conn, settings.data_dir, say=lambda _: None)
        assert res.imported == ["camau-2019/ward", "camau-2019/district", "camau-2025/ward"]
        assert {s.name: s.levels for s in store.list_sets(conn)} == {
            "camau-2019": {"ward": 101, "district": 9}, "camau-2025": {"ward": 64}}
        assert ensure_demo(conn, settings.data_dir, say=lambda _: None).imported == []
        assert service.set_in_force(conn, datetime(2021, 1, 1, tzinfo=UTC)) == "camau-2019"
        assert service.set_in_force(conn) == "camau-2025"
        unit = store.load_units(conn, "camau-2019", "ward")[5]
        ref = service.assign_ward(conn, unit.rep_lon, unit.rep_lat, datetime(2021, 1, 1, tzinfo=UTC))
        assert (ref.set_name, ref.code, ref.status) == ("camau-2019", unit.code, "inside")
        cw = service.get_crosswalk(conn, "camau-2019", "camau-2025")
        assert cw is not None and len(cw.coverage) == 101

        conn.execute("INSERT INTO devices (id, kind, name, lon, lat, last_seen) "
                     "VALUES ('ts-geo', 'salinity', 'Trạm đo mặn', %s, %s, now())", (unit.rep_lon, unit.rep_lat))
        assert service.assign_devices(conn) == 1
        readings = ReadingsStore.for_connection(conn)
        start = datetime(2025, 8, 3, 22, 0, tzinfo=ICT)
        with conn.transaction():
            readings.write_batch(conn, [(start.timestamp() + i * 3000, "ts-geo", "salinity_ppt", v)
                                        for i, v in enumerate([3.5, 11.25, 7.0])])
        readings.refresh(conn, None, None)
        q = summary.resolve(conn, set_name="camau-2019", level="district",
                            start=datetime(2025, 8, 3, tzinfo=ICT), end=datetime(2025, 8, 5, tzinfo=ICT))
        s = summary.build(conn, q, readings)
        body = json.loads(summary.geojson_bytes(s))
        props = {f["properties"]["code"]: f["properties"] for f in body["features"]}
        p = props[unit.parent_code]
        assert p["salinity_ppt_max"] == 11.25 and p["devices"]["total"] == 1 and p["name"]
