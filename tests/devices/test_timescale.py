"""The registry and the dead-letter replay on the timescale flavour (the TimescaleDB build served by PGlite), the same
calls as on PostgreSQL."""

from __future__ import annotations

import time

import orjson

from ingest.catalogue import default_catalogue
from ingest.replay import replay_dead_letters
from ops_center.devices import credentials, dead_letters, service
from ops_center.devices.models import Conflict, DeviceFilter
from ops_center.migrate import migrate
from ops_center.readings import ReadingsStore
from ops_center.settings import Settings
from tests.support.pglite import connect_timescale, start_pglite


def test_registry_and_replay_on_timescale(settings: Settings) -> None:
    with start_pglite() as server, connect_timescale(server.dsn) as conn:
        assert migrate(conn)[0] == "timescale"
        gw = service.create_gateway(conn, "ts-gw", name="Cổng Năm Căn")
        device = service.create_device(conn, "ts-sal", kind="salinity", name="Trạm đo mặn Cà Mau", gateway_id=gw.id,
                                       lon=105.15, lat=9.18)
        creds = credentials.issue(conn, "device", device.id, settings)
        assert credentials.get_account(conn, device.id).publish == creds.publish  # type: ignore[union-attr]
        try:
            service.create_device(conn, gw.id, kind="rain", name="x")
            raise AssertionError("a device took a gateway's id")
        except Conflict as exc:
            assert exc.field == "id" and "gateway" in exc.message
        assert [d.id for d in service.list_devices(conn, DeviceFilter(q="ca mau")).items] == ["ts-sal"]
        assert set(service.load_registry(conn)) == {"ts-gw", "ts-sal"}
        assert service.record_seen(conn, {"ts-sal": time.time(), "ts-gw": time.time()}) == 2
        assert service.record_status(conn, "ts-sal", "online", time.time()) is True

        service.set_device_enabled(conn, device.id, False)
        payload = orjson.dumps({"ts": time.time() - 30, "metrics": {"salinity_ppt": 3.25}})
        conn.execute("INSERT INTO dead_letters (topic, payload, payload_size, device_id, reason, detail, field) "
                     "VALUES (%s, %s, %s, %s, 'disabled_device', 'topic: disabled', 'topic')",
                     (f"ops/v1/devices/{device.id}/telemetry", payload, len(payload), device.id))
        service.set_device_enabled(conn, device.id, True)
        store = ReadingsStore.for_connection(conn)
        with conn.transaction():
            summary = replay_dead_letters(conn, store, catalogue=default_catalogue(), max_payload=65536,
                                          max_age_s=86400, filter=dead_letters.DeadLetterFilter(device_id=device.id))
        assert (summary.ok, summary.stored, summary.remaining) == (1, 1, 0)
        assert [(r.device_id, r.metric, r.value) for r in store.latest(conn, [device.id])] == \
            [("ts-sal", "salinity_ppt", 3.25)]
